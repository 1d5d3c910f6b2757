package server

import (
	"time"

	"github.com/oauthd/oauthd/scopes"
	"github.com/oauthd/oauthd/server/introspect"
	"github.com/oauthd/oauthd/store"
)

// Why a token is not active, as introspection may report it.
const (
	reasonUnknown = "unknown"
	reasonExpired = introspect.ReasonExpired
	reasonRevoked = introspect.ReasonRevoked
)

// tokenState decides whether a looked-up token is active at now and with
// which scopes. Everything that can end a token is checked here, in one
// place: expiry, revocation (one token, or all of an application's by a
// generation bump), a deleted or disabled application, and scopes narrowed
// since issue, which take effect at once.
func tokenState(l store.TokenLookup, now time.Time) (granted []string, reason string) {
	t, app := l.Token, l.App
	switch {
	case t == nil && l.Revoked:
		return nil, reasonRevoked
	case t == nil:
		return nil, reasonUnknown
	case t.Expired(now):
		return nil, reasonExpired
	case app == nil, !app.Enabled, t.Generation != app.Generation:
		return nil, reasonRevoked
	}
	granted = scopes.Intersect(t.Scopes, app.Scopes)
	if len(granted) == 0 && len(t.Scopes) > 0 {
		return nil, reasonRevoked // every scope it had was taken away
	}
	return granted, ""
}
