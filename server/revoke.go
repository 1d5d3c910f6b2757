package server

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/oauthd/oauthd/server/web"
)

// handleRevoke is POST /oauth/revoke (RFC 7009). The application that owns
// a token revokes it; the record is deleted from Redis, so every replica
// and every introspection sees it gone on its next read. Unknown,
// malformed, empty, already revoked and other applications' tokens all
// answer 200 too (§2.2): the caller learns nothing about a token it does
// not own, and nothing of another application's is touched. The body is
// "{}" rather than empty because some clients (simple-oauth2) fail to
// parse an empty body.
func (s *Server) handleRevoke(c echo.Context) error {
	form, err := readForm(c)
	if err != nil {
		return web.WriteError(c, err)
	}
	app, err := s.authenticateClient(c, form)
	if err != nil {
		return s.authError(c, &app, err)
	}
	if err := s.clientLocked(c, &app); err != nil {
		return web.WriteError(c, err)
	}
	if !form.Has("token") {
		return web.WriteError(c, errInvalidRequest("token is required (RFC 7009 §2.1)"))
	}
	log := web.Log(c)
	revoked := false
	ref, ok := s.TokenRef(c.Request().Context(), form.Get("token"))
	if ok && ref.ClientID == app.ClientID {
		var tombstone time.Duration
		if s.cfg.InactiveReason {
			tombstone = s.cfg.Tombstone
		}
		if revoked, err = s.store.RevokeToken(c.Request().Context(), ref, tombstone); err != nil {
			return web.WriteError(c, err)
		}
	}
	log.Add(slog.String("event", "token revoked"), slog.Bool("revoked", revoked))
	web.NoStore(c.Response().Header())
	return web.WriteJSON(c, http.StatusOK, struct{}{})
}
