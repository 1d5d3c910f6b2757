package credential

import (
	"net/netip"
	"time"

	"github.com/oauthd/oauthd/scopes"
	"github.com/oauthd/oauthd/store"
)

// Why a token is not active, as introspection may report it
// (introspection.inactive_reason; the resource-server package knows the
// same words).
const (
	ReasonUnknown = "unknown"
	ReasonExpired = "expired"
	ReasonRevoked = "revoked"
)

// Use is where and when a token is presented.
type Use struct {
	Now time.Time
	// Addr is the address the token's holder presented it from; the zero
	// Addr when unknown (a resource server that sent none).
	Addr netip.Addr
	// AllowUnknownAddr lets a token of an application with an IP allowlist
	// through when Addr is unknown. Off, such a token is inactive: a
	// stolen token must not work merely because the resource server did
	// not say where it came from.
	AllowUnknownAddr bool
	// Catalogue is the scope catalogue in force: a scope deleted from it
	// since issue is granted no more. nil checks none.
	Catalogue *scopes.Catalogue
}

// Verdict is what State decides.
type Verdict struct {
	// Scopes granted now: the token's, narrowed to those its application
	// still holds (itself or through a form) and the catalogue still has.
	Scopes []string
	// Expires is when the token stops being valid, the zero time for never:
	// the earlier of its own expiry and its issue time plus its
	// application's current token lifetime.
	Expires time.Time
	// Reason says why the token is not active; "" when it is.
	Reason string
}

// ReasonAddress is a token presented from outside its application's
// allowlist (or from an unknown address when that is refused). It is
// answered as plain inactive.
const ReasonAddress = "address not allowed"

// State decides whether a looked-up token is active at u and with which
// scopes until when. Everything that can end a token is checked here, in
// one place: expiry, revocation (one token, or all of an application's by
// a generation bump), a deleted or disabled application, scopes narrowed
// (or deleted from the catalogue) since issue, a token lifetime shortened since issue, and the
// application's IP allowlist at the time of use; each takes effect at once.
func State(l store.TokenLookup, u Use) Verdict {
	t, app := l.Token, l.App
	switch {
	case t == nil && l.Revoked:
		return Verdict{Reason: ReasonRevoked}
	case t == nil:
		return Verdict{Reason: ReasonUnknown}
	case app == nil, !app.Enabled, t.Generation != app.Generation:
		if t.Expired(u.Now) {
			return Verdict{Reason: ReasonExpired}
		}
		return Verdict{Reason: ReasonRevoked}
	}
	exp := t.ExpiresAt
	// An access token lives at most as long as its application's lifetime
	// says today: shortening it (say from never to a day) reaches tokens
	// already issued. API keys carry their own lifetime, chosen when made.
	if t.Kind != store.KindAPIKey && app.TokenLifetime > 0 {
		if capped := t.IssuedAt.Add(app.TokenLifetime); exp.IsZero() || capped.Before(exp) {
			exp = capped
		}
	}
	if !exp.IsZero() && !u.Now.Before(exp) {
		return Verdict{Reason: ReasonExpired}
	}
	if len(app.IPAllowlist) > 0 {
		if !u.Addr.IsValid() && !u.AllowUnknownAddr || u.Addr.IsValid() && !app.Allows(u.Addr) {
			return Verdict{Reason: ReasonAddress}
		}
	}
	granted := scopes.Held(t.Scopes, app.Scopes)
	if u.Catalogue != nil {
		granted = u.Catalogue.Filter(granted)
	}
	if len(granted) == 0 && len(t.Scopes) > 0 {
		return Verdict{Reason: ReasonRevoked} // every scope it had was taken away
	}
	return Verdict{Scopes: granted, Expires: exp}
}
