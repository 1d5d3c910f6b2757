package oauthclient

import (
	"context"
	"crypto"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/cryptosigner"
	"golang.org/x/oauth2"
	"golang.org/x/sync/singleflight"
)

// Defaults for the zero values of Config.
const (
	// DefaultAssertionLifetime is how long a client assertion is valid:
	// long enough for one token request, short enough that a copy is
	// soon worthless (RFC 7523 §3 asks for an exp; the authorization
	// server also remembers its jti).
	DefaultAssertionLifetime = time.Minute
	DefaultTimeout           = 10 * time.Second
)

// renewBefore is how long before its expiry a cached token is replaced,
// so that a request does not leave with a token that expires on the way.
const renewBefore = 10 * time.Second

// ClientAssertionType is RFC 7523 §2.2's client_assertion_type.
const ClientAssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// Config configures a Client. Set exactly one of Key and ClientSecret.
type Config struct {
	// TokenURL is oauthd's token endpoint.
	TokenURL string
	// ClientID is the daemon's client_id.
	ClientID string

	// Key authenticates the daemon with private_key_jwt: it signs a
	// short-lived JWT per token request. Its public key is registered
	// with the daemon's application. See NewDPoP for the key types.
	Key crypto.Signer
	// KeyID is Key's kid as registered, sent in the assertion's header
	// so the server need not try each of the application's keys.
	KeyID string
	// Audience is the assertion's aud. Default TokenURL, which RFC 7523
	// §3 names; some servers want their issuer.
	Audience string
	// AssertionLifetime is exp - iat of each assertion. Default
	// DefaultAssertionLifetime.
	AssertionLifetime time.Duration
	// ClientSecret authenticates the daemon with client_secret_basic
	// instead of Key.
	ClientSecret string

	// Scopes are asked for; none asks for all the application's.
	Scopes []string
	// DPoPKey, when set, asks for DPoP-bound tokens (RFC 9449) bound to
	// it, and Transport proves possession of it on every request. Keep
	// it in memory, for the daemon's lifetime: a new key per process is
	// fine, since tokens are renewed anyway. It may be Key, though a key
	// of its own keeps the two roles apart.
	DPoPKey crypto.Signer

	// HTTPClient sends the token requests. Default: a client with
	// Timeout.
	HTTPClient *http.Client
	// Timeout bounds one token request (nonce retry included). Default
	// DefaultTimeout.
	Timeout time.Duration
	// Now is the clock of assertions, proofs and token expiry. Default
	// time.Now.
	Now func() time.Time
}

// Client gets and caches tokens for one daemon. It is safe for
// concurrent use; make one per process and share it.
type Client struct {
	tokenURL string
	clientID string
	basic    string // the Authorization header of client_secret_basic
	asserter jose.Signer
	audience string
	lifetime time.Duration
	scope    string
	dpop     *DPoP
	http     *http.Client
	timeout  time.Duration
	now      func() time.Time

	token      atomic.Pointer[oauth2.Token]
	flight     singleflight.Group
	tokenNonce atomic.Pointer[string] // the token endpoint's latest DPoP-Nonce
	nonces     nonceCache             // resource servers' latest DPoP-Nonce
}

// New checks cfg and returns a Client. It makes no request.
func New(cfg Config) (*Client, error) {
	u, err := url.Parse(cfg.TokenURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("oauthclient: config: TokenURL %q must be an absolute http or https URL", cfg.TokenURL)
	}
	if cfg.ClientID == "" {
		return nil, errors.New("oauthclient: config: ClientID is required")
	}
	if cfg.AssertionLifetime < 0 || cfg.Timeout < 0 {
		return nil, errors.New("oauthclient: config: AssertionLifetime and Timeout must not be negative")
	}
	c := &Client{
		tokenURL: cfg.TokenURL,
		clientID: cfg.ClientID,
		audience: cfg.Audience,
		lifetime: orDefault(cfg.AssertionLifetime, DefaultAssertionLifetime),
		scope:    strings.Join(cfg.Scopes, " "),
		http:     cfg.HTTPClient,
		timeout:  orDefault(cfg.Timeout, DefaultTimeout),
		now:      cfg.Now,
	}
	if c.audience == "" {
		c.audience = cfg.TokenURL
	}
	if c.now == nil {
		c.now = time.Now
	}
	if c.http == nil {
		c.http = &http.Client{Timeout: c.timeout}
	}
	switch {
	case (cfg.Key == nil) == (cfg.ClientSecret == ""):
		return nil, errors.New("oauthclient: config: set Key (private_key_jwt) or ClientSecret, not both")
	case cfg.Key != nil:
		alg, err := algorithm(cfg.Key)
		if err != nil {
			return nil, fmt.Errorf("oauthclient: config: Key: %w", err)
		}
		opts := &jose.SignerOptions{}
		if cfg.KeyID != "" {
			opts = opts.WithHeader(jose.HeaderKey("kid"), cfg.KeyID)
		}
		if c.asserter, err = jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: cryptosigner.Opaque(cfg.Key)}, opts); err != nil {
			return nil, fmt.Errorf("oauthclient: config: Key: %w", err)
		}
	default:
		// RFC 6749 §2.3.1: each half form-encoded, then Basic.
		c.basic = "Basic " + base64.StdEncoding.EncodeToString(
			[]byte(url.QueryEscape(cfg.ClientID)+":"+url.QueryEscape(cfg.ClientSecret)))
	}
	if cfg.DPoPKey != nil {
		if c.dpop, err = NewDPoP(cfg.DPoPKey); err != nil {
			return nil, err
		}
		c.dpop.now = c.now
	}
	return c, nil
}

func orDefault(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

// DPoP returns the Client's proof maker, nil without DPoPKey.
func (c *Client) DPoP() *DPoP { return c.dpop }

// Token returns a valid token: the cached one, or a new one from the
// token endpoint when it is about to expire. Concurrent callers share one
// request, which ctx's end does not cancel for the others; a failure is
// an *oauth2.RetrieveError when the server answered one.
func (c *Client) Token(ctx context.Context) (*oauth2.Token, error) {
	if t := c.token.Load(); t != nil && c.fresh(t) {
		return t, nil
	}
	ch := c.flight.DoChan("", func() (any, error) {
		if t := c.token.Load(); t != nil && c.fresh(t) {
			return t, nil
		}
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.timeout)
		defer cancel()
		t, err := c.fetch(ctx)
		if err != nil {
			return nil, err
		}
		c.token.Store(t)
		return t, nil
	})
	select {
	case res := <-ch:
		if res.Err != nil {
			return nil, res.Err
		}
		return res.Val.(*oauth2.Token), nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (c *Client) fresh(t *oauth2.Token) bool {
	return t.Expiry.IsZero() || c.now().Add(renewBefore).Before(t.Expiry)
}

// Forget drops the cached token, so that the next request gets a new one
// (after a resource server refused it as revoked, say).
func (c *Client) Forget() { c.token.Store(nil) }

// TokenSource is an oauth2.TokenSource of c's tokens; ctx bounds the
// token requests it makes, as golang.org/x/oauth2's sources do.
func (c *Client) TokenSource(ctx context.Context) oauth2.TokenSource {
	return tokenSource{c, ctx}
}

type tokenSource struct {
	c   *Client
	ctx context.Context
}

func (s tokenSource) Token() (*oauth2.Token, error) { return s.c.Token(s.ctx) }

// fetch makes the token request (RFC 6749 §4.4.2), retried once when the
// server asks for a DPoP nonce (RFC 9449 §8).
func (c *Client) fetch(ctx context.Context) (*oauth2.Token, error) {
	for attempt := 0; ; attempt++ {
		var nonce string
		if p := c.tokenNonce.Load(); p != nil {
			nonce = *p
		}
		res, body, err := c.post(ctx, nonce)
		if err != nil {
			return nil, err
		}
		if n := res.Header.Get("DPoP-Nonce"); n != "" && c.dpop != nil {
			c.tokenNonce.Store(&n)
		}
		if res.StatusCode == http.StatusOK {
			return c.parseToken(res, body)
		}
		rerr := retrieveError(res, body)
		if attempt == 0 && c.dpop != nil && rerr.ErrorCode == "use_dpop_nonce" && res.Header.Get("DPoP-Nonce") != "" {
			continue
		}
		return nil, rerr
	}
}

// post sends one token request and reads its answer.
func (c *Client) post(ctx context.Context, nonce string) (*http.Response, []byte, error) {
	form := url.Values{"grant_type": {"client_credentials"}}
	if c.scope != "" {
		form.Set("scope", c.scope)
	}
	if c.asserter != nil {
		a, err := c.assertion()
		if err != nil {
			return nil, nil, err
		}
		form.Set("client_assertion_type", ClientAssertionType)
		form.Set("client_assertion", a)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.tokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, nil, fmt.Errorf("oauthclient: token request: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	if c.basic != "" {
		req.Header.Set("Authorization", c.basic)
	}
	if c.dpop != nil {
		proof, err := c.dpop.Proof(http.MethodPost, c.tokenURL, "", nonce)
		if err != nil {
			return nil, nil, err
		}
		req.Header.Set("DPoP", proof)
	}
	res, err := c.http.Do(req)
	if err != nil {
		return nil, nil, fmt.Errorf("oauthclient: token request: %w", err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if err != nil {
		return nil, nil, fmt.Errorf("oauthclient: token request: reading the answer: %w", err)
	}
	return res, body, nil
}

// assertion is a private_key_jwt client assertion (RFC 7523 §3).
func (c *Client) assertion() (string, error) {
	now := c.now()
	return sign(c.asserter, map[string]any{
		"iss": c.clientID,
		"sub": c.clientID,
		"aud": c.audience,
		"jti": randomID(),
		"iat": now.Unix(),
		"exp": now.Add(c.lifetime).Unix(),
	})
}

// sign is the compact JWS of claims.
func sign(s jose.Signer, claims any) (string, error) {
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	obj, err := s.Sign(payload)
	if err != nil {
		return "", fmt.Errorf("oauthclient: signing: %w", err)
	}
	return obj.CompactSerialize()
}

// parseToken reads an RFC 6749 §5.1 answer.
func (c *Client) parseToken(res *http.Response, body []byte) (*oauth2.Token, error) {
	var tr struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
		ExpiresIn   int64  `json:"expires_in"`
		Scope       string `json:"scope"`
	}
	if err := json.Unmarshal(body, &tr); err != nil || tr.AccessToken == "" {
		return nil, &oauth2.RetrieveError{Response: res, Body: body,
			ErrorDescription: "the token endpoint answered 200 without an RFC 6749 §5.1 token"}
	}
	switch {
	case strings.EqualFold(tr.TokenType, "Bearer"):
		tr.TokenType = "Bearer"
	case strings.EqualFold(tr.TokenType, "DPoP") && c.dpop != nil:
		tr.TokenType = "DPoP"
	default:
		// A DPoP token without a DPoP key, or a type this package cannot
		// present (RFC 6749 §7.1: do not use it).
		return nil, &oauth2.RetrieveError{Response: res, Body: body,
			ErrorDescription: fmt.Sprintf("the token endpoint answered token_type %q, which this client cannot present", tr.TokenType)}
	}
	t := &oauth2.Token{AccessToken: tr.AccessToken, TokenType: tr.TokenType, ExpiresIn: tr.ExpiresIn}
	if tr.ExpiresIn > 0 {
		t.Expiry = c.now().Add(time.Duration(tr.ExpiresIn) * time.Second)
	}
	return t.WithExtra(map[string]any{"scope": tr.Scope}), nil
}

// retrieveError reads an RFC 6749 §5.2 error answer.
func retrieveError(res *http.Response, body []byte) *oauth2.RetrieveError {
	var e struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
		URI         string `json:"error_uri"`
	}
	_ = json.Unmarshal(body, &e)
	return &oauth2.RetrieveError{Response: res, Body: body, ErrorCode: e.Error, ErrorDescription: e.Description, ErrorURI: e.URI}
}

// nonceCache holds the latest DPoP-Nonce of each resource server (by
// origin). A daemon talks to a handful; past maxNonces, it starts over.
type nonceCache struct {
	mu sync.Mutex
	m  map[string]string
}

const maxNonces = 256

func (n *nonceCache) get(origin string) string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.m[origin]
}

func (n *nonceCache) set(origin, nonce string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.m == nil || len(n.m) >= maxNonces {
		n.m = map[string]string{}
	}
	n.m[origin] = nonce
}
