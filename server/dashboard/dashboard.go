package dashboard

import (
	"context"
	"embed"
	"errors"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/oauthd/oauthd/server/apps"
	"github.com/oauthd/oauthd/server/clientip"
	"github.com/oauthd/oauthd/server/web"
	"github.com/oauthd/oauthd/store"
)

// Prefix is where the dashboard lives. Its cookies are scoped to it.
const Prefix = "/dashboard/"

// Defaults of the session lifetimes.
const (
	DefaultSessionIdle = 30 * time.Minute
	DefaultSessionMax  = 12 * time.Hour
)

// SessionStore keeps sessions server-side, keyed by the SHA-256 of the
// session id, so every replica agrees on who is signed in (store.Sessions
// says how; store/redis implements it).
type SessionStore interface {
	store.Sessions
}

// Guard slows repeated sign-in failures from one address. Blocked says
// how long the address must wait (0: it may try now); Failed counts a
// failure. A nil Guard means no limit.
type Guard interface {
	Blocked(ctx context.Context, ip string) (time.Duration, error)
	Failed(ctx context.Context, ip string) error
}

// Config configures the dashboard.
type Config struct {
	// KeyDigests are the SHA-256 digests of the admin keys, as for the
	// admin API.
	KeyDigests []store.Digest
	// Sessions is required.
	Sessions SessionStore
	// Guard limits sign-in attempts; nil means no limit.
	Guard Guard
	// Issuer is the public base URL shown in the ready-to-paste curl
	// command (its /oauth/token).
	Issuer string
	// SessionIdle ends a session unused this long; SessionMax ends any
	// session this long after sign-in. Zero means the defaults.
	SessionIdle, SessionMax time.Duration
	// SecureCookies marks the cookies Secure even when the request did not
	// arrive over TLS here (TLS terminated by a proxy in front).
	SecureCookies bool
	// TrustedProxies are the networks of trusted proxies (package clientip), for the address
	// sign-in failures are counted against.
	TrustedProxies []netip.Prefix
	Logger         *slog.Logger
	// Observer hears about every request (metrics); nil means nobody.
	Observer web.Observer
	// Tracing traces every request; the zero value traces nothing.
	Tracing web.Tracing
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Figures reads this replica's own counters (its metrics registry)
	// for the overview; nil shows none.
	Figures func() Figures
}

// Figures are one replica's counters since it started, shown on the
// overview beside the cluster-wide figures read from Redis. They are
// server/metrics.Totals field for field, so cmd converts one to the other.
type Figures struct {
	Since        time.Time
	TokensIssued float64
	AuthFailures float64
	Lockouts     float64
	// QuotaRefusals are token requests refused for a spent quota;
	// IntrospectRefusals, introspections past a resource server's budget.
	QuotaRefusals, IntrospectRefusals float64
}

// Dashboard serves the web console under Prefix.
type Dashboard struct {
	cfg   Config
	apps  *apps.Service
	echo  *echo.Echo
	pages map[string]*template.Template
}

//go:embed templates/*.html
var templateFS embed.FS

//go:embed assets
var assetFS embed.FS

// New builds the dashboard on the application service.
func New(cfg Config, svc *apps.Service) (*Dashboard, error) {
	if cfg.Sessions == nil || svc == nil {
		return nil, errors.New("dashboard: a session store and the application service are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.SessionIdle <= 0 {
		cfg.SessionIdle = DefaultSessionIdle
	}
	if cfg.SessionMax <= 0 {
		cfg.SessionMax = DefaultSessionMax
	}
	pages, err := parseTemplates()
	if err != nil {
		return nil, err
	}
	d := &Dashboard{cfg: cfg, apps: svc, pages: pages, echo: web.NewEcho(web.Config{
		Logger: cfg.Logger, Observer: cfg.Observer, Proxies: clientip.NewProxies(cfg.TrustedProxies),
		NotFound: "no such page", Tracing: cfg.Tracing,
	})}
	d.echo.HTTPErrorHandler = d.httpError
	d.routes()
	return d, nil
}

// Handler serves the dashboard (paths under Prefix).
func (d *Dashboard) Handler() http.Handler { return d.echo }

// routes registers every dashboard route in one place. Pages that need a
// session get d.session; every POST also gets d.csrf, and d.sameOrigin
// refuses any POST the browser marks as sent from another site.
func (d *Dashboard) routes() {
	e := d.echo
	e.Use(securityHeaders, limitBody, d.sameOrigin)
	assets, _ := fs.Sub(assetFS, "assets")
	e.GET(Prefix+"assets/*", echo.WrapHandler(http.StripPrefix(Prefix+"assets/", assetHandler(assets))))
	e.GET(strings.TrimSuffix(Prefix, "/"), func(c echo.Context) error { return c.Redirect(http.StatusSeeOther, Prefix) })
	// The landing page: the overview, or for a delegated administrator
	// (who sees one owner's applications, not the whole server) the list.
	e.GET(Prefix, func(c echo.Context) error {
		if current(c).actor.Delegate != nil {
			return c.Redirect(http.StatusSeeOther, Prefix+"applications")
		}
		return c.Redirect(http.StatusSeeOther, Prefix+"overview")
	}, d.session)
	e.GET(Prefix+"signin", d.signInPage)
	e.POST(Prefix+"signin", d.signIn)
	e.POST(Prefix+"signout", d.signOut, d.session, d.csrf)

	get := func(path string, h echo.HandlerFunc) { e.GET(Prefix+path, h, d.session) }
	post := func(path string, h echo.HandlerFunc) { e.POST(Prefix+path, h, d.session, d.csrf) }
	get("overview", d.overview)
	get("applications", d.listApps)
	get("applications/new", d.newAppPage)
	post("applications", d.createApp)
	get("applications/:id", d.appPage)
	post("applications/:id", d.updateApp)
	post("applications/:id/enabled", d.setEnabled)
	post("applications/:id/delete", d.deleteApp)
	post("applications/:id/auth", d.setAuth)
	post("applications/:id/secrets", d.resetSecret)
	post("applications/:id/secrets/delete", d.deleteSecret)
	post("applications/:id/tokens/revoke-all", d.revokeAll)
	post("applications/:id/tokens/revoke", d.revokeToken)
	post("applications/:id/api-keys", d.createAPIKey)
	get("events", d.events)
	get("scopes", d.scopesPage)
	post("scopes", d.setScope)
	post("scopes/delete", d.deleteScope)
}

// csp allows the dashboard's own script and style files and nothing else:
// no inline script or style, no framing, forms only to itself.
const csp = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// securityHeaders sets, on every answer (pages, assets, errors), the
// headers that keep the pages from being framed, sniffed, leaked through
// Referer or cached.
func securityHeaders(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Response().Header()
		h.Set("Content-Security-Policy", csp)
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		if !strings.HasPrefix(c.Request().URL.Path, Prefix+"assets/") {
			web.NoStore(h)
		}
		return next(c)
	}
}

// maxForm bounds a form post: the largest is an application with a full
// allowlist and metadata, well under this.
const maxForm = 64 << 10

func limitBody(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		r.Body = http.MaxBytesReader(c.Response(), r.Body, maxForm)
		return next(c)
	}
}

// assetHandler serves the embedded CSS and script. They change only with
// the binary, so a browser may keep them for an hour.
func assetHandler(files fs.FS) http.Handler {
	fsrv := http.FileServerFS(files)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "" || strings.HasSuffix(r.URL.Path, "/") {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Cache-Control", "public, max-age=3600")
		fsrv.ServeHTTP(w, r)
	})
}
