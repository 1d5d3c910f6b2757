package credential

import (
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

// State decides whether a looked-up token is active at now and with
// which scopes. Everything that can end a token is checked here, in one
// place: expiry, revocation (one token, or all of an application's by a
// generation bump), a deleted or disabled application, and scopes narrowed
// since issue, which take effect at once.
func State(l store.TokenLookup, now time.Time) (granted []string, reason string) {
	t, app := l.Token, l.App
	switch {
	case t == nil && l.Revoked:
		return nil, ReasonRevoked
	case t == nil:
		return nil, ReasonUnknown
	case t.Expired(now):
		return nil, ReasonExpired
	case app == nil, !app.Enabled, t.Generation != app.Generation:
		return nil, ReasonRevoked
	}
	granted = scopes.Intersect(t.Scopes, app.Scopes)
	if len(granted) == 0 && len(t.Scopes) > 0 {
		return nil, ReasonRevoked // every scope it had was taken away
	}
	return granted, ""
}
