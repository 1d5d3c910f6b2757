package dashboard

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/oauthd/oauthd/scopes"
	"github.com/oauthd/oauthd/server/apps"
	"github.com/oauthd/oauthd/store"
)

// pageSize is how many applications or events one page lists.
const pageSize = 25

type appsView struct {
	Search, Owner string
	// Sort is the order chosen: created or name, "-" first for descending.
	Sort  string
	Sorts []choice
	// Paging: this page's links to its neighbours ("" for none), and
	// First when this is not the first page.
	PrevURL, NextURL, FirstURL string
	Apps                       []application
	Error                      string
	ErrorField                 string
	Filtered                   bool
	Capped                     bool
	Notice                     string
}

// choice is an option of a select.
type choice struct{ Value, Label string }

var appSorts = []choice{
	{"-created", "Newest first"}, {"created", "Oldest first"}, {"name", "Name, A to Z"}, {"-name", "Name, Z to A"},
}

func (d *Dashboard) listApps(c echo.Context) error {
	v := appsView{Search: strings.TrimSpace(c.QueryParam("search")), Owner: strings.TrimSpace(c.QueryParam("owner")),
		Sort: c.QueryParam("sort"), Sorts: appSorts}
	if !slices.ContainsFunc(appSorts, func(s choice) bool { return s.Value == v.Sort }) {
		v.Sort = appSorts[0].Value
	}
	if current(c).actor.Delegate != nil {
		v.Owner = "" // a delegate always sees its own owner's: the filter is not offered
	}
	v.Filtered = v.Search != "" || v.Owner != ""
	v.Notice = notices[c.QueryParam("done")]
	q := apps.ListQuery{Search: v.Search, Owner: v.Owner, Sort: strings.TrimPrefix(v.Sort, "-"), Desc: strings.HasPrefix(v.Sort, "-"),
		After: c.QueryParam("after"), Before: c.QueryParam("before"), Limit: pageSize}
	res, err := d.apps.List(c.Request().Context(), q)
	status := http.StatusOK
	if err != nil {
		p := explain(err)
		if p.Status >= 500 || p.Status == http.StatusNotFound {
			return d.renderError(c, err)
		}
		status, v.Error, v.ErrorField = p.Status, p.Message, p.Field
	}
	for _, l := range res.Apps {
		v.Apps = append(v.Apps, applicationOf(l.Application, l.Usage))
	}
	link := func(k, cursor string) string {
		u := url.Values{}
		for _, p := range [][2]string{{"search", v.Search}, {"owner", v.Owner}, {"sort", v.Sort}, {k, cursor}} {
			if p[1] != "" && p[0] != "" {
				u.Set(p[0], p[1])
			}
		}
		return Prefix + "applications?" + u.Encode()
	}
	if res.Prev != "" {
		v.PrevURL, v.FirstURL = link("before", res.Prev), link("", "")
	}
	if res.Next != "" {
		v.NextURL = link("after", res.Next)
	}
	v.Capped = res.Capped
	return d.render(c, status, "apps", page{Title: "Applications", Nav: "apps", Data: v})
}

// appForm is the application form, new or edit, with the errors of its
// last submission by field.
type appForm struct {
	Name, Description, Owner string
	// Lifetime is the chosen radio: 24h, 168h, never or custom; Custom the
	// custom duration.
	Lifetime, Custom string
	Scopes           []string
	Allowlist        string
	Metadata         string
	// Format is opaque or jwt; Audiences one per line.
	Format    string
	Audiences string
	// TokenQuota, IntrospectionQuota and QuotaMode are the application's
	// own ("" for the server's, which DefaultIssue and
	// DefaultIntrospect describe).
	TokenQuota, IntrospectionQuota, QuotaMode string
	DefaultIssue, DefaultIntrospect           string
	// DPoPBound and Profile are the binding policy (binding.go).
	DPoPBound bool
	Profile   string
	// Catalogue is the scopes to pick from, the forms (all:any,
	// resource:*) after them.
	Catalogue []scopes.Scope
	Errors    map[string]string
	// Message is an error that belongs to no field.
	Message string
	// Auth is a new application's authentication (the application page
	// has a form of its own).
	Auth authForm
}

var lifetimeChoices = []string{"24h", "168h", "never"}

// blankForm is a new application's form, with the catalogue in force.
func (d *Dashboard) blankForm(ctx context.Context) (appForm, error) {
	cat, err := d.apps.Catalogue(ctx)
	if err != nil {
		return appForm{}, err
	}
	lim := d.apps.Limits()
	return appForm{Lifetime: "24h", Format: "opaque", Catalogue: pickable(cat), Errors: map[string]string{},
		DefaultIssue: apps.FormatQuota(store.Quota{Set: true, Rate: lim.Issue}), DefaultIntrospect: apps.FormatQuota(store.Quota{Set: true, Rate: lim.Introspect})}, nil
}

// pickable is what the scope pickers offer: the catalogue, then the forms
// with what each stands for.
func pickable(cat *scopes.Catalogue) []scopes.Scope {
	out := cat.Scopes()
	for _, f := range cat.Forms() {
		desc := "Every catalogued scope but " + scopes.Admin + " and " + scopes.Introspect + ", now and as the catalogue grows"
		if f != scopes.All {
			desc = "Every " + strings.TrimSuffix(f, "*") + "… scope, now and as the catalogue grows"
		}
		out = append(out, scopes.Scope{Name: f, Description: desc})
	}
	return out
}

func (d *Dashboard) formOf(ctx context.Context, a application) (appForm, error) {
	f, err := d.blankForm(ctx)
	if err != nil {
		return f, err
	}
	f.Name, f.Description, f.Owner, f.Scopes = a.Name, a.Description, a.Owner, a.Scopes
	f.Allowlist = strings.Join(a.IPAllowlist, "\n")
	f.Metadata = formatMetadata(a.Metadata)
	f.Format = a.TokenFormat
	f.Audiences = strings.Join(a.Audiences, "\n")
	f.Lifetime = a.TokenLifetime
	f.TokenQuota, f.IntrospectionQuota, f.QuotaMode = a.TokenQuota, a.IntrospectionQuota, a.QuotaMode
	f.DPoPBound, f.Profile = a.DPoPBound, a.Profile
	if !contains(lifetimeChoices, f.Lifetime) {
		f.Lifetime, f.Custom = "custom", a.TokenLifetime
	}
	return f, nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// readForm reads a posted application form.
func (d *Dashboard) readForm(c echo.Context) (appForm, error) {
	f, err := d.blankForm(c.Request().Context())
	if err != nil {
		return f, err
	}
	f.Name = c.FormValue("name")
	f.Description = c.FormValue("description")
	f.Owner = c.FormValue("owner")
	f.Lifetime = c.FormValue("token_lifetime")
	f.Custom = strings.TrimSpace(c.FormValue("token_lifetime_custom"))
	if fv, err := c.FormParams(); err == nil {
		f.Scopes = fv["scopes"]
	}
	f.Allowlist = c.FormValue("ip_allowlist")
	f.Metadata = c.FormValue("metadata")
	f.Format = c.FormValue("token_format")
	f.Audiences = c.FormValue("audiences")
	f.TokenQuota, f.IntrospectionQuota = c.FormValue("token_quota"), c.FormValue("introspection_quota")
	f.QuotaMode = c.FormValue("quota_mode")
	if err := readBindingFields(c, &f); err != nil {
		return f, err
	}
	return f, nil
}

// lifetime is the form's token lifetime as the service reads it.
func (f appForm) lifetime() string {
	if f.Lifetime == "custom" || !contains(lifetimeChoices, f.Lifetime) {
		if f.Custom == "" {
			return "-" // refused by the service with a message for the field
		}
		return f.Custom
	}
	return f.Lifetime
}

func allowlistLines(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == '\n' || r == '\r' || r == ',' || r == ' ' || r == '\t' })
}

// fieldOf is the form field a service error concerns: a validation
// error's field, or for a refusal the field its rule is about.
func fieldOf(p problem) string {
	if p.Field != "" {
		return p.Field
	}
	switch p.Rule {
	case "scope", "reserved_scope":
		return "scopes"
	case "lifetime":
		return "token_lifetime"
	case "owner":
		return "owner"
	case "allowlist":
		return "ip_allowlist"
	}
	return ""
}

// formError puts err next to its field; false when it belongs to no form
// (not found, store down), which the caller shows as a page.
func (f *appForm) formError(err error) (int, bool) {
	p := explain(err)
	if p.Status >= 500 || p.Status == http.StatusNotFound {
		return 0, false
	}
	if field := fieldOf(p); field != "" {
		f.Errors[field] = p.Message
	} else {
		f.Message = p.Message
	}
	return p.Status, true
}

func (d *Dashboard) newAppPage(c echo.Context) error {
	f, err := d.blankForm(c.Request().Context())
	if err != nil {
		return d.renderError(c, err)
	}
	f.Auth = authForm{Methods: authMethods, Legacy: true}
	return d.render(c, http.StatusOK, "new", page{Title: "New application", Nav: "new", Data: f})
}

type createdView struct {
	App    application
	Secret string
	Curl   string
}

func (d *Dashboard) createApp(c echo.Context) error {
	f, err := d.readForm(c)
	if err != nil {
		return d.renderError(c, err)
	}
	f.Auth = readAuthForm(c)
	f.Auth.Legacy = true
	md, err := parseMetadata(f.Metadata)
	var auth store.ClientAuth
	if err == nil {
		auth, err = f.Auth.clientAuth()
	}
	if err == nil {
		var a store.Application
		var secret string
		a, secret, err = d.apps.Create(c.Request().Context(), apps.NewApplication{
			Name: f.Name, Description: f.Description, Owner: f.Owner, Metadata: md, Scopes: f.Scopes,
			TokenLifetime: f.lifetime(), IPAllowlist: allowlistLines(f.Allowlist),
			TokenFormat: f.Format, Audiences: allowlistLines(f.Audiences),
			TokenQuota: f.TokenQuota, IntrospectionQuota: f.IntrospectionQuota, QuotaMode: f.QuotaMode,
			Auth:      auth,
			DPoPBound: f.DPoPBound, Profile: f.Profile,
		})
		if err == nil {
			v := createdView{App: applicationOf(a, store.Usage{}), Secret: secret}
			if a.Auth.Method == "" || a.Auth.Method == store.AuthSecretBasic {
				v.Curl = d.curl(a.ClientID, secret)
			}
			return d.render(c, http.StatusCreated, "created", page{Title: "Application created", Nav: "new", Data: v})
		}
	}
	if p := explain(err); authField(p.Field) {
		// The error goes by the authentication fields, with the input kept.
		f.Auth.Error, f.Auth.Field = p.Message, p.Field
		return d.render(c, p.Status, "new", page{Title: "New application", Nav: "new", Data: f})
	}
	status, ok := f.formError(err)
	if !ok {
		return d.renderError(c, err)
	}
	return d.render(c, status, "new", page{Title: "New application", Nav: "new", Data: f})
}

// curl is a ready-to-paste command that gets a token with the new
// credentials from this server's token endpoint.
func (d *Dashboard) curl(id, secret string) string {
	return fmt.Sprintf("curl -s -u '%s:%s' -d grant_type=client_credentials %s/oauth/token", id, secret, strings.TrimSuffix(d.cfg.Issuer, "/"))
}

// appView is the application page: its details, the edit form, every
// action and what each last reported.
type appView struct {
	App        application
	Form       appForm
	Tokens     []tokenRow
	MoreTokens bool
	Chart      chart
	Quota      quotaView
	Events     []eventRow
	// Errors holds an action's error by section: secrets, tokens,
	// api_keys, enabled, delete.
	Errors map[string]string
	// Section is the section a failed API key form came from, with its
	// input.
	KeyName, KeyExpires string
	Notice              string
	// AuthForm is the authentication form: the application's setting,
	// or what a refused post held.
	AuthForm authForm
}

type tokenRow struct {
	JTI, Kind, Name, Scopes string
	IssuedAt                time.Time
	ExpiresAt               time.Time
}

// eventRow is an audit event as the pages show it: what happened, by
// whom, and what changed, field by field.
type eventRow struct {
	ID, Kind, Title, Actor, ClientID, IP string
	Changes                              []change
	Time                                 time.Time
}

func eventRows(list []store.Event) []eventRow {
	out := make([]eventRow, 0, len(list))
	for _, e := range list {
		out = append(out, eventRow{ID: e.ID, Kind: e.Kind, Title: eventTitle(e), Actor: e.Actor, ClientID: e.ClientID, IP: e.IP,
			Changes: changesOf(e.Detail), Time: e.Time})
	}
	return out
}

// notices are the messages an action leaves after its redirect, by code:
// fixed text, so a crafted link cannot put words on the page.
var notices = map[string]string{
	"updated":     "Changes saved.",
	"enabled":     "The application is enabled.",
	"disabled":    "The application is disabled: it gets no tokens and its tokens stop working.",
	"secret":      "Secret deleted.",
	"revoked-all": "Every token and API key of the application is revoked.",
	"revoked":     "Revoked.",
	"deleted":     "Application deleted.",
	"auth":        "Authentication saved: the token endpoint takes the new method and keys at once.",
	"auth-same":   "Nothing changed: the application still takes its shared secret with HTTP Basic or in the body.",

	"scope-added":     "Scope added: every replica offers it within moments.",
	"scope-described": "Description saved.",
	"scope-deleted":   "Scope deleted.",
}

const eventsOnAppPage = 10

func (d *Dashboard) loadApp(c echo.Context, id string) (appView, error) {
	ctx := c.Request().Context()
	a, u, err := d.apps.Get(ctx, id)
	if err != nil {
		return appView{}, err
	}
	v := appView{App: applicationOf(a, u), Errors: map[string]string{}, Notice: notices[c.QueryParam("done")], AuthForm: authFormOf(a.Auth)}
	if v.Form, err = d.formOf(ctx, v.App); err != nil {
		return appView{}, err
	}
	toks, more, err := d.apps.ListTokens(ctx, id, 100)
	if err != nil {
		return appView{}, err
	}
	v.MoreTokens = more
	for _, t := range toks {
		kind := "access token"
		if t.Kind == "api_key" {
			kind = "API key"
		}
		v.Tokens = append(v.Tokens, tokenRow{JTI: t.ID, Kind: kind, Name: t.Name, Scopes: strings.Join(t.Scopes, " "), IssuedAt: t.IssuedAt, ExpiresAt: t.ExpiresAt})
	}
	hours, err := d.apps.IssuedPerHour(ctx, id, 24)
	if err != nil {
		return appView{}, err
	}
	v.Chart = newChart(hours, d.cfg.Now())
	v.Quota = quotaOf(a, d.apps.Limits(), hours)
	ev, _, err := d.apps.Events(ctx, store.EventFilter{ClientID: id}, "", eventsOnAppPage)
	if err != nil {
		return appView{}, err
	}
	v.Events = eventRows(ev)
	return v, nil
}

func (d *Dashboard) appPage(c echo.Context) error {
	v, err := d.loadApp(c, c.Param("id"))
	if err != nil {
		return d.renderError(c, err)
	}
	return d.renderApp(c, http.StatusOK, v)
}

func (d *Dashboard) renderApp(c echo.Context, status int, v appView) error {
	return d.render(c, status, "app", page{Title: v.App.Name, Nav: "apps", Data: v})
}

// actionFailed shows err next to the section of the application page it
// concerns, or as a page of its own when the application cannot be shown.
func (d *Dashboard) actionFailed(c echo.Context, section string, err error, edit func(*appView)) error {
	p := explain(err)
	if p.Status >= 500 || p.Status == http.StatusNotFound {
		return d.renderError(c, err)
	}
	v, lerr := d.loadApp(c, c.Param("id"))
	if lerr != nil {
		return d.renderError(c, lerr)
	}
	msg := p.Message
	if p.Field != "" && section != "edit" {
		msg = p.Field + ": " + msg
	}
	v.Errors[section] = msg
	if edit != nil {
		edit(&v)
	}
	return d.renderApp(c, p.Status, v)
}

func (d *Dashboard) done(c echo.Context, code string) error {
	return c.Redirect(http.StatusSeeOther, Prefix+"applications/"+url.PathEscape(c.Param("id"))+"?done="+code)
}

func (d *Dashboard) updateApp(c echo.Context) error {
	f, err := d.readForm(c)
	if err != nil {
		return d.renderError(c, err)
	}
	md, err := parseMetadata(f.Metadata)
	if err == nil {
		life, allow, aud := f.lifetime(), allowlistLines(f.Allowlist), allowlistLines(f.Audiences)
		_, err = d.apps.Update(c.Request().Context(), c.Param("id"), apps.ApplicationPatch{
			Name: &f.Name, Description: &f.Description, Owner: &f.Owner, Metadata: &md,
			Scopes: &f.Scopes, TokenLifetime: &life, IPAllowlist: &allow,
			TokenFormat: &f.Format, Audiences: &aud,
			TokenQuota: &f.TokenQuota, IntrospectionQuota: &f.IntrospectionQuota, QuotaMode: &f.QuotaMode,
			DPoPBound: &f.DPoPBound, Profile: &f.Profile,
		})
	}
	if err == nil {
		return d.done(c, "updated")
	}
	return d.actionFailed(c, "edit", err, func(v *appView) {
		// Keep what the operator typed, with the error by its field.
		if _, ok := f.formError(err); ok {
			v.Form = f
			delete(v.Errors, "edit")
		}
	})
}

// confirmView asks before a destructive action, naming the application.
type confirmView struct {
	App     application
	Action  string
	Heading string
	Warning string
	Button  string
	// Fields are the original form's, posted again with confirm=yes.
	Fields [][2]string
}

// confirmed reports whether the form carries the confirmation; if not,
// it renders the confirmation page and the caller returns its error.
func (d *Dashboard) confirmed(c echo.Context, heading, warning, button string) (bool, error) {
	confirm, err := formChoice(c, "confirm", "yes", "")
	if err != nil {
		return false, d.renderError(c, err)
	}
	if confirm == "yes" {
		return true, nil
	}
	a, _, err := d.apps.Get(c.Request().Context(), c.Param("id"))
	if err != nil {
		return false, d.renderError(c, err)
	}
	v := confirmView{App: applicationOf(a, store.Usage{}), Action: c.Request().URL.Path, Button: button,
		Heading: fmt.Sprintf(heading, a.Name), Warning: warning}
	if fv, err := c.FormParams(); err == nil {
		for k, vals := range fv {
			if k == csrfField || k == "confirm" {
				continue
			}
			for _, val := range vals {
				v.Fields = append(v.Fields, [2]string{k, val})
			}
		}
	}
	return false, d.render(c, http.StatusOK, "confirm", page{Title: "Confirm", Nav: "apps", Data: v})
}

// formChoice reads a field that holds, once, one of the values the form
// sends ("" for the field left out). Anything else is refused rather than
// read as one of them: enabled=maybe used to mean false and disable an
// application.
func formChoice(c echo.Context, field string, sent ...string) (string, error) {
	fv, err := c.FormParams()
	if err != nil {
		return "", apps.Invalid(field, "the form could not be read; reload the page and try again")
	}
	got := fv[field]
	if len(got) == 1 && slices.Contains(sent, got[0]) || len(got) == 0 && slices.Contains(sent, "") {
		return strings.Join(got, ""), nil
	}
	var want []string
	for _, v := range sent {
		if v == "" {
			v = "nothing"
		} else {
			v = strconv.Quote(v)
		}
		want = append(want, v)
	}
	what := "nothing"
	if len(got) > 0 {
		what = strconv.Quote(truncate(strings.Join(got, ","), 20))
	}
	return "", apps.Invalid(field, fmt.Sprintf("%s is not a value of this form, which sends %s; reload the page and use its buttons", what, strings.Join(want, " or ")))
}

func (d *Dashboard) setEnabled(c echo.Context) error {
	v, err := formChoice(c, "enabled", "true", "false")
	if err != nil {
		return d.actionFailed(c, "enabled", err, nil)
	}
	enable := v == "true"
	if !enable {
		if ok, err := d.confirmed(c, "Disable %s?", "It will get no new tokens, and its tokens and API keys stop working until it is enabled again.", "Disable"); !ok {
			return err
		}
	}
	if _, err := d.apps.Update(c.Request().Context(), c.Param("id"), apps.ApplicationPatch{Enabled: &enable}); err != nil {
		return d.actionFailed(c, "enabled", err, nil)
	}
	if enable {
		return d.done(c, "enabled")
	}
	return d.done(c, "disabled")
}

func (d *Dashboard) deleteApp(c echo.Context) error {
	if ok, err := d.confirmed(c, "Delete %s?", "The application, its secrets, tokens and API keys are deleted for good; daemons using them stop working at once.", "Delete application"); !ok {
		return err
	}
	if err := d.apps.Delete(c.Request().Context(), c.Param("id")); err != nil {
		return d.actionFailed(c, "delete", err, nil)
	}
	return c.Redirect(http.StatusSeeOther, Prefix+"applications?done=deleted")
}

// secretView shows a credential once: a new secret or API key.
type secretView struct {
	App     application
	Heading string
	Label   string
	Value   string
	Curl    string
	Note    string
}

func (d *Dashboard) resetSecret(c echo.Context) error {
	graceText := strings.TrimSpace(c.FormValue("grace_period"))
	var grace time.Duration
	if graceText != "" {
		var err error
		if grace, err = time.ParseDuration(graceText); err != nil {
			return d.actionFailed(c, "secrets", apps.Invalid("grace_period", "a duration such as 1h, 30m or 24h (empty: the old secrets stop at once)"), nil)
		}
	}
	warning := "The old secrets stop working at once: daemons still using them can get no new tokens."
	if grace > 0 {
		warning = fmt.Sprintf("The old secrets keep working for %s, then stop.", apps.FormatLifetime(grace))
	}
	if ok, err := d.confirmed(c, "Reset the secret of %s?", warning, "Reset secret"); !ok {
		return err
	}
	a, secret, _, err := d.apps.ResetSecret(c.Request().Context(), c.Param("id"), grace)
	if err != nil {
		return d.actionFailed(c, "secrets", err, nil)
	}
	v := secretView{App: applicationOf(a, store.Usage{}), Heading: "New client secret", Label: "Client secret", Value: secret, Note: warning}
	if a.Auth.Method == "" || a.Auth.Method == store.AuthSecretBasic {
		// The example sends the secret with HTTP Basic, which the other
		// secret methods do not accept.
		v.Curl = d.curl(a.ClientID, secret)
	}
	return d.render(c, http.StatusCreated, "secret", page{Title: "New secret", Nav: "apps", Data: v})
}

func (d *Dashboard) deleteSecret(c echo.Context) error {
	sid := c.FormValue("secret_id")
	if ok, err := d.confirmed(c, "Delete a secret of %s?", "Secret "+truncate(sid, 40)+" stops working at once.", "Delete secret"); !ok {
		return err
	}
	if _, err := d.apps.DeleteSecret(c.Request().Context(), c.Param("id"), sid); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			if _, _, gerr := d.apps.Get(c.Request().Context(), c.Param("id")); gerr == nil {
				return d.actionFailed(c, "secrets", apps.Conflict("That secret no longer exists."), nil)
			}
		}
		return d.actionFailed(c, "secrets", err, nil)
	}
	return d.done(c, "secret")
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

func (d *Dashboard) revokeAll(c echo.Context) error {
	if ok, err := d.confirmed(c, "Revoke every token of %s?", "Every access token and API key of the application stops working at once. Its secrets keep working: daemons can get new tokens.", "Revoke all tokens"); !ok {
		return err
	}
	if err := d.apps.RevokeTokens(c.Request().Context(), c.Param("id")); err != nil {
		return d.actionFailed(c, "tokens", err, nil)
	}
	return d.done(c, "revoked-all")
}

func (d *Dashboard) revokeToken(c echo.Context) error {
	jti := c.FormValue("jti")
	// The token must be this application's: the page's URL names it.
	if ref, ok := store.ParseJTI(jti); !ok || ref.ClientID != c.Param("id") {
		return d.actionFailed(c, "tokens", apps.Conflict("That token is not one of this application's."), nil)
	}
	if ok, err := d.confirmed(c, "Revoke a token of %s?", "Token "+truncate(jti, 80)+" stops working at once.", "Revoke"); !ok {
		return err
	}
	if err := d.apps.RevokeToken(c.Request().Context(), jti); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			if _, _, gerr := d.apps.Get(c.Request().Context(), c.Param("id")); gerr == nil {
				return d.actionFailed(c, "tokens", apps.Conflict("That token has expired or was revoked already."), nil)
			}
		}
		return d.actionFailed(c, "tokens", err, nil)
	}
	return d.done(c, "revoked")
}

func (d *Dashboard) createAPIKey(c echo.Context) error {
	in := apps.NewAPIKey{Name: c.FormValue("name"), ExpiresIn: strings.TrimSpace(c.FormValue("expires_in"))}
	if fv, err := c.FormParams(); err == nil {
		in.Scopes = fv["scopes"]
	}
	t, key, err := d.apps.CreateAPIKey(c.Request().Context(), c.Param("id"), in)
	if err != nil {
		return d.actionFailed(c, "api_keys", err, func(v *appView) { v.KeyName, v.KeyExpires = in.Name, in.ExpiresIn })
	}
	a, _, err := d.apps.Get(c.Request().Context(), c.Param("id"))
	if err != nil {
		return d.renderError(c, err)
	}
	note := "It never expires; revoke it on the application page when it is no longer needed."
	if !t.ExpiresAt.IsZero() {
		note = "It expires " + t.ExpiresAt.UTC().Format("2006-01-02 15:04 UTC") + "."
	}
	return d.render(c, http.StatusCreated, "secret", page{Title: "New API key", Nav: "apps", Data: secretView{
		App: applicationOf(a, store.Usage{}), Heading: "New API key " + t.Name, Label: "API key", Value: key, Note: note,
	}})
}

// eventsView is the events page: one of the audit log's two logs (the
// changes, or the security events, a tab each), filtered by application,
// kind and dates.
type eventsView struct {
	Log            string
	ClientID, Kind string
	// From and To are dates (YYYY-MM-DD, UTC), both days included.
	From, To            string
	Cursor              string
	NewestURL, OlderURL string
	Events              []eventRow
	Error               string
	Note                string
	Kinds               []string
}

// Security reports whether the page shows the security log.
func (v eventsView) Security() bool { return v.Log == store.LogSecurity }

// Filtered reports whether any filter is set.
func (v eventsView) Filtered() bool {
	return v.ClientID != "" || v.Kind != "" || v.From != "" || v.To != ""
}

func (d *Dashboard) events(c echo.Context) error {
	f := store.EventFilter{Log: c.QueryParam("log"), ClientID: strings.TrimSpace(c.QueryParam("client_id")), Kind: strings.TrimSpace(c.QueryParam("kind"))}
	v := eventsView{Log: store.LogAdmin, ClientID: f.ClientID, Kind: f.Kind, Cursor: c.QueryParam("cursor"),
		From: strings.TrimSpace(c.QueryParam("from")), To: strings.TrimSpace(c.QueryParam("to"))}
	log, err := apps.EventLog(f)
	if err == nil {
		v.Log, f.Log = log, log
	}
	v.Kinds = apps.AdminEventKinds
	if v.Security() {
		v.Kinds = apps.SecurityEventKinds
	}
	if current(c).actor.Delegate != nil && v.ClientID == "" {
		// The log has no owner index, so a delegate reads it one
		// application at a time: ask which, rather than answer 403.
		v.Note = "Enter the client ID of one of your applications (or open its page): delegated administration reads the audit log one application at a time."
		return d.render(c, http.StatusOK, "events", page{Title: "Events", Nav: "events", Data: v})
	}
	from, to, derr := dateRange(v.From, v.To)
	if err == nil {
		err = derr
	}
	cursor := v.Cursor
	if cursor == "" && !to.IsZero() {
		cursor = store.EventsBefore(to)
	}
	var ev []store.Event
	var next string
	if err == nil {
		ev, next, err = d.apps.Events(c.Request().Context(), f, cursor, 50)
	}
	status := http.StatusOK
	if err != nil {
		p := explain(err)
		if p.Status >= 500 {
			return d.renderError(c, err)
		}
		status, v.Error = p.Status, p.Message
	}
	if !from.IsZero() {
		// Newest first: past the first event before from, none is wanted.
		if i := slices.IndexFunc(ev, func(e store.Event) bool { return e.Time.Before(from) }); i >= 0 {
			ev, next = ev[:i], ""
		}
	}
	v.Events = eventRows(ev)
	link := func(cursor string) string {
		u := url.Values{}
		for k, val := range map[string]string{"log": v.Log, "client_id": v.ClientID, "kind": v.Kind, "from": v.From, "to": v.To, "cursor": cursor} {
			if val != "" && !(k == "log" && val == store.LogAdmin) {
				u.Set(k, val)
			}
		}
		return Prefix + "events?" + u.Encode()
	}
	if v.Cursor != "" {
		v.NewestURL = link("")
	}
	if next != "" {
		v.OlderURL = link(next)
	}
	return d.render(c, status, "events", page{Title: "Events", Nav: "events", Data: v})
}

// dateRange reads the events page's dates: from's midnight, and the
// midnight after to (UTC), zero for a date left empty.
func dateRange(from, to string) (time.Time, time.Time, error) {
	var out [2]time.Time
	for i, s := range []string{from, to} {
		if s == "" {
			continue
		}
		t, err := time.Parse(time.DateOnly, s)
		if err != nil {
			return time.Time{}, time.Time{}, apps.Invalid([]string{"from", "to"}[i], "a date such as 2026-03-31")
		}
		out[i] = t
	}
	if !out[1].IsZero() {
		out[1] = out[1].AddDate(0, 0, 1)
	}
	return out[0], out[1], nil
}
