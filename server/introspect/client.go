package introspect

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/oauthd/oauthd/server/clientip"
	"github.com/oauthd/oauthd/server/dpop"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"golang.org/x/sync/singleflight"
)

// Defaults for the zero values of Config.
const (
	DefaultTimeout          = 5 * time.Second
	DefaultCacheTTL         = 5 * time.Second
	DefaultInactiveCacheTTL = 1 * time.Second
	DefaultCacheSize        = 10000
	DefaultRealm            = "oauthd"
	// DefaultJWTMaxLifetime covers oauthd's usual lifetimes (a day, a
	// week); a JWT meant to live longer is checked with oauthd.
	DefaultJWTMaxLifetime = 7*24*time.Hour + time.Minute
)

// MaxTokenLen is the longest token sent to oauthd. Anything longer is
// answered as inactive without a request.
const MaxTokenLen = 4096

// metadataPath is where RFC 8414 §3 metadata lives below oauthd's issuer.
const metadataPath = "/.well-known/oauth-authorization-server"

// ErrUnavailable is wrapped by every error Introspect returns: oauthd could
// not say whether the token is valid (unreachable, timed out, refused this
// resource server's credentials, or answered something that is not an RFC
// 7662 response). A request must then be refused, never accepted.
var ErrUnavailable = errors.New("introspect: oauthd cannot decide whether the token is active")

// Config configures a Client. Set exactly one of Issuer and Endpoint.
type Config struct {
	// Issuer is oauthd's issuer, its base URL. The introspection endpoint
	// is read from the metadata at Issuer + metadataPath on first use,
	// which must name this issuer exactly.
	Issuer string
	// Endpoint is the introspection endpoint's URL; setting it skips
	// discovery.
	Endpoint string

	// ClientID and ClientSecret are this resource server's own oauthd
	// credentials. Its application needs the tokens:introspect scope.
	ClientID     string
	ClientSecret string

	// HTTPClient sends the requests to oauthd. Default: a client keeping
	// up to 64 idle connections to oauthd.
	HTTPClient *http.Client
	// Timeout bounds one lookup (discovery plus introspection), whatever
	// HTTPClient is. Default DefaultTimeout.
	Timeout time.Duration

	// CacheTTL is the longest an active answer is reused. Without
	// FollowFeed it is also how long a revoked token may still be
	// accepted. An answer is never kept past the token's exp. Default
	// DefaultCacheTTL, or DefaultFeedCacheTTL with FollowFeed; negative
	// disables.
	CacheTTL time.Duration

	// FollowFeed makes the cache follow oauthd's revocation feed: call
	// Run in a goroutine. The feed is one long response: an HTTPClient
	// with a Timeout ends it every Timeout (it reconnects and resumes,
	// on the fallback lifetime meanwhile), so leave Timeout unset. Each revocation, revoke-all or application
	// change evicts the answers it concerns as soon as oauthd makes it,
	// so CacheTTL can be minutes. Until Run is following the feed (and
	// whenever it is reconnecting) answers are trusted only for
	// FallbackCacheTTL.
	FollowFeed bool
	// FeedEndpoint is the feed's URL; default: revocation_feed_endpoint
	// of the metadata (needs Issuer).
	FeedEndpoint string
	// FallbackCacheTTL is the cache lifetime while the feed is not
	// followed. Default DefaultFallbackCacheTTL.
	FallbackCacheTTL time.Duration
	// FeedIdleTimeout: a feed connection that carried nothing (not even
	// a heartbeat) this long is dropped and made again. Default
	// DefaultFeedIdleTimeout.
	FeedIdleTimeout time.Duration
	// InactiveCacheTTL is how long an inactive answer is reused, so that a
	// client retrying a dead token does not reach oauthd on every request.
	// Default DefaultInactiveCacheTTL; negative disables.
	InactiveCacheTTL time.Duration
	// CacheSize bounds the number of cached answers (least recently used
	// go first). Default DefaultCacheSize.
	CacheSize int

	// TrustedProxies are the networks of the proxies in front of this
	// resource server. The middleware takes its caller's address from
	// the socket, or from Forwarded / X-Forwarded-For when the peer is one
	// of these (see package clientip), and sends it to oauthd, which answers
	// inactive when it is outside the token's application's IP allowlist.
	TrustedProxies []netip.Prefix
	// Audience is this resource server's identifier (a URI or name, as
	// operators list it in applications' audiences). A token meant for
	// other resource servers only (its aud) is then inactive here. Empty
	// accepts any.
	Audience string
	// LocalJWT validates JWT access tokens here, without asking oauthd:
	// signature (keys from oauthd's JWKS, refetched on an unknown kid at
	// most every JWKSRefreshFloor), typ, iss, exp, nbf and iat (with
	// JWTLeeway), aud, scopes, and the application's IP allowlist, which
	// oauthd writes into the token (ip_allowlist) and which is checked
	// against the caller's address as oauthd checks it at introspection.
	// Revocation, and a changed allowlist, then reach this server through
	// the revocation feed (FollowFeed); without it a JWT is trusted as
	// signed until it expires. Off, JWTs are introspected like opaque
	// tokens.
	LocalJWT bool
	// JWTLeeway tolerates clock skew on exp, nbf and iat. Default 10s.
	JWTLeeway time.Duration
	// JWTMaxLifetime is the longest exp - iat a JWT is trusted for on its
	// signature alone; a longer-lived one (or one without iat) is decided
	// by oauthd, from its record of the token, so a token minted with a
	// stolen signing key and a far exp is refused. Default
	// DefaultJWTMaxLifetime.
	JWTMaxLifetime time.Duration
	// JWKSRefreshFloor is the shortest time between two JWKS fetches.
	// Default 10s.
	JWKSRefreshFloor time.Duration
	// OmitClientIP stops the middleware sending its caller's address.
	// oauthd then treats tokens of allowlisted applications as its
	// introspection.require_client_ip setting says (by default: inactive).
	OmitClientIP bool

	// Sender-constrained tokens (dpop.go, certbind.go). A token bound to
	// a key (cnf.jkt in oauthd's answer or the JWT) is accepted only as
	// "Authorization: DPoP" with a DPoP proof of that key (RFC 9449),
	// and one bound to a certificate (cnf x5t#S256) only from a client
	// that presented it (RFC 8705), whatever these settings say: they
	// tune the checks.

	// RequireDPoP accepts DPoP-bound tokens only: a bearer token or an
	// API key is answered as no token at all, with a DPoP challenge.
	RequireDPoP bool
	// DPoPAlgorithms narrows the proof algorithms accepted; default (and
	// at most) DPoPAlgorithms(): ES256, EdDSA, Ed25519, RS256, PS256.
	DPoPAlgorithms []string
	// DPoPWindow is how far a proof's iat may be from this server's
	// clock, either way. Default DefaultDPoPWindow.
	DPoPWindow time.Duration
	// DPoPReplay remembers accepted proofs, each accepted once. Default:
	// NewMemoryReplayCache(0), which protects this process alone;
	// replicas behind one URL share one (introspectredis.New).
	DPoPReplay ReplayCache
	// DPoPNonce makes proofs carry a nonce this server issued (RFC 9449
	// §9): a proof without the current one is answered 401
	// use_dpop_nonce with a DPoP-Nonce header, and every answer to a
	// DPoP request carries the nonce to use next.
	DPoPNonce bool
	// DPoPNonceKey makes the nonces: replicas that share it accept each
	// other's. At least 32 bytes; default: random, for this process.
	DPoPNonceKey []byte
	// DPoPNonceLifetime is how long each nonce is handed out; it is
	// accepted for twice as long. Default DefaultDPoPNonceLifetime.
	DPoPNonceLifetime time.Duration
	// PublicURL is this resource server's URL as its clients reach it
	// ("https://sms.example.com", or with a path prefix a proxy strips:
	// "https://api.example.com/sms"), which their proofs' htu name.
	// Default: the scheme of the connection and the Host header, which
	// clients choose: set it in production, and behind a proxy always.
	PublicURL string
	// ClientCertHeader names the header in which the TLS-terminating
	// proxies among TrustedProxies forward the client's certificate, for
	// certificate-bound tokens: RFC 9440's Client-Cert (":base64 DER:")
	// or a URL-encoded PEM (nginx's $ssl_client_escaped_cert). From any
	// other peer it is ignored and the connection's own certificate
	// counts. Empty: only the connection's.
	ClientCertHeader string

	// TracerProvider, when set, makes a client span of each request to
	// oauthd (discovery, introspection, the JWKS) and a span of each local
	// JWT signature check, below the span of the context passed in (the
	// resource server's own request); nil makes none. The revocation
	// feed, one request that lasts for hours, is not traced.
	TracerProvider trace.TracerProvider
	// Propagator writes the trace context of the context passed in (W3C
	// traceparent) into each request to oauthd, so that oauthd's spans
	// join the resource server's trace; nil sends none.
	Propagator propagation.TextMapPropagator

	// Realm is the realm of the middleware's WWW-Authenticate challenges.
	// Default DefaultRealm.
	Realm string
	// Logger receives why the middleware answered 503. Default
	// slog.Default() at the time of logging.
	Logger *slog.Logger
	// Now is the clock of the cache. Default time.Now.
	Now func() time.Time
}

// Client introspects tokens at oauthd, caching the answers. It is safe for
// concurrent use; make one per process and share it.
type Client struct {
	issuer      string // "" when the endpoint was configured
	metadataURL string
	basic       string // the Authorization header value sent to oauthd
	http        *http.Client
	timeout     time.Duration
	activeTTL   time.Duration
	inactiveTTL time.Duration
	realm       string
	audience    string
	localJWT    bool
	jwtMaxLife  time.Duration
	jwtMarks    jwtMarks
	jwks        jwksCache
	proxies     *clientip.Proxies
	omitAddr    bool
	log         *slog.Logger
	now         func() time.Time
	tracer      trace.Tracer // nil: tracing off
	prop        propagation.TextMapPropagator

	cache *lru.Cache[[sha256.Size]byte, entry]

	// The revocation feed (feed.go).
	follow         bool
	feedURL        string
	feedHTTP       *http.Client
	fallbackTTL    time.Duration
	feedIdle       time.Duration
	discoveredFeed atomic.Pointer[string]
	live           atomic.Bool   // following and caught up
	epoch          atomic.Uint64 // bumped by every eviction
	order          sync.Mutex    // orders cache adds against evictions
	idx            index
	feedMu         sync.Mutex
	lastEventID    string
	testHookEvent  func(kind string)
	flights        singleflight.Group // one lookup per token digest
	discovery      singleflight.Group // one metadata fetch at a time
	endpoint       atomic.Pointer[string]

	// Sender-constrained tokens.
	requireDPoP bool
	dpopAlgs    []string
	dpopWindow  time.Duration
	replay      ReplayCache
	nonces      *nonces // nil: no nonce required
	proofs      *dpop.Parser
	public      origin
	hasPublic   bool
	certHeader  string

	// testHookWait, when set, runs once a caller has joined a lookup and is
	// about to wait for it; tests use it to know every caller is waiting.
	testHookWait func()
	// testHookVerify, when set, runs before each JWT signature check.
	testHookVerify func()
}

// entry is a cached answer, the instant it stops being usable, and when
// it was fetched (for the fallback lifetime while the feed is down).
type entry struct {
	resp   *Response
	until  time.Time
	stored time.Time
}

// New checks cfg and returns a Client. It makes no request: discovery
// happens on first use, so a resource server can start before oauthd.
func New(cfg Config) (*Client, error) {
	c := &Client{
		http:        cfg.HTTPClient,
		timeout:     orDefault(cfg.Timeout, DefaultTimeout),
		activeTTL:   orDefault(cfg.CacheTTL, DefaultCacheTTL),
		inactiveTTL: orDefault(cfg.InactiveCacheTTL, DefaultInactiveCacheTTL),
		realm:       cfg.Realm,
		audience:    cfg.Audience,
		localJWT:    cfg.LocalJWT,
		jwtMaxLife:  orDefault(cfg.JWTMaxLifetime, DefaultJWTMaxLifetime),
		jwks:        jwksCache{leeway: orDefault(cfg.JWTLeeway, 10*time.Second), floor: orDefault(cfg.JWKSRefreshFloor, 10*time.Second)},
		proxies:     clientip.NewProxies(slices.Clone(cfg.TrustedProxies)),
		omitAddr:    cfg.OmitClientIP,
		log:         cfg.Logger,
		now:         cfg.Now,
		prop:        cfg.Propagator,
		follow:      cfg.FollowFeed,
		feedURL:     cfg.FeedEndpoint,
		fallbackTTL: orDefault(cfg.FallbackCacheTTL, DefaultFallbackCacheTTL),
		feedIdle:    orDefault(cfg.FeedIdleTimeout, DefaultFeedIdleTimeout),
		idx:         index{byID: map[string]map[[sha256.Size]byte]struct{}{}},
	}
	if cfg.FollowFeed && cfg.CacheTTL == 0 {
		c.activeTTL = DefaultFeedCacheTTL
	}
	if cfg.FollowFeed {
		if cfg.FeedEndpoint != "" {
			if err := checkURL(cfg.FeedEndpoint, false); err != nil {
				return nil, fmt.Errorf("introspect: config: FeedEndpoint %q %v", cfg.FeedEndpoint, err)
			}
		} else if cfg.Issuer == "" {
			return nil, errors.New("introspect: config: FollowFeed needs Issuer (to discover the feed) or FeedEndpoint")
		}
		if c.fallbackTTL < 0 || c.feedIdle < 0 {
			return nil, errors.New("introspect: config: FallbackCacheTTL and FeedIdleTimeout must not be negative")
		}
	}
	switch {
	case cfg.Issuer == "" && cfg.Endpoint == "":
		return nil, errors.New("introspect: config: set Issuer (oauthd's base URL) or Endpoint (its introspection URL)")
	case cfg.Issuer != "" && cfg.Endpoint != "":
		return nil, errors.New("introspect: config: set Issuer or Endpoint, not both: Endpoint skips the discovery Issuer is for")
	case cfg.Issuer != "":
		if err := checkURL(cfg.Issuer, true); err != nil {
			return nil, fmt.Errorf("introspect: config: Issuer %q %v", cfg.Issuer, err)
		}
		c.issuer = cfg.Issuer
		c.metadataURL = strings.TrimSuffix(cfg.Issuer, "/") + metadataPath
	default:
		if err := checkURL(cfg.Endpoint, false); err != nil {
			return nil, fmt.Errorf("introspect: config: Endpoint %q %v", cfg.Endpoint, err)
		}
		c.endpoint.Store(&cfg.Endpoint)
	}
	if cfg.ClientID == "" || cfg.ClientSecret == "" {
		return nil, errors.New("introspect: config: ClientID and ClientSecret are required: oauthd answers only authenticated resource servers")
	}
	if cfg.Timeout < 0 {
		return nil, errors.New("introspect: config: Timeout must not be negative")
	}
	if cfg.CacheSize < 0 {
		return nil, errors.New("introspect: config: CacheSize must not be negative")
	}
	if c.realm == "" {
		c.realm = DefaultRealm
	}
	for i := 0; i < len(c.realm); i++ {
		if b := c.realm[i]; b < 0x20 || b > 0x7e {
			return nil, fmt.Errorf("introspect: config: Realm %q must be printable ASCII: it goes into the WWW-Authenticate header", c.realm)
		}
	}
	if c.http == nil {
		c.http = defaultHTTPClient(c.timeout)
	}
	if cfg.TracerProvider != nil {
		c.tracer = cfg.TracerProvider.Tracer(instrumentation)
	}
	c.feedHTTP = c.http
	if c.now == nil {
		c.now = time.Now
	}
	if err := c.configureDPoP(&cfg); err != nil {
		return nil, err
	}
	size := cfg.CacheSize
	if size == 0 {
		size = DefaultCacheSize
	}
	cache, err := lru.NewWithEvict[[sha256.Size]byte, entry](size, c.onEvict)
	if err != nil {
		return nil, fmt.Errorf("introspect: config: CacheSize: %w", err)
	}
	c.cache = cache
	// RFC 6749 §2.3.1: id and secret are form-encoded before Basic
	// encoding. oauthd decodes them; sending them raw would break any
	// secret containing '%', '+' or ':'.
	c.basic = "Basic " + base64.StdEncoding.EncodeToString(
		[]byte(url.QueryEscape(cfg.ClientID)+":"+url.QueryEscape(cfg.ClientSecret)))
	return c, nil
}

func orDefault(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

// checkURL returns why raw cannot be oauthd's issuer or endpoint, or nil.
// The error reads after the URL.
func checkURL(raw string, issuer bool) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("is not a URL: %v", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return errors.New("must be an absolute http or https URL")
	}
	// RFC 8414 §2: an issuer has no query or fragment.
	if issuer && (u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.Contains(raw, "#")) {
		return errors.New("must have no query or fragment (RFC 8414 §2)")
	}
	return nil
}

func defaultHTTPClient(timeout time.Duration) *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	// Every cache miss is a request to the same host: keep enough idle
	// connections that a burst does not open new ones (Go keeps 2).
	t.MaxIdleConnsPerHost = 64
	t.ResponseHeaderTimeout = timeout
	// No http.Client.Timeout: Config.Timeout bounds each lookup through its
	// context, for this client and for any the caller supplies.
	return &http.Client{Transport: t}
}

// Introspect asks oauthd about token, or answers from the cache. A token
// that is empty, longer than MaxTokenLen or not made of visible ASCII is
// answered as inactive without a request. Concurrent calls for one token
// share one request. The error, when not nil, wraps ErrUnavailable: the
// token's validity is unknown and the request it came with must be refused.
//
// The Response may be shared with other callers: do not modify it.
func (c *Client) Introspect(ctx context.Context, token string) (*Response, error) {
	return c.IntrospectFrom(ctx, token, netip.Addr{})
}

// IntrospectFrom is Introspect for a token presented from address from,
// which oauthd checks against the token's application's IP allowlist.
// The answer is cached per token and address. The zero Addr sends none.
func (c *Client) IntrospectFrom(ctx context.Context, token string, from netip.Addr) (*Response, error) {
	r, err := c.introspectFrom(ctx, token, from)
	if err != nil || c.audience == "" || !r.Active || len(r.Aud) == 0 || slices.Contains(r.Aud, c.audience) {
		return r, err
	}
	// Meant for other resource servers only: a token stolen from one
	// service must not work at another.
	return &Response{}, nil
}

func (c *Client) introspectFrom(ctx context.Context, token string, from netip.Addr) (*Response, error) {
	if token == "" || len(token) > MaxTokenLen {
		return &Response{}, nil
	}
	// A verified JWT is cached like an introspection answer (never past
	// its exp), under the token alone since its check does not depend on
	// the caller's address: a token presented again costs a digest and a
	// lookup, not a signature check.
	jwt := c.localJWT && looksLikeJWT(token)
	var key [sha256.Size]byte
	if jwt {
		key = cacheKey(token, netip.Addr{})
	} else {
		key = cacheKey(token, from)
	}
	if r, ok := c.cached(key); ok {
		// Only well-formed tokens are ever cached: a hit needs no scan
		// of the token's bytes.
		if jwt {
			return allowedFrom(r, from), nil
		}
		return r, nil
	}
	if !wellFormed(token) {
		return &Response{}, nil
	}
	if !jwt {
		return c.join(ctx, key, token, from)
	}
	// A JWT left to oauthd (issued before the feed's last word on its
	// application, or while the feed is down) has oauthd's answer cached
	// under its address: look there before paying for a signature check
	// again on every request.
	remote := key
	if from.IsValid() {
		remote = cacheKey(token, from)
		if r, ok := c.cached(remote); ok {
			return r, nil
		}
	}
	epoch := c.epoch.Load()
	r, local, err := c.validateJWT(ctx, token, from, remote)
	if err == nil && local {
		c.store(key, r, epoch)
		r = allowedFrom(r, from)
	}
	return r, err
}

// cacheKey is the cache's key for token presented from from: a digest,
// so the process keeps no usable token. The copy into a stack buffer
// spares the hit path the heap allocation of []byte(token) for any token
// of ordinary length.
func cacheKey(token string, from netip.Addr) [sha256.Size]byte {
	var buf [1024 + 17]byte
	b := append(buf[:0], token...)
	if from.IsValid() {
		a := from.As16()
		b = append(append(b, 0), a[:]...)
	}
	return sha256.Sum256(b)
}

// join waits for the one lookup of token, starting it if need be. It is
// apart from Introspect so that the cache-hit path does not pay for what
// the closure captures (the key would move to the heap).
func (c *Client) join(ctx context.Context, key [sha256.Size]byte, token string, from netip.Addr) (*Response, error) {
	ch := c.flights.DoChan(string(key[:]), func() (any, error) {
		return c.lookup(ctx, key, token, from)
	})
	if c.testHookWait != nil {
		c.testHookWait()
	}
	select {
	case res := <-ch:
		if res.Err != nil {
			return nil, res.Err
		}
		return res.Val.(*Response), nil
	case <-ctx.Done():
		return nil, unavailable(ctx.Err(), "gave up waiting for oauthd: %v", ctx.Err())
	}
}

// wellFormed reports whether token may be sent to oauthd. RFC 6750's
// b64token and oauthd's tokens are visible ASCII; rejecting the rest here
// spares oauthd requests that cannot succeed.
func wellFormed(token string) bool {
	if token == "" || len(token) > MaxTokenLen {
		return false
	}
	for i := 0; i < len(token); i++ {
		if b := token[i]; b < 0x21 || b > 0x7e {
			return false
		}
	}
	return true
}

func (c *Client) cached(key [sha256.Size]byte) (*Response, bool) {
	e, ok := c.cache.Get(key)
	if !ok {
		return nil, false
	}
	now := c.now()
	if !now.Before(e.until) {
		return nil, false
	}
	// Following the feed but not caught up: nobody evicts, so the
	// answer is only as good as the fallback lifetime.
	if c.follow && !c.live.Load() && !now.Before(e.stored.Add(c.fallbackTTL)) {
		return nil, false
	}
	return e.resp, true
}

// lookup is the one request a flight makes. It runs on behalf of every
// caller that joined the flight, so it is detached from the first caller's
// cancellation (one client hanging up must not fail the others) and
// bounded by c.timeout instead.
func (c *Client) lookup(ctx context.Context, key [sha256.Size]byte, token string, from netip.Addr) (*Response, error) {
	// A caller that missed the cache just as the previous flight for this
	// token landed starts a new one; looking again spares the request.
	if r, ok := c.cached(key); ok {
		return r, nil
	}
	epoch := c.epoch.Load()
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.timeout)
	defer cancel()
	endpoint, err := c.introspectionEndpoint(ctx)
	if err != nil {
		return nil, err
	}
	r, err := c.post(ctx, endpoint, token, from)
	if err != nil {
		return nil, err
	}
	c.store(key, r, epoch)
	return r, nil
}

// store caches a definitive answer. An active one is kept for activeTTL
// but never past the token's exp: a cached answer must not outlive the
// token.
//
// An answer fetched while an eviction happened (epoch moved) is not
// cached: it may predate the change the eviction was for.
func (c *Client) store(key [sha256.Size]byte, r *Response, epoch uint64) {
	ttl := c.inactiveTTL
	if r.Active {
		ttl = c.activeTTL
	}
	if ttl <= 0 {
		return
	}
	now := c.now()
	until := now.Add(ttl)
	if exp := r.ExpiresAt(); r.Active && !exp.IsZero() && exp.Before(until) {
		until = exp
	}
	if !now.Before(until) {
		return
	}
	c.order.Lock()
	defer c.order.Unlock()
	if c.epoch.Load() != epoch {
		return
	}
	if r.Active {
		c.idx.mu.Lock()
		c.idx.add(clientName(r.ClientID), key)
		c.idx.add(jtiName(r.Jti), key)
		c.idx.mu.Unlock()
	}
	c.cache.Add(key, entry{resp: r, until: until, stored: now})
}

// introspectionEndpoint returns the configured endpoint or discovers it.
// Only a successful discovery is remembered: a failed one is tried again
// by the next lookup.
func (c *Client) introspectionEndpoint(ctx context.Context) (string, error) {
	if p := c.endpoint.Load(); p != nil {
		return *p, nil
	}
	v, err, _ := c.discovery.Do("", func() (any, error) { return c.discover(ctx) })
	if err != nil {
		return "", err
	}
	return v.(string), nil
}

func (c *Client) discover(ctx context.Context) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.metadataURL, nil)
	if err != nil {
		return "", unavailable(err, "cannot build the metadata request for %s: %v", c.metadataURL, err)
	}
	req.Header.Set("Accept", "application/json")
	req, span := c.traceRequest(req, "introspect.discovery")
	defer span.End()
	res, err := c.http.Do(req)
	answered(span, res, err)
	if err != nil {
		return "", unavailable(err, "cannot fetch oauthd's metadata: %v: check Issuer and that oauthd is reachable", err)
	}
	defer drainClose(res.Body)
	if res.StatusCode != http.StatusOK {
		return "", unavailable(nil, "oauthd's metadata at %s answered %s: check that Issuer is oauthd's base URL", c.metadataURL, res.Status)
	}
	var md struct {
		Issuer                string `json:"issuer"`
		IntrospectionEndpoint string `json:"introspection_endpoint"`
		JWKSURI               string `json:"jwks_uri"`
		RevocationFeed        string `json:"revocation_feed_endpoint"`
	}
	if err := json.NewDecoder(io.LimitReader(res.Body, 1<<20)).Decode(&md); err != nil {
		return "", unavailable(err, "oauthd's metadata at %s is not a JSON document (%v): check that Issuer is oauthd's base URL", c.metadataURL, err)
	}
	// RFC 8414 §3.3: a document naming another issuer must not be used.
	if md.Issuer != c.issuer {
		return "", unavailable(nil, "the metadata at %s names issuer %q, but Issuer is %q: they must be identical (RFC 8414 §3.3); set Issuer to oauthd's issuer exactly", c.metadataURL, md.Issuer, c.issuer)
	}
	if md.IntrospectionEndpoint == "" {
		return "", unavailable(nil, "the metadata at %s has no introspection_endpoint: this server does not offer RFC 7662 introspection", c.metadataURL)
	}
	if err := checkURL(md.IntrospectionEndpoint, false); err != nil {
		return "", unavailable(nil, "the metadata at %s names introspection_endpoint %q, which %v", c.metadataURL, md.IntrospectionEndpoint, err)
	}
	// The endpoint receives this resource server's secret: refuse to be
	// told to send it in the clear by a metadata document fetched over TLS.
	if strings.HasPrefix(c.issuer, "https:") && !strings.HasPrefix(md.IntrospectionEndpoint, "https:") {
		return "", unavailable(nil, "the metadata at %s names introspection_endpoint %q, which is not https although the issuer is: refusing to send credentials in the clear", c.metadataURL, md.IntrospectionEndpoint)
	}
	if md.RevocationFeed != "" && checkURL(md.RevocationFeed, false) == nil &&
		(!strings.HasPrefix(c.issuer, "https:") || strings.HasPrefix(md.RevocationFeed, "https:")) {
		c.discoveredFeed.Store(&md.RevocationFeed)
	}
	c.endpoint.Store(&md.IntrospectionEndpoint)
	if md.JWKSURI != "" && checkURL(md.JWKSURI, false) == nil {
		c.jwks.uri.Store(&md.JWKSURI)
	}
	return md.IntrospectionEndpoint, nil
}

// post is the RFC 7662 §2.1 request.
func (c *Client) post(ctx context.Context, endpoint, token string, from netip.Addr) (*Response, error) {
	form := "token=" + url.QueryEscape(token) + "&token_type_hint=access_token"
	if from.IsValid() {
		// An oauthd extension parameter (RFC 7662 §2.1 allows them): where
		// the token was presented, for the application's IP allowlist.
		form += "&" + ClientIPParam + "=" + url.QueryEscape(from.String())
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(form))
	if err != nil {
		return nil, unavailable(err, "cannot build the introspection request for %s: %v", endpoint, err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Authorization", c.basic)
	req, span := c.traceRequest(req, "introspect")
	defer span.End()
	res, err := c.http.Do(req)
	answered(span, res, err)
	if err != nil {
		return nil, unavailable(err, "cannot reach oauthd: %v: check that it is running and reachable from here", err)
	}
	defer drainClose(res.Body)
	if res.StatusCode == http.StatusOK {
		return decodeAnswer(res.Body, endpoint)
	}
	code, says := readError(res.Body)
	switch res.StatusCode {
	case http.StatusUnauthorized:
		return nil, unavailable(nil, "oauthd rejected this resource server's credentials (401 %s): check the client_id and client_secret%s", or(code, "invalid_client"), says)
	case http.StatusForbidden:
		return nil, unavailable(nil, "oauthd refused introspection to this resource server (403 %s): an operator must grant its application the tokens:introspect scope%s", or(code, "insufficient_scope"), says)
	case http.StatusServiceUnavailable:
		return nil, unavailable(nil, "oauthd is temporarily unavailable (503 %s): it cannot reach its store, and tokens cannot be checked until it recovers%s", or(code, "temporarily_unavailable"), says)
	default:
		return nil, unavailable(nil, "oauthd's introspection endpoint %s answered %s (%s), not 200%s", endpoint, res.Status, or(code, "no error code"), says)
	}
}

// decodeAnswer reads a 200 answer. It must be a JSON object with a boolean
// active member (RFC 7662 §2.2); anything else, a proxy's HTML page say,
// decides nothing.
func decodeAnswer(body io.Reader, endpoint string) (*Response, error) {
	var w struct {
		// Shallower than Response.Active, so it wins the "active" key
		// (encoding/json's rule for embedded fields) and tells a missing
		// member apart from false.
		Active *bool `json:"active"`
		*Response
	}
	w.Response = new(Response)
	if err := json.NewDecoder(io.LimitReader(body, 1<<20)).Decode(&w); err != nil {
		return nil, unavailable(err, "oauthd's introspection endpoint %s answered 200 with a body that is not RFC 7662 JSON (%v): check that it is oauthd's endpoint", endpoint, err)
	}
	if w.Active == nil {
		return nil, unavailable(nil, "oauthd's introspection endpoint %s answered 200 without the required \"active\" member (RFC 7662 §2.2)", endpoint)
	}
	if !*w.Active {
		// Nothing but the reason is meaningful for an inactive token.
		return &Response{InactiveReason: w.InactiveReason}, nil
	}
	w.Response.Active = true
	return w.Response, nil
}

// readError reads the RFC 6749 §5.2 code of an error answer, and its
// description as a suffix for a message, both "" when absent.
func readError(body io.Reader) (code, says string) {
	var e struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	if json.NewDecoder(io.LimitReader(body, 4<<10)).Decode(&e) != nil {
		return "", ""
	}
	if e.Description != "" {
		says = " (oauthd says: " + e.Description + ")"
	}
	return e.Error, says
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// drainClose reads what is left of a small body so that the connection
// can be reused, and closes it.
func drainClose(body io.ReadCloser) {
	_, _ = io.Copy(io.Discard, io.LimitReader(body, 64<<10))
	_ = body.Close()
}

// unavailableError is an error whose message says what went wrong and what
// to do; it matches ErrUnavailable and the cause, if any.
type unavailableError struct {
	msg   string
	cause error
}

func unavailable(cause error, format string, args ...any) error {
	return &unavailableError{msg: fmt.Sprintf(format, args...), cause: cause}
}

func (e *unavailableError) Error() string { return "introspect: " + e.msg }

func (e *unavailableError) Unwrap() []error {
	if e.cause == nil {
		return []error{ErrUnavailable}
	}
	return []error{ErrUnavailable, e.cause}
}

// ParseTrustedProxies reads Config.TrustedProxies from text: CIDRs and
// single addresses separated by commas or spaces ("10.0.0.0/8, fd00::/8").
func ParseTrustedProxies(list ...string) ([]netip.Prefix, error) {
	return clientip.ParsePrefixes(list)
}
