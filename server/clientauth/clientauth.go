package clientauth

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/hashicorp/golang-lru/v2/expirable"
)

// Algorithms a client assertion may be signed with. SigningAlgorithms are
// for private_key_jwt (and workload identity tokens); SecretAlgorithms for
// client_secret_jwt. "none" is never accepted, and an HMAC algorithm is
// never accepted for a key application (the algorithm confusion attack:
// a public key used as an HMAC secret). "Ed25519" is RFC 9864's fully
// specified name for EdDSA with an Ed25519 key, which newer clients
// (oauth4webapi 3.8) send; it is the same signature as EdDSA's.
var (
	SigningAlgorithms = []string{"EdDSA", "Ed25519", "ES256", "PS256", "RS256"}
	SecretAlgorithms  = []string{"HS256"}
)

// AssertionType is the client_assertion_type of a JWT client assertion
// (RFC 7523 §2.2).
const AssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// Limits and defaults.
const (
	// MaxAssertionBytes bounds a client assertion before it is parsed: a
	// signed JWT with a few claims is under 2 KiB; an external issuer's
	// token (Kubernetes) a few KiB.
	MaxAssertionBytes = 16 << 10
	// MaxJTILength bounds the jti, which the caller stores until the
	// assertion expires.
	MaxJTILength = 256
	// MaxJWKSBytes and MaxJWKSKeys bound an inline JWK Set.
	MaxJWKSBytes = 64 << 10
	MaxJWKSKeys  = 10
	// Leeway is the clock skew tolerated between the client and oauthd on
	// exp, nbf and iat: client clocks drift, and refusing an assertion a
	// few seconds off helps no one. It does not lengthen MaxLifetime.
	Leeway = 30 * time.Second
	// MinRSABits is the smallest RSA key accepted (NIST SP 800-131A).
	MinRSABits = 2048

	DefaultMaxLifetime         = 5 * time.Minute
	DefaultMaxExternalLifetime = 24 * time.Hour
	DefaultFetchTimeout        = 5 * time.Second
	DefaultMaxFetchBytes       = 64 << 10
	DefaultCacheTTL            = 5 * time.Minute
	// MinCacheTTL and MaxCacheTTL bound a jwks_uri's Cache-Control
	// max-age: a publisher cannot make oauthd fetch on every request, nor
	// keep a removed key for longer than an hour.
	MinCacheTTL = time.Minute
	MaxCacheTTL = time.Hour
	// RefetchInterval is how often at most a key set is fetched again
	// because an assertion names a kid it does not hold (the client
	// rotated): an attacker sending made-up kids cannot make oauthd hammer
	// the client's server.
	RefetchInterval = 30 * time.Second
	// failureBackoff is how long a failed fetch is remembered, so a
	// jwks_uri that is down is not fetched on every request.
	failureBackoff = 10 * time.Second
	// staleLimit is how long a key set whose refresh fails stays in use:
	// a publisher's short outage does not lock its clients out.
	staleLimit = time.Hour
	// secretCacheTTL is how long an unsealed client_secret_jwt secret
	// stays in memory, sparing an AES-GCM open per request.
	secretCacheTTL = time.Minute
	cacheEntries   = 1024
)

// Config is what a Verifier needs; the zero value of each field has a
// documented default.
type Config struct {
	// Issuer is oauthd's issuer identifier: an assertion's aud must name
	// it or one of TokenEndpoints (RFC 7523 §3, item 3).
	Issuer string
	// TokenEndpoints are further accepted aud values: the token endpoint
	// URL(s), the introspection and revocation URLs, mTLS aliases.
	TokenEndpoints []string
	// MaxLifetime bounds exp - iat (or exp - now without iat) of a client
	// assertion; default 5m.
	MaxLifetime time.Duration
	// MaxExternalLifetime is MaxLifetime for a workload identity token
	// (an external issuer's): Kubernetes projected service-account tokens
	// live an hour by default and at least ten minutes, so the 5 minutes
	// of MaxLifetime would refuse them all; default 24h.
	MaxExternalLifetime time.Duration
	// AllowPrivateAddrs lets jwks_uri and issuer discovery reach
	// loopback, private, link-local and other non-public addresses (an
	// in-cluster issuer). Only the built-in HTTP client enforces it.
	AllowPrivateAddrs bool
	// HTTPClient fetches jwks_uri and discovery documents. nil: a built-in
	// client with FetchTimeout, the address guard (AllowPrivateAddrs), no
	// proxy and FetchRootCAs. Redirects are refused with either.
	HTTPClient *http.Client
	// FetchRootCAs are the roots the built-in client trusts (nil: the
	// system's), e.g. a Kubernetes cluster's CA for its issuer.
	FetchRootCAs *x509.CertPool
	// FetchTimeout bounds one fetch (connection, TLS, body); default 5s.
	FetchTimeout time.Duration
	// MaxFetchBytes bounds a fetched document; default 64 KiB.
	MaxFetchBytes int64
	// CacheTTL is how long a fetched key set is used without a
	// Cache-Control max-age; default 5m.
	CacheTTL time.Duration
	// ClientCAs verify tls_client_auth certificates; nil refuses them.
	ClientCAs *x509.CertPool
	// Unseal opens a Secret.Sealed for client_secret_jwt; nil refuses
	// client_secret_jwt.
	Unseal func(ctx context.Context, sealed []byte) ([]byte, error)
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// Verifier checks client assertions and client certificates. It is safe
// for concurrent use; it caches parsed key sets, fetched key sets and
// unsealed secrets in memory (bounded).
type Verifier struct {
	cfg     Config
	client  *http.Client
	inline  *lru.Cache[[sha256.Size]byte, *keySet]
	remote  *remoteKeys
	secrets *expirable.LRU[[sha256.Size]byte, []byte]
}

// New checks cfg, fills in its defaults and returns a Verifier.
func New(cfg Config) (*Verifier, error) {
	if cfg.MaxLifetime < 0 || cfg.MaxExternalLifetime < 0 || cfg.FetchTimeout < 0 || cfg.MaxFetchBytes < 0 || cfg.CacheTTL < 0 {
		return nil, errors.New("clientauth: negative duration or size in Config")
	}
	if cfg.MaxLifetime == 0 {
		cfg.MaxLifetime = DefaultMaxLifetime
	}
	if cfg.MaxExternalLifetime == 0 {
		cfg.MaxExternalLifetime = DefaultMaxExternalLifetime
	}
	if cfg.FetchTimeout == 0 {
		cfg.FetchTimeout = DefaultFetchTimeout
	}
	if cfg.MaxFetchBytes == 0 {
		cfg.MaxFetchBytes = DefaultMaxFetchBytes
	}
	if cfg.CacheTTL == 0 {
		cfg.CacheTTL = DefaultCacheTTL
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	inline, err := lru.New[[sha256.Size]byte, *keySet](cacheEntries)
	if err != nil {
		return nil, fmt.Errorf("clientauth: %w", err)
	}
	v := &Verifier{
		cfg:     cfg,
		client:  fetchClient(cfg),
		inline:  inline,
		secrets: expirable.NewLRU[[sha256.Size]byte, []byte](cacheEntries, nil, secretCacheTTL),
	}
	v.remote, err = newRemoteKeys(v)
	if err != nil {
		return nil, err
	}
	return v, nil
}

// Error is a refused client authentication. Reason names what failed, fit
// for a log line; it never holds the assertion, a secret or a key. The
// server answers invalid_client (RFC 6749 §5.2) for every Error.
type Error struct {
	Reason string
	// Temporary is set when the keys could not be fetched (jwks_uri or
	// the trusted issuer down, unreachable, or answering garbage): the
	// client may have done nothing wrong, and the same assertion may pass
	// later. The server may say so in its error_description.
	Temporary bool
}

func (e *Error) Error() string { return e.Reason }

func refuse(format string, args ...any) error {
	return &Error{Reason: fmt.Sprintf(format, args...)}
}

func unavailable(format string, args ...any) error {
	return &Error{Reason: fmt.Sprintf(format, args...), Temporary: true}
}
