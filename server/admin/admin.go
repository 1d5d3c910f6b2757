package admin

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/netip"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/oauthd/oauthd/scopes"
	"github.com/oauthd/oauthd/server/admin/adminapi"
	"github.com/oauthd/oauthd/server/apps"
	"github.com/oauthd/oauthd/server/clientip"
	"github.com/oauthd/oauthd/server/credential"
	"github.com/oauthd/oauthd/server/web"
	"github.com/oauthd/oauthd/store"
)

// Prefix is where the admin API lives.
const Prefix = adminapi.Prefix

// Config configures the admin API.
type Config struct {
	// KeyDigests are the SHA-256 digests of the admin keys. The keys
	// themselves are never configured or stored.
	KeyDigests []store.Digest
	// NamedKeys are admin keys, by digest, whose changes the audit log
	// records under a name of their own rather than admin-key:<digest
	// prefix>; they are accepted as KeyDigests are. The CLI's direct mode
	// mints one for its in-process handler and names it "cli".
	NamedKeys map[store.Digest]string
	// Logger receives the lines of failed requests (5xx); AccessLogger
	// the rest (nil: Logger).
	Logger       *slog.Logger
	AccessLogger *slog.Logger
	Now          func() time.Time
	// Observer hears about every admin request (metrics); nil means nobody.
	Observer web.Observer
	// Limits counts failed authentications per address and locks an
	// address out (shared by every replica); nil limits nothing.
	Limits Limiter
	// TokenRef reads a presented access token (the OAuth server's TokenRef, so
	// a JWT works as an opaque token does); nil reads opaque tokens only.
	TokenRef func(context.Context, string) (store.TokenRef, bool)
	// TrustedProxies are the networks of the proxies in front of oauthd
	// (see package clientip).
	TrustedProxies []netip.Prefix
	// Tracing traces every request; the zero value traces nothing.
	Tracing web.Tracing
}

// Admin serves the admin API: JSON under /admin/v1, authenticated with an
// admin key or an oauthd access token holding the applications scope.
// Hydra splits public and admin ports; oauthd serves Admin on its own
// listener when admin.addr is set, or beside the public routes.
type Admin struct {
	cfg    Config
	keys   []namedKey
	apps   *apps.Service
	tokens TokenReader
	echo   *echo.Echo
}

// namedKey is an accepted admin key's digest and the actor it acts as.
type namedKey struct {
	digest store.Digest
	actor  string
}

// Limiter is what the admin API needs of the abuse limits
// (store/redis.Limits): per-address lock-outs.
type Limiter interface {
	Blocked(ctx context.Context, clientID string, addr netip.Addr) (store.Lockout, error)
	Failed(ctx context.Context, clientID string, addr netip.Addr) (store.Lockout, error)
}

type noLimits struct{}

func (noLimits) Blocked(context.Context, string, netip.Addr) (store.Lockout, error) {
	return store.Lockout{}, nil
}
func (noLimits) Failed(context.Context, string, netip.Addr) (store.Lockout, error) {
	return store.Lockout{}, nil
}

// TokenReader looks up tokens for admin authentication.
type TokenReader interface {
	LookupToken(ctx context.Context, ref store.TokenRef, also string) (store.TokenLookup, error)
}

// New builds the admin API on the application service.
func New(cfg Config, apps *apps.Service, tokens TokenReader) *Admin {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Limits == nil {
		cfg.Limits = noLimits{}
	}
	if cfg.TokenRef == nil {
		cfg.TokenRef = func(_ context.Context, token string) (store.TokenRef, bool) { return credential.Parse(token) }
	}
	a := &Admin{cfg: cfg, apps: apps, tokens: tokens, echo: web.NewEcho(web.Config{
		Logger: cfg.Logger, Access: cfg.AccessLogger, Observer: cfg.Observer, Proxies: clientip.NewProxies(cfg.TrustedProxies),
		NotFound: "no such admin endpoint: see docs/openapi.yaml", Tracing: cfg.Tracing,
	})}
	for _, d := range cfg.KeyDigests {
		a.keys = append(a.keys, namedKey{d, fmt.Sprintf("admin-key:%x", d[:4])})
	}
	for d, name := range cfg.NamedKeys {
		a.keys = append(a.keys, namedKey{d, name})
	}
	a.routes()
	return a
}

// Handler serves the admin API.
func (a *Admin) Handler() http.Handler { return a.echo }

// Route is one admin route, as registered; the OpenAPI test compares
// the spec with this list.
type Route struct{ Method, Path string }

// Routes lists the registered admin routes with OpenAPI-style paths.
func (a *Admin) Routes() []Route {
	var out []Route
	for _, r := range a.echo.Routes() {
		if !strings.HasPrefix(r.Path, Prefix) {
			continue
		}
		segs := strings.Split(r.Path, "/")
		for i, s := range segs {
			if strings.HasPrefix(s, ":") {
				segs[i] = "{" + s[1:] + "}"
			}
		}
		out = append(out, Route{r.Method, strings.TrimPrefix(strings.Join(segs, "/"), Prefix)})
	}
	return out
}

// routes registers every admin route in one place. Authentication is
// route middleware rather than group middleware: an echo group with
// middleware answers 404 for a known path with the wrong method.
func (a *Admin) routes() {
	// query lists the parameters a route reads; any other, or a query
	// string that does not parse, is a 400 rather than silently ignored.
	add := func(method, path string, h echo.HandlerFunc, query ...string) {
		a.echo.Add(method, Prefix+path, h, a.authenticate, checkQuery(query))
	}
	add(http.MethodPost, "/applications", a.createApp)
	add(http.MethodGet, "/applications", a.listApps, "limit", "cursor", "before", "search", "name", "owner", "sort", "order")
	add(http.MethodGet, "/applications/:id", a.getApp)
	add(http.MethodPut, "/applications/:id", a.importApp)
	add(http.MethodGet, "/export", a.exportApps, "limit", "cursor", "secrets")
	add(http.MethodPatch, "/applications/:id", a.updateApp)
	add(http.MethodDelete, "/applications/:id", a.deleteApp)
	add(http.MethodPost, "/applications/:id/secrets", a.resetSecret)
	add(http.MethodDelete, "/applications/:id/secrets/:sid", a.deleteSecret)
	add(http.MethodDelete, "/applications/:id/tokens", a.revokeTokens)
	add(http.MethodGet, "/applications/:id/tokens", a.listTokens, "limit")
	add(http.MethodPost, "/applications/:id/api-keys", a.createAPIKey)
	add(http.MethodDelete, "/tokens/:jti", a.revokeToken)
	add(http.MethodGet, "/events", a.listEvents, "limit", "cursor", "log", "client_id", "kind")
	add(http.MethodGet, "/signing-keys", a.listKeys)
	add(http.MethodPost, "/signing-keys", a.rotateKey)
	add(http.MethodGet, "/scopes", a.listScopes)
	add(http.MethodPut, "/scopes/:name", a.putScope)
	add(http.MethodDelete, "/scopes/:name", a.deleteScope, "force")
}

const adminRealm = `Bearer realm="oauthd-admin"`

func errAdminAuth(desc, reason string) *web.Error {
	return &web.Error{Code: "unauthorized", Description: desc, Status: http.StatusUnauthorized, Reason: reason, Challenge: adminRealm}
}

// authenticate accepts an admin key (compared by digest, in constant time,
// against every configured key) or an active oauthd access token whose
// application still holds the applications scope.
func (a *Admin) authenticate(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		scheme, cred, _ := strings.Cut(c.Request().Header.Get(echo.HeaderAuthorization), " ")
		cred = strings.TrimSpace(cred)
		if !strings.EqualFold(scheme, "Bearer") || cred == "" {
			return writeError(c, errAdminAuth("send Authorization: Bearer <admin key or access token with the applications scope>", "no credential"))
		}
		ip := c.RealIP()
		addr, _ := netip.ParseAddr(ip)
		// A locked-out address is refused before its credential is
		// looked at: admin keys are worth guessing.
		if lo, err := a.cfg.Limits.Blocked(c.Request().Context(), "", addr); err != nil {
			return writeError(c, err)
		} else if lo.For > 0 {
			return writeError(c, lockedOut(lo.For))
		}
		d := store.Sum(cred)
		key := ""
		for _, k := range a.keys {
			if d.Equal(k.digest) {
				key = k.actor
			}
		}
		var actor apps.Actor
		switch ref, isToken := a.cfg.TokenRef(c.Request().Context(), cred); {
		case key != "":
			actor = apps.Actor{Name: key, IP: ip}
		case isToken:
			l, err := a.tokens.LookupToken(c.Request().Context(), ref, "")
			if err != nil {
				return writeError(c, err)
			}
			// The token's application's allowlist applies here as at any
			// resource server: the admin API is one.
			v := credential.State(l, credential.Use{Now: a.cfg.Now(), Addr: addr})
			if v.Reason != "" {
				return a.authFailed(c, addr, errAdminAuth("the access token is not active", "token "+v.Reason))
			}
			if !slices.Contains(v.Scopes, scopes.Admin) {
				return writeError(c, &web.Error{Code: "insufficient_scope", Status: http.StatusForbidden,
					Description: "the access token lacks the applications scope the admin API needs"})
			}
			actor = apps.Actor{Name: "client:" + ref.ClientID, IP: ip, Delegate: apps.DelegateOf(*l.App)}
		default:
			return a.authFailed(c, addr, errAdminAuth("unknown credential: use an admin key or an access token with the applications scope", "unknown credential"))
		}
		web.LogAttrs(c, slog.String("actor", actor.Name))
		r := c.Request()
		c.SetRequest(r.WithContext(apps.WithActor(r.Context(), actor)))
		return next(c)
	}
}

// lockoutObserver is the part of an Observer (the metrics) that counts
// lock-outs; an Observer without it counts none.
type lockoutObserver interface{ LockedOut(scope string) }

// authFailed answers a failed admin authentication: counted against the
// caller's address (429 once it is locked out; 503 when Redis cannot
// count it) and recorded in the security log, aggregated.
func (a *Admin) authFailed(c echo.Context, addr netip.Addr, e *web.Error) error {
	ctx := c.Request().Context()
	a.apps.Security(ctx, store.SecurityEvent{Kind: "admin.auth_failed", Addr: addr, Reason: e.Reason})
	lo, err := a.cfg.Limits.Failed(ctx, "", addr)
	switch {
	case err != nil:
		return writeError(c, err)
	case lo.For > 0:
		if lo.New {
			a.apps.Security(ctx, store.SecurityEvent{Kind: "admin.locked_out", Addr: addr, Reason: lo.Scope, For: lo.For})
			if m, ok := a.cfg.Observer.(lockoutObserver); ok {
				m.LockedOut("admin")
			}
		}
		return writeError(c, lockedOut(lo.For))
	}
	return writeError(c, e)
}

func lockedOut(d time.Duration) *web.Error {
	return &web.Error{Code: "slow_down", Status: http.StatusTooManyRequests, RetryAfter: d, Reason: "locked out",
		Description: "too many failed authentications from this address: retry after the time Retry-After gives, with a valid credential"}
}

// checkQuery refuses a query string that does not parse (Go's parser
// rejects ';' and bad escapes) or names a parameter the route does not
// read, naming it: a misspelt filter must not silently list everything.
func checkQuery(allowed []string) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			raw := c.Request().URL.RawQuery
			if raw == "" {
				return next(c)
			}
			q, err := url.ParseQuery(raw)
			if err != nil {
				return writeError(c, apps.Invalid("query", "malformed query string: use name=value pairs joined by '&', percent-encoded"))
			}
			for name, values := range q {
				if !slices.Contains(allowed, name) {
					reason := "unknown parameter"
					if len(allowed) > 0 {
						reason += "; this endpoint reads " + strings.Join(allowed, ", ")
					} else {
						reason += "; this endpoint reads none"
					}
					return writeError(c, apps.Invalid(truncate(name, 40), reason))
				}
				if len(values) > 1 {
					return writeError(c, apps.Invalid(name, "given more than once"))
				}
			}
			return next(c)
		}
	}
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

// maxAdminBody bounds admin request bodies.
const maxAdminBody = 64 << 10

// decodeJSON reads one JSON object into v, rejecting unknown fields (a
// misspelt field must not be silently ignored) and keys given twice. An
// empty body is allowed when optional.
func decodeJSON(c echo.Context, v any, optional bool) error {
	r := c.Request()
	body, err := io.ReadAll(http.MaxBytesReader(c.Response(), r.Body, maxAdminBody))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		return &web.Error{Code: "invalid_request", Description: "request body exceeds 64 KiB", Status: http.StatusRequestEntityTooLarge}
	case err != nil:
		// Reading the body failed (a timeout, the client gone); the
		// answer must not carry the error's text.
		return web.BodyReadError(err, "64 KiB")
	case optional && len(body) == 0:
		return nil
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get(echo.HeaderContentType)); err != nil || mt != "application/json" {
		return apps.Invalid("body", "send Content-Type: application/json")
	}
	if err := repeatedKey(body); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var typ *json.UnmarshalTypeError
		var syn *json.SyntaxError
		switch {
		case errors.As(err, &typ) && typ.Field == "":
			return apps.Invalid("body", "must be a JSON object")
		case errors.As(err, &typ):
			// For a wrong element of an array or a map, encoding/json
			// names the field and the element's type ("scopes": [1] is
			// "scopes", string): say what the field as declared must be.
			return apps.Invalid(FieldProblem(v, typ))
		case errors.As(err, &syn):
			return apps.Invalid("body", fmt.Sprintf("malformed JSON at byte %d", syn.Offset))
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			f := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
			return apps.Invalid(f, "unknown or read-only field")
		case errors.Is(err, io.EOF):
			return apps.Invalid("body", "empty: send a JSON object")
		case errors.Is(err, io.ErrUnexpectedEOF):
			return apps.Invalid("body", "malformed JSON: it ends early")
		}
		return apps.Invalid("body", "malformed JSON")
	}
	if dec.More() {
		return apps.Invalid("body", "one JSON object expected")
	}
	return nil
}

// repeatedKey refuses a key given twice in one object of the body's first
// JSON value, naming it: encoding/json would keep the last, so what a
// reviewer or a filtering proxy reads as the body would not be what is
// applied. Keys are compared unescaped, and at the top level, where they
// name struct fields, case-folded as encoding/json matches them ("name"
// and "Name" set one field); a nested object's (metadata's) are exact, as
// they are map keys. A repeat in a nested object is reported on its
// top-level field. Malformed JSON is left to the decoder, which says where.
func repeatedKey(body []byte) error {
	type object struct {
		seen    map[string]bool
		wantKey bool
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	var stack []*object // the open objects and arrays (nil entries)
	field := ""         // the top-level field being read
	for {
		tok, err := dec.Token()
		if err != nil {
			return nil
		}
		var top *object
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if key, ok := tok.(string); ok && top != nil && top.wantKey {
			k := key
			if len(stack) == 1 {
				k, field = strings.ToLower(strings.ToUpper(key)), key
			}
			if top.seen[k] {
				if len(stack) == 1 {
					return apps.Invalid(key, "given more than once: send each field once")
				}
				return apps.Invalid(field, fmt.Sprintf("key %q given more than once", truncate(key, 70)))
			}
			top.seen[k], top.wantKey = true, false
			continue
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, &object{seen: map[string]bool{}, wantKey: true})
			continue
		case json.Delim('['):
			stack = append(stack, nil)
			continue
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:len(stack)-1]
		}
		if len(stack) == 0 {
			return nil // the first value is read; the decoder refuses more
		}
		// A value ended: its object, if it is in one, wants a key next.
		if top := stack[len(stack)-1]; top != nil {
			top.wantKey = true
		}
	}
}

// jsonPath is a decoding error's field path as the caller wrote it:
// without the names of embedded Go structs ("ClientAuth.jwks_uri" is
// jwks_uri).
func jsonPath(field string) string {
	parts := strings.Split(field, ".")
	kept := parts[:0]
	for _, p := range parts {
		if p != "" && p[0] >= 'A' && p[0] <= 'Z' {
			continue
		}
		kept = append(kept, p)
	}
	return strings.Join(kept, ".")
}

// FieldProblem words a wrong-typed value that decoding JSON into v (a
// pointer to a struct) met: the field's JSON path and what it must be, as
// declared. For a wrong element of an array or a map, encoding/json names
// the field and the element's type ("scopes": [1] is "scopes", string),
// and it names embedded structs by their Go types in the path: the answer
// is "scopes", "must be an array of strings". The admin API and the CLI's
// migration files word their refusals with it.
func FieldProblem(v any, typ *json.UnmarshalTypeError) (path, problem string) {
	path, what := jsonPath(typ.Field), jsonType(typ.Type)
	if t := declaredType(v, path); t != nil {
		what = jsonType(t)
	}
	return path, "must be " + what
}

// declaredType is the type of the field of v (a pointer to a struct) at
// the JSON path (dot-separated, jsonPath's), through arrays' elements,
// pointers removed; nil if there is none.
func declaredType(v any, path string) reflect.Type {
	t := reflect.TypeOf(v)
	for _, name := range strings.Split(path, ".") {
		t = derefType(t)
		for t != nil && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) {
			t = derefType(t.Elem())
		}
		if t == nil || t.Kind() != reflect.Struct {
			return nil
		}
		f, ok := jsonField(t, name)
		if !ok {
			return nil
		}
		t = f.Type
	}
	return derefType(t)
}

// jsonField is the field of struct type t that JSON names name, looking
// into embedded structs as encoding/json does.
func jsonField(t reflect.Type, name string) (reflect.StructField, bool) {
	for i := range t.NumField() {
		f := t.Field(i)
		tag, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if f.Anonymous && tag == "" {
			if et := derefType(f.Type); et != nil && et.Kind() == reflect.Struct {
				if ef, ok := jsonField(et, name); ok {
					return ef, true
				}
			}
			continue
		}
		if tag == name {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

func derefType(t reflect.Type) reflect.Type {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t
}

// jsonType says what JSON a field of type t takes.
func jsonType(t reflect.Type) string {
	t = derefType(t)
	switch {
	case t == nil:
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.String:
		return "an array of strings"
	case t.Kind() == reflect.Slice:
		return "an array"
	case t.Kind() == reflect.Map:
		return `an object of string values, such as {"team": "billing"}`
	case t.Kind() == reflect.Bool:
		return "true or false"
	case t.Name() == "WorkloadIdentity":
		return "an object with issuer, subject, audience and optionally jwks_uri"
	case t.Kind() >= reflect.Int && t.Kind() <= reflect.Uint64:
		return "a whole number"
	}
	return "a string"
}

func (a *Admin) createApp(c echo.Context) error {
	var req adminapi.NewApplicationRequest
	if err := decodeJSON(c, &req, false); err != nil {
		return writeError(c, err)
	}
	app, secret, err := a.apps.Create(c.Request().Context(), newApplicationFrom(req))
	if err != nil {
		return writeError(c, err)
	}
	out := applicationOf(app, store.Usage{})
	out.ClientSecret = secret
	web.NoStore(c.Response().Header())
	c.Response().Header().Set(echo.HeaderLocation, Prefix+"/applications/"+app.ClientID)
	return web.WriteJSON(c, http.StatusCreated, out)
}

func (a *Admin) listApps(c echo.Context) error {
	limit, err := queryLimit(c)
	if err != nil {
		return writeError(c, err)
	}
	order := c.QueryParam("order")
	if order != "" && order != "asc" && order != "desc" {
		return writeError(c, apps.Invalid("order", "asc or desc"))
	}
	q := apps.ListQuery{
		// name is the older name of search, kept for older clients.
		Search: cmp.Or(c.QueryParam("search"), c.QueryParam("name")), Owner: c.QueryParam("owner"),
		Sort: c.QueryParam("sort"), Desc: order == "desc",
		After: c.QueryParam("cursor"), Before: c.QueryParam("before"), Limit: limit,
	}
	page, err := a.apps.List(c.Request().Context(), q)
	if err != nil {
		return writeError(c, err)
	}
	out := adminapi.ApplicationList{Applications: make([]adminapi.Application, 0, len(page.Apps)),
		NextCursor: page.Next, PrevCursor: page.Prev, Capped: page.Capped}
	for _, l := range page.Apps {
		out.Applications = append(out.Applications, applicationOf(l.Application, l.Usage))
	}
	return web.WriteJSON(c, http.StatusOK, out)
}

func queryLimit(c echo.Context) (int, error) {
	s := c.QueryParam("limit")
	if s == "" {
		return 50, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > apps.MaxPage {
		return 0, apps.Invalid("limit", fmt.Sprintf("a whole number from 1 to %d", apps.MaxPage))
	}
	return n, nil
}

func (a *Admin) getApp(c echo.Context) error {
	app, usage, err := a.apps.Get(c.Request().Context(), c.Param("id"))
	if err != nil {
		return writeError(c, err)
	}
	return web.WriteJSON(c, http.StatusOK, applicationOf(app, usage))
}

func (a *Admin) updateApp(c echo.Context) error {
	var req adminapi.ApplicationPatchRequest
	if err := decodeJSON(c, &req, false); err != nil {
		return writeError(c, err)
	}
	ctx := c.Request().Context()
	_, secret, err := a.apps.Patch(ctx, c.Param("id"), patchFrom(req))
	if err != nil {
		return writeError(c, err)
	}
	// Answer in the same shape as GET, usage included, with the secret a
	// move to a secret method issued, this once.
	app, usage, err := a.apps.Get(ctx, c.Param("id"))
	if err != nil {
		return writeError(c, err)
	}
	out := applicationOf(app, usage)
	if secret != "" {
		out.ClientSecret = secret
		web.NoStore(c.Response().Header())
	}
	return web.WriteJSON(c, http.StatusOK, out)
}

func (a *Admin) deleteApp(c echo.Context) error {
	if err := a.apps.Delete(c.Request().Context(), c.Param("id")); err != nil {
		return writeError(c, err)
	}
	return c.NoContent(http.StatusNoContent)
}

func (a *Admin) resetSecret(c echo.Context) error {
	var req adminapi.SecretResetRequest
	if err := decodeJSON(c, &req, true); err != nil {
		return writeError(c, err)
	}
	var grace time.Duration
	if req.GracePeriod != "" {
		var err error
		if grace, err = time.ParseDuration(req.GracePeriod); err != nil {
			return writeError(c, apps.Invalid("grace_period", "a duration such as 1h or 30m"))
		}
	}
	app, secret, sid, err := a.apps.ResetSecret(c.Request().Context(), c.Param("id"), grace)
	if err != nil {
		return writeError(c, err)
	}
	web.NoStore(c.Response().Header())
	return web.WriteJSON(c, http.StatusCreated, adminapi.SecretReset{
		ClientID: app.ClientID, ClientSecret: secret, SecretID: sid, Secrets: secretsOf(app, store.Usage{}),
	})
}

func (a *Admin) deleteSecret(c echo.Context) error {
	if _, err := a.apps.DeleteSecret(c.Request().Context(), c.Param("id"), c.Param("sid")); err != nil {
		return writeError(c, err)
	}
	return c.NoContent(http.StatusNoContent)
}

func (a *Admin) revokeTokens(c echo.Context) error {
	if err := a.apps.RevokeTokens(c.Request().Context(), c.Param("id")); err != nil {
		return writeError(c, err)
	}
	return c.NoContent(http.StatusNoContent)
}

func (a *Admin) listTokens(c echo.Context) error {
	limit, err := queryLimit(c)
	if err != nil {
		return writeError(c, err)
	}
	list, more, err := a.apps.ListTokens(c.Request().Context(), c.Param("id"), limit)
	if err != nil {
		return writeError(c, err)
	}
	out := adminapi.TokenList{Tokens: make([]adminapi.Token, 0, len(list)), More: more}
	for _, t := range list {
		out.Tokens = append(out.Tokens, tokenOf(t))
	}
	return web.WriteJSON(c, http.StatusOK, out)
}

func (a *Admin) revokeToken(c echo.Context) error {
	if err := a.apps.RevokeToken(c.Request().Context(), c.Param("jti")); err != nil {
		return writeError(c, err)
	}
	return c.NoContent(http.StatusNoContent)
}

func (a *Admin) createAPIKey(c echo.Context) error {
	var req adminapi.NewAPIKeyRequest
	if err := decodeJSON(c, &req, false); err != nil {
		return writeError(c, err)
	}
	t, key, err := a.apps.CreateAPIKey(c.Request().Context(), c.Param("id"), apps.NewAPIKey(req))
	if err != nil {
		return writeError(c, err)
	}
	web.NoStore(c.Response().Header())
	return web.WriteJSON(c, http.StatusCreated, adminapi.APIKey{Token: tokenOf(t), Key: key})
}

func (a *Admin) listEvents(c echo.Context) error {
	limit, err := queryLimit(c)
	if err != nil {
		return writeError(c, err)
	}
	f := store.EventFilter{Log: c.QueryParam("log"), ClientID: c.QueryParam("client_id"), Kind: c.QueryParam("kind")}
	ev, next, err := a.apps.Events(c.Request().Context(), f, c.QueryParam("cursor"), limit)
	if err != nil {
		return writeError(c, err)
	}
	out := adminapi.EventList{Events: make([]adminapi.Event, 0, len(ev)), NextCursor: next}
	for _, e := range ev {
		out.Events = append(out.Events, eventOf(e))
	}
	return web.WriteJSON(c, http.StatusOK, out)
}

// importApp answers PUT /applications/{id}: 201 with the application
// (never the secret), 409 if the id is taken.
func (a *Admin) importApp(c echo.Context) error {
	var req adminapi.ImportApplicationRequest
	if err := decodeJSON(c, &req, false); err != nil {
		return writeError(c, err)
	}
	secrets, err := secretsFrom(req.SecretDigests)
	if err != nil {
		return writeError(c, err)
	}
	app, err := a.apps.Import(c.Request().Context(), apps.ImportedApplication{
		NewApplication: newApplicationFrom(req.NewApplicationRequest),
		ClientID:       c.Param("id"),
		ClientSecret:   req.ClientSecret,
		Secrets:        secrets,
		Disabled:       req.Enabled != nil && !*req.Enabled,
	})
	if err != nil {
		return writeError(c, err)
	}
	web.NoStore(c.Response().Header())
	c.Response().Header().Set(echo.HeaderLocation, Prefix+"/applications/"+app.ClientID)
	return web.WriteJSON(c, http.StatusCreated, applicationOf(app, store.Usage{}))
}

// exportApps answers GET /export: a page of applications as PUT
// /applications/{id} takes them back, with their secrets' digests unless
// secrets=none.
func (a *Admin) exportApps(c echo.Context) error {
	limit, err := queryLimit(c)
	if err != nil {
		return writeError(c, err)
	}
	var withSecrets bool
	switch c.QueryParam("secrets") {
	case "", "digests":
		withSecrets = true
	case "none":
	default:
		return writeError(c, apps.Invalid("secrets", "digests (the default) or none"))
	}
	page, next, err := a.apps.Export(c.Request().Context(), c.QueryParam("cursor"), limit, withSecrets)
	if err != nil {
		return writeError(c, err)
	}
	out := adminapi.ApplicationExport{Applications: make([]adminapi.ExportedApplication, 0, len(page)), NextCursor: next}
	for _, app := range page {
		out.Applications = append(out.Applications, exportedOf(app))
	}
	web.NoStore(c.Response().Header())
	return web.WriteJSON(c, http.StatusOK, out)
}

func (a *Admin) listKeys(c echo.Context) error {
	keys, err := a.apps.SigningKeys(c.Request().Context())
	if err != nil {
		return writeError(c, err)
	}
	out := adminapi.SigningKeyList{Keys: make([]adminapi.SigningKey, 0, len(keys))}
	for _, k := range keys {
		out.Keys = append(out.Keys, signingKeyOf(k))
	}
	return web.WriteJSON(c, http.StatusOK, out)
}

// rotateKey answers POST /signing-keys: a new key, published now, signing
// from signs_from. The body, empty or {}, says nothing, but is read: a
// request carrying something else was not meant for this route, and must
// not rotate the key.
func (a *Admin) rotateKey(c echo.Context) error {
	if err := decodeJSON(c, &struct{}{}, true); err != nil {
		return writeError(c, err)
	}
	k, err := a.apps.RotateSigningKey(c.Request().Context())
	if err != nil {
		return writeError(c, err)
	}
	return web.WriteJSON(c, http.StatusCreated, signingKeyOf(k))
}

// listScopes answers GET /scopes: the catalogue every replica shares,
// which a delegated administrator may read too.
func (a *Admin) listScopes(c echo.Context) error {
	cat, err := a.apps.Catalogue(c.Request().Context())
	if err != nil {
		return writeError(c, err)
	}
	out := adminapi.ScopeList{Scopes: []adminapi.Scope{}, Forms: cat.Forms()}
	for _, s := range cat.Scopes() {
		out.Scopes = append(out.Scopes, adminapi.Scope{Name: s.Name, Description: s.Description})
	}
	return web.WriteJSON(c, http.StatusOK, out)
}

// putScope answers PUT /scopes/{name}: 201 for a new scope, 200 for a new
// description.
func (a *Admin) putScope(c echo.Context) error {
	var req adminapi.ScopeRequest
	if err := decodeJSON(c, &req, false); err != nil {
		return writeError(c, err)
	}
	sc, added, err := a.apps.SetScope(c.Request().Context(), c.Param("name"), req.Description)
	if err != nil {
		return writeError(c, err)
	}
	status := http.StatusOK
	if added {
		status = http.StatusCreated
		c.Response().Header().Set(echo.HeaderLocation, Prefix+"/scopes/"+sc.Name)
	}
	return web.WriteJSON(c, status, adminapi.Scope{Name: sc.Name, Description: sc.Description})
}

// deleteScope answers DELETE /scopes/{name}[?force=true]: 204, or 409 with
// the applications holding it.
func (a *Admin) deleteScope(c echo.Context) error {
	var force bool
	switch c.QueryParam("force") {
	case "", "false":
	case "true":
		force = true
	default:
		return writeError(c, apps.Invalid("force", "true or false"))
	}
	if _, err := a.apps.DeleteScope(c.Request().Context(), c.Param("name"), force); err != nil {
		return writeError(c, err)
	}
	return c.NoContent(http.StatusNoContent)
}
