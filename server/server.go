// Package server is oauthd's public OAuth 2.0 endpoints: token,
// introspection, revocation, metadata, JWKS and the revocation feed, the
// ones daemons and resource servers call. It never reads files, flags or
// the environment: cmd decodes and validates configuration and hands it
// over as Config. The HTTP kit it shares with the admin API and the
// dashboard is server/web; the application service is server/apps.
package server

import (
	"cmp"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"
	"go.opentelemetry.io/otel/trace"

	"github.com/oauthd/oauthd/scopes"
	"github.com/oauthd/oauthd/server/clientauth"
	"github.com/oauthd/oauthd/server/clientip"
	"github.com/oauthd/oauthd/server/web"
	"github.com/oauthd/oauthd/store"
)

// Store is what the public endpoints need from storage.
type Store interface {
	AppReader
	TokenIssuer
	AssertionStore
	LookupTokenFor(ctx context.Context, ref store.TokenRef, caller store.Caller) (store.TokenLookup, error)
	RevokeToken(ctx context.Context, ref store.TokenRef, tombstone time.Duration) (bool, error)
	Ping(ctx context.Context) error
}

// Catalogue gives the scope catalogue in force, which tokens' scopes,
// introspection answers and the metadata's scopes_supported come from:
// the one every replica shares (server/apps.Service reads it from the
// store, cached in process). It is read on every token request, so it
// must answer from memory.
type Catalogue interface {
	Catalogue(ctx context.Context) (*scopes.Catalogue, error)
}

// Config is the server's validated configuration.
type Config struct {
	// Issuer is the server's public base URL, exactly as clients see it.
	Issuer    string
	Catalogue Catalogue
	Logger    *slog.Logger
	// AccessLogger receives the per-request lines of requests that
	// succeeded (or failed at info level: 4xx), which cmd may batch; nil
	// means Logger. Lines about server-side failures go to Logger.
	AccessLogger *slog.Logger
	// InactiveReason adds "inactive_reason": "expired" or "revoked" to
	// inactive introspection answers (off by default: RFC 7662 §2.2 says
	// an inactive answer SHOULD say nothing more).
	InactiveReason bool
	// Tombstone is how long a revoked token is remembered as revoked when
	// InactiveReason is on (the store keeps expired records as long).
	Tombstone time.Duration
	// ServiceDocumentation is the URL of human-readable documentation,
	// published in the metadata document.
	ServiceDocumentation string
	// Audit records failed client authentications; nil records nothing.
	Audit Auditor
	// Observer hears about every request (metrics); nil means nobody.
	Observer Observer
	// TrustedProxies are the networks of the proxies in front of oauthd:
	// only from these is a Forwarded or X-Forwarded-For header believed.
	TrustedProxies []netip.Prefix
	// AllowUnknownClientIP makes introspection treat a token of an
	// application with an IP allowlist as active when the resource server
	// did not send the client_ip parameter. Off by default: such a token
	// is inactive, or a stolen token would work wherever the resource
	// server forgot to say where it came from.
	AllowUnknownClientIP bool
	// Signer signs JWT access tokens for applications whose token_format
	// is jwt, and verifies them at introspection and revocation; nil means
	// such applications cannot get tokens (server_error, logged).
	Signer Signer
	// Limits enforces the abuse limits; nil limits nothing.
	Limits Limiter
	// LogSampleOK logs one in this many successful requests; failures are
	// always logged. 0 or 1 logs every request.
	LogSampleOK int
	// Feed serves the revocation feed at FeedPath; nil serves none and
	// leaves it out of the metadata.
	Feed Feed
	// FeedHeartbeat is how often an idle feed connection carries a
	// comment; 0 means DefaultFeedHeartbeat.
	FeedHeartbeat time.Duration
	// FeedMaxSubscribers caps this replica's feed connections, and
	// FeedMaxPerClient those of one credential; 0 means the defaults.
	FeedMaxSubscribers, FeedMaxPerClient int
	// Tracing, when set, traces every request (a server span, its Redis
	// commands below it when the client is instrumented, and the JWT
	// signing and verification); the zero value traces nothing.
	Tracing web.Tracing
	// Binding configures DPoP and certificate-bound tokens (issue 19).
	Binding BindingConfig
	// ClientAuth configures the verification of client assertions and
	// certificates (issue 18): New fills in its Issuer and TokenEndpoints
	// (the issuer, the endpoints' URLs and their MTLSBaseURL aliases,
	// every aud an assertion may name) and its Now.
	ClientAuth clientauth.Config
	// ClientCertHeader names the header a TLS-terminating proxy puts the
	// client's certificate in (URL-escaped PEM, as nginx's
	// $ssl_client_escaped_cert), believed only from TrustedProxies; ""
	// reads client certificates from oauthd's own TLS connections only.
	ClientCertHeader string
	// MTLS says client certificates can reach the server (its own TLS
	// listener, ClientCertHeader, or MTLSBaseURL): the metadata then lists
	// tls_client_auth and self_signed_tls_client_auth.
	MTLS bool
	// MTLSBaseURL is where the endpoints are served with mutual TLS, when
	// elsewhere than Issuer (RFC 8705 §5: mtls_endpoint_aliases).
	MTLSBaseURL string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Server serves the public OAuth 2.0 endpoints.
type Server struct {
	cfg     Config
	limited bool
	// feedSends admits one feed write at a time (sendPaced).
	feedSends chan struct{}
	metadata  atomic.Pointer[metadataDoc]
	store     Store
	grants    grantPolicy
	echo      *echo.Echo
	// lastFrame is the feed event last encoded (feed.go).
	lastFrame atomic.Pointer[frame]
	feedSlots feedSlots
	// tracer makes the signature spans; nil when tracing is off.
	tracer trace.Tracer
	// bind checks sender-constrained token requests (dpop.go).
	bind *binder
	// verifier checks client assertions and certificates.
	verifier ClientVerifier
	proxies  *clientip.Proxies
	// certHeaderIgnored is set once a client certificate header from an
	// untrusted peer was logged (clientChain).
	certHeaderIgnored atomic.Bool
}

// New builds the server. It starts nothing: serve Handler() on a listener.
func New(cfg Config, st Store) (*Server, error) {
	if st == nil || cfg.Catalogue == nil {
		return nil, errors.New("server: store and scope catalogue are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.AccessLogger == nil {
		cfg.AccessLogger = cfg.Logger
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.FeedHeartbeat <= 0 {
		cfg.FeedHeartbeat = DefaultFeedHeartbeat
	}
	limited := cfg.Limits != nil
	if !limited {
		cfg.Limits = noLimits{}
	}
	if cfg.InactiveReason && cfg.Tombstone <= 0 {
		return nil, errors.New("server: InactiveReason needs a positive Tombstone")
	}
	if cfg.MTLSBaseURL != "" {
		cfg.MTLS = true
	}
	cfg.ClientAuth.Issuer, cfg.ClientAuth.TokenEndpoints = cfg.Issuer, nil
	for _, base := range []string{cfg.Issuer, cfg.MTLSBaseURL} {
		if base != "" {
			cfg.ClientAuth.TokenEndpoints = append(cfg.ClientAuth.TokenEndpoints,
				base+TokenPath, base+IntrospectPath, base+RevokePath, base+FeedPath)
		}
	}
	if cfg.ClientAuth.Now == nil {
		cfg.ClientAuth.Now = cfg.Now
	}
	verifier, err := clientauth.New(cfg.ClientAuth)
	if err != nil {
		return nil, err
	}
	proxies := clientip.NewProxies(cfg.TrustedProxies)
	s := &Server{cfg: cfg, limited: limited, feedSends: make(chan struct{}, 1), store: st, grants: newGrantPolicy(),
		tracer: cfg.Tracing.Tracer(), verifier: verifier, proxies: proxies}
	if s.bind, err = newBinder(cfg); err != nil {
		return nil, err
	}
	wc := web.Config{Logger: cfg.Logger, Access: cfg.AccessLogger, SampleOK: cfg.LogSampleOK,
		Proxies: proxies, NotFound: notFound, Tracing: cfg.Tracing}
	if cfg.Observer != nil {
		wc.Observer, wc.Done = cfg.Observer, observe(cfg.Observer)
	}
	s.echo = web.NewEcho(wc)
	s.feedSlots = feedSlots{max: cmp.Or(cfg.FeedMaxSubscribers, DefaultFeedMaxSubscribers), perClient: cmp.Or(cfg.FeedMaxPerClient, DefaultFeedMaxPerClient)}
	s.routes()
	return s, nil
}

// Handler returns the HTTP handler for the public listener.
func (s *Server) Handler() http.Handler { return s.echo }
