package dashboard

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/oauthd/oauthd/server/apps"
	"github.com/oauthd/oauthd/server/web"
	"github.com/oauthd/oauthd/store"
)

const (
	// sessionCookie holds the session id; preCookie the sign-in form's
	// CSRF token before there is a session.
	sessionCookie = "oauthd_session"
	preCookie     = "oauthd_signin"
	// csrfField is the hidden form field of every state-changing form.
	csrfField = "csrf"
)

// session is what the store keeps for one signed-in operator. It never
// holds a credential: an admin key is recorded by a prefix of its digest,
// an application by its client ID.
type session struct {
	// KeyPrefix is the hex of the admin key digest's first 8 bytes; empty
	// for a delegated session.
	KeyPrefix string `json:"key,omitempty"`
	// ClientID is the application signed in as (delegated administration).
	ClientID string    `json:"client_id,omitempty"`
	Created  time.Time `json:"created"`
	CSRF     string    `json:"csrf"`
}

// signedIn is the session of the current request, with its actor.
type signedIn struct {
	session
	digest store.Digest
	actor  apps.Actor
}

const signedInKey = "dashboard.session"

func current(c echo.Context) *signedIn {
	s, _ := c.Get(signedInKey).(*signedIn)
	return s
}

// randomToken is 256 bits from the system's CSPRNG, URL-safe.
func randomToken() string {
	var b [32]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// equalToken compares two tokens in constant time.
func equalToken(a, b string) bool {
	return a != "" && subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

func (d *Dashboard) secure(c echo.Context) bool { return d.cfg.SecureCookies || c.Request().TLS != nil }

func (d *Dashboard) setCookie(c echo.Context, name, value string, maxAge time.Duration) {
	ck := &http.Cookie{
		Name: name, Value: value, Path: Prefix,
		HttpOnly: true, Secure: d.secure(c), SameSite: http.SameSiteStrictMode,
	}
	if maxAge > 0 {
		ck.MaxAge = int(maxAge / time.Second)
		ck.Expires = d.cfg.Now().Add(maxAge)
	} else {
		ck.MaxAge = -1
	}
	c.SetCookie(ck)
}

func peerAddr(c echo.Context) netip.Addr {
	a, _ := netip.ParseAddr(c.RealIP())
	return a.Unmap()
}

// session loads the request's session or sends the browser to the sign-in
// page (a POST without one is refused with 403: a state change must never
// be redirected into). It then checks the credential behind the session is
// still good: the admin key still configured, the application still
// enabled with the applications scope.
func (d *Dashboard) session(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		s, err := d.loadSession(c)
		if errors.Is(err, store.ErrUnavailable) {
			return d.renderError(c, err)
		}
		if err != nil || s == nil {
			if c.Request().Method != http.MethodGet {
				return d.renderStatus(c, http.StatusForbidden, "Signed out", "Your session has ended. Sign in again, then repeat the action.")
			}
			return c.Redirect(http.StatusSeeOther, Prefix+"signin")
		}
		c.Set(signedInKey, s)
		web.LogAttrs(c, slog.String("actor", s.actor.Name))
		r := c.Request()
		c.SetRequest(r.WithContext(apps.WithActor(r.Context(), s.actor)))
		return next(c)
	}
}

var errNoSession = errors.New("no session")

func (d *Dashboard) loadSession(c echo.Context) (*signedIn, error) {
	ck, err := c.Cookie(sessionCookie)
	if err != nil || len(ck.Value) < 40 || len(ck.Value) > 64 {
		return nil, errNoSession
	}
	ctx := c.Request().Context()
	digest := store.Sum(ck.Value)
	raw, err := d.cfg.Sessions.GetSession(ctx, digest, d.cfg.SessionIdle)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil, errNoSession
		}
		return nil, err
	}
	var s signedIn
	if err := json.Unmarshal(raw, &s.session); err != nil {
		return nil, errNoSession
	}
	s.digest = digest
	if d.cfg.Now().Sub(s.Created) >= d.cfg.SessionMax {
		_ = d.cfg.Sessions.DeleteSession(ctx, digest)
		return nil, errNoSession
	}
	ip := peerAddr(c)
	switch {
	case s.KeyPrefix != "":
		i := d.keyIndex(s.KeyPrefix)
		if i < 0 {
			return nil, errNoSession // the key was removed from the configuration
		}
		s.actor = apps.Actor{Name: fmt.Sprintf("admin-key:%x", d.cfg.KeyDigests[i][:4]), IP: ip.String()}
	case s.ClientID != "":
		dl, err := d.apps.Resume(ctx, s.ClientID, ip)
		if err != nil {
			if errors.Is(err, apps.ErrSignIn) {
				return nil, errNoSession
			}
			return nil, err
		}
		s.actor = apps.Actor{Name: "client:" + s.ClientID, IP: ip.String(), Delegate: dl}
	default:
		return nil, errNoSession
	}
	return &s, nil
}

func (d *Dashboard) keyIndex(prefix string) int {
	for i, k := range d.cfg.KeyDigests {
		if hex.EncodeToString(k[:8]) == prefix {
			return i
		}
	}
	return -1
}

// csrf refuses a state-changing request whose form does not carry the
// session's CSRF token, with 403 and a page that says so. SameSite=Strict
// already keeps the cookie off cross-site posts, and sameOrigin refuses
// what the browser marks as from another site; the token is the
// independent defence that holds without either (and covers browsers that
// send neither Sec-Fetch-Site nor Origin).
func (d *Dashboard) csrf(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		s := current(c)
		if s == nil || !equalToken(c.FormValue(csrfField), s.CSRF) {
			web.LogAttrs(c, slog.String("reason", "missing or wrong CSRF token"))
			return d.renderStatus(c, http.StatusForbidden, "Request refused",
				"The form did not carry this session's security token. Reload the page and try again.")
		}
		return next(c)
	}
}

type signInView struct {
	CSRF     string
	Error    string
	ClientID string
	Method   string
}

// signInPage shows the form. The sign-in form has no session to hold a
// CSRF token, yet a forged sign-in (logging the victim into the attacker's
// account) is an attack too, so it uses a double-submit token: a random
// value both in a SameSite=Strict cookie scoped to the dashboard and in
// the form. A cross-site page can neither read the cookie nor make the
// browser send it, so it cannot produce a matching pair. Like every post,
// it is refused first when the browser marks it as from another site
// (sameOrigin).
func (d *Dashboard) signInPage(c echo.Context) error {
	if s, err := d.loadSession(c); err == nil && s != nil {
		return c.Redirect(http.StatusSeeOther, Prefix)
	}
	return d.renderSignIn(c, http.StatusOK, signInView{Method: "key"})
}

func (d *Dashboard) renderSignIn(c echo.Context, status int, v signInView) error {
	v.CSRF = randomToken()
	d.setCookie(c, preCookie, v.CSRF, time.Hour)
	return d.render(c, status, "signin", page{Title: "Sign in", Data: v})
}

func (d *Dashboard) signIn(c echo.Context) error {
	ck, err := c.Cookie(preCookie)
	if err != nil || !equalToken(c.FormValue(csrfField), ck.Value) {
		web.LogAttrs(c, slog.String("reason", "sign-in without its CSRF token"))
		return d.renderStatus(c, http.StatusForbidden, "Request refused",
			"The sign-in form did not carry its security token (cookies must be enabled). Reload the sign-in page and try again.")
	}
	ctx := c.Request().Context()
	ip := peerAddr(c)
	if d.cfg.Guard != nil {
		wait, err := d.cfg.Guard.Blocked(ctx, ip.String())
		if err != nil {
			return d.renderError(c, err)
		}
		if wait > 0 {
			secs := int((wait + time.Second - 1) / time.Second)
			c.Response().Header().Set("Retry-After", strconv.Itoa(secs))
			web.LogAttrs(c, slog.String("reason", "sign-in blocked after repeated failures"))
			return d.renderStatus(c, http.StatusTooManyRequests, "Too many attempts",
				fmt.Sprintf("Too many failed sign-ins from your address. Wait %d seconds, then try again.", secs))
		}
	}
	method := c.FormValue("method")
	var s session
	var actor string
	switch method {
	case "client":
		clientID := strings.TrimSpace(c.FormValue("client_id"))
		dl, err := d.apps.Authenticate(ctx, clientID, c.FormValue("client_secret"), ip)
		if err != nil && !errors.Is(err, apps.ErrSignIn) {
			return d.renderError(c, err)
		}
		if err != nil {
			return d.failSignIn(c, signInView{Method: "client", ClientID: clientID,
				Error: "Sign-in failed. Check the client ID and secret; the application must be enabled, hold the applications scope and allow your address."})
		}
		s.ClientID = dl.ClientID
		actor = "client:" + dl.ClientID
	default:
		method = "key"
		key := strings.TrimSpace(c.FormValue("admin_key"))
		i := d.matchKey(key)
		if i < 0 {
			return d.failSignIn(c, signInView{Method: "key", Error: "Sign-in failed: that is not a valid admin key."})
		}
		s.KeyPrefix = hex.EncodeToString(d.cfg.KeyDigests[i][:8])
		actor = fmt.Sprintf("admin-key:%x", d.cfg.KeyDigests[i][:4])
	}
	id := randomToken()
	s.Created = d.cfg.Now().UTC()
	s.CSRF = randomToken()
	raw, _ := json.Marshal(s)
	if err := d.cfg.Sessions.CreateSession(ctx, store.Sum(id), raw, d.cfg.SessionIdle); err != nil {
		return d.renderError(c, err)
	}
	web.LogAttrs(c, slog.String("actor", actor), slog.String("event", "dashboard sign-in"))
	d.setCookie(c, sessionCookie, id, d.cfg.SessionMax)
	d.setCookie(c, preCookie, "", 0)
	return c.Redirect(http.StatusSeeOther, Prefix)
}

// matchKey compares key's digest with every configured admin key in
// constant time and returns the index of the match, -1 for none.
func (d *Dashboard) matchKey(key string) int {
	if key == "" || len(key) > 256 {
		return -1
	}
	sum := store.Sum(key)
	matched := -1
	for i, k := range d.cfg.KeyDigests {
		if sum.Equal(k) {
			matched = i
		}
	}
	return matched
}

func (d *Dashboard) failSignIn(c echo.Context, v signInView) error {
	ctx := c.Request().Context()
	web.LogAttrs(c, slog.String("reason", "dashboard sign-in failed"))
	if d.cfg.Guard != nil {
		if err := d.cfg.Guard.Failed(ctx, peerAddr(c).String()); err != nil {
			return d.renderError(c, err)
		}
	}
	return d.renderSignIn(c, http.StatusUnauthorized, v)
}

// signOut deletes the session in the store, so it ends on every replica,
// and clears the cookie.
func (d *Dashboard) signOut(c echo.Context) error {
	if err := d.cfg.Sessions.DeleteSession(c.Request().Context(), current(c).digest); err != nil {
		return d.renderError(c, err)
	}
	d.setCookie(c, sessionCookie, "", 0)
	return c.Redirect(http.StatusSeeOther, Prefix+"signin")
}
