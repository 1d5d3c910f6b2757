package dashboard

import (
	"bytes"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/oauthd/oauthd/server/apps"
	"github.com/oauthd/oauthd/server/web"
)

// page is what every template gets: the layout's parts and the page's own
// Data.
type page struct {
	Title string
	// Nav marks the current section in the navigation.
	Nav string
	// Who is the signed-in actor ("" on the sign-in and error pages of a
	// visitor); CSRF the token its forms carry.
	Who       string
	CSRF      string
	Delegated bool
	Data      any
}

var pageNames = []string{"overview", "signin", "status", "apps", "new", "created", "app", "confirm", "secret", "events", "scopes", "scopedelete"}

var funcs = template.FuncMap{
	// when is a time as the pages show it; the zero time is "never".
	"when": func(t time.Time) string {
		if t.IsZero() {
			return "never"
		}
		return t.UTC().Format("2006-01-02 15:04 UTC")
	},
	"join": strings.Join,
	// method is an authentication method's name that may wrap only after
	// its underscores (self_signed_tls_client_auth in a phone's column),
	// never inside a word, as code's overflow-wrap would otherwise break
	// it.
	"method": func(name string) template.HTML {
		return template.HTML(strings.ReplaceAll(template.HTMLEscapeString(name), "_", "_<wbr>"))
	},
	// count is a whole number with thousands separators.
	"count": func(n any) string {
		var v int64
		switch n := n.(type) {
		case int64:
			v = n
		case int:
			v = int64(n)
		case float64:
			v = int64(n)
		}
		s := strconv.FormatInt(v, 10)
		for i := len(s) - 3; i > 0 && s[i-1] != '-'; i -= 3 {
			s = s[:i] + "," + s[i:]
		}
		return s
	},
	"contains": func(list []string, s string) bool {
		for _, v := range list {
			if v == s {
				return true
			}
		}
		return false
	},
	"metadata": formatMetadata,
	"lines":    func(list []string) string { return strings.Join(list, "\n") },
}

func parseTemplates() (map[string]*template.Template, error) {
	out := map[string]*template.Template{}
	for _, name := range pageNames {
		t, err := template.New(name).Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/form.html", "templates/chart.html", "templates/quota.html", "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("dashboard template %s: %w", name, err)
		}
		out[name] = t
	}
	return out, nil
}

// render writes the named page. It renders into a buffer first, so a
// template error becomes a clean 500 page rather than half a page.
func (d *Dashboard) render(c echo.Context, status int, name string, p page) error {
	if s := current(c); s != nil {
		p.Who, p.CSRF, p.Delegated = s.actor.Name, s.CSRF, s.actor.Delegate != nil
	}
	var buf bytes.Buffer
	if err := d.pages[name].ExecuteTemplate(&buf, "layout", p); err != nil {
		d.cfg.Logger.Error("dashboard template failed", "page", name, "error", err.Error())
		web.LogAttrs(c, slog.String("cause", err.Error()))
		return c.HTML(http.StatusInternalServerError, "<!doctype html><title>Internal error</title><p>Internal error; the server log has the details.</p>")
	}
	return c.HTMLBlob(status, buf.Bytes())
}

type statusView struct {
	Status  int
	Heading string
	Message string
	Rule    string
}

func (d *Dashboard) renderStatus(c echo.Context, status int, heading, msg string) error {
	return d.renderStatusRule(c, status, heading, msg, "")
}

func (d *Dashboard) renderStatusRule(c echo.Context, status int, heading, msg, rule string) error {
	web.LogAttrs(c, slog.String("error", http.StatusText(status)))
	return d.render(c, status, "status", page{Title: heading, Data: statusView{Status: status, Heading: heading, Message: msg, Rule: rule}})
}

// problem is an error as the pages show it: a status and a sentence for
// the operator, and for a refusal the rule it broke.
type problem struct {
	Status  int
	Heading string
	Message string
	Field   string
	Rule    string
}

// shown is how the pages show each code of the service's errors
// (apps.ErrorCode): a status and a heading, and for the codes whose
// error text is not the operator's business a fixed message instead.
// Unknown errors say nothing of their cause, which may hold internals;
// it is logged.
var shown = map[string]struct {
	status           int
	heading, message string
}{
	apps.CodeInvalid:   {http.StatusBadRequest, "Check the form", ""},
	apps.CodeForbidden: {http.StatusForbidden, "Not allowed", ""},
	apps.CodeConflict:  {http.StatusConflict, "Conflict", ""},
	apps.CodeNotFound:  {http.StatusNotFound, "Not found", ""},
	apps.CodeUnavailable: {http.StatusServiceUnavailable, "Store unavailable",
		"The store (Redis) cannot be reached right now, so nothing was read or changed. Try again in a moment."},
	apps.CodeInternal: {http.StatusInternalServerError, "Internal error", "Something went wrong on the server; its log has the details."},
}

// explain maps the service's errors to what the pages show, in one place
// (the admin API does the same for JSON): through shown, with a
// validation error's field apart from its message, and a refusal's rule.
func explain(err error) problem {
	s := shown[apps.ErrorCode(err)]
	p := problem{Status: s.status, Heading: s.heading, Message: s.message}
	var e *apps.Error
	switch {
	case p.Message != "":
	case errors.As(err, &e):
		p.Message, p.Field, p.Rule = e.Message, e.Field, e.Rule
	default:
		p.Message = capitalize(apps.ErrorMessage(err))
	}
	return p
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// renderError answers err as a whole page: for errors that belong to no
// form field (not found, refused, store down).
func (d *Dashboard) renderError(c echo.Context, err error) error {
	p := explain(err)
	if p.Status >= 500 {
		web.LogAttrs(c, slog.String("cause", err.Error()))
		if p.Status == http.StatusServiceUnavailable {
			c.Response().Header().Set("Retry-After", "5")
		}
	}
	msg := p.Message
	if p.Field != "" {
		msg = p.Field + ": " + msg
	}
	return d.renderStatusRule(c, p.Status, p.Heading, msg, p.Rule)
}

// httpError answers what echo itself rejects (unknown page, wrong method)
// as an HTML page.
func (d *Dashboard) httpError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	var he *echo.HTTPError
	status := http.StatusInternalServerError
	if errors.As(err, &he) {
		status = he.Code
	}
	switch status {
	case http.StatusNotFound:
		_ = d.renderStatus(c, status, "Page not found", "There is no such dashboard page.")
	case http.StatusMethodNotAllowed:
		_ = d.renderStatus(c, status, "Not allowed", "This page does not accept that request.")
	case http.StatusRequestEntityTooLarge:
		_ = d.renderStatus(c, status, "Too large", "The form was too large.")
	default:
		_ = d.renderError(c, err)
	}
}

// formatMetadata writes metadata as the key=value lines the form edits.
func formatMetadata(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s=%s\n", k, m[k])
	}
	return b.String()
}

// parseMetadata reads key=value lines; blank lines are skipped.
func parseMetadata(s string) (map[string]string, error) {
	out := map[string]string{}
	for i, line := range strings.Split(s, "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			return nil, apps.Invalid("metadata", fmt.Sprintf("line %d: write key=value", i+1))
		}
		k = strings.TrimSpace(k)
		if _, dup := out[k]; dup {
			return nil, apps.Invalid("metadata", fmt.Sprintf("line %d: key %q given twice", i+1, k))
		}
		out[k] = strings.TrimSpace(v)
	}
	return out, nil
}
