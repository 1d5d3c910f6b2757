// Package server is oauthd's HTTP side: the OAuth 2.0 endpoints daemons and
// resource servers call, and the services (applications) that the admin API
// and the CLI share. It never reads files, flags or the environment: cmd
// decodes and validates configuration and hands it over as Config.
package server

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/oauthd/oauthd/scopes"
)

// Store is what the public endpoints need from storage.
type Store interface {
	AppReader
	TokenWriter
	Ping(ctx context.Context) error
}

// Config is the server's validated configuration.
type Config struct {
	// Issuer is the server's public base URL, exactly as clients see it.
	Issuer    string
	Catalogue *scopes.Catalogue
	Logger    *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Server serves the public OAuth 2.0 endpoints.
type Server struct {
	cfg    Config
	store  Store
	issuer *oauthIssuer
	echo   *echo.Echo
}

// New builds the server. It starts nothing: serve Handler() on a listener.
func New(cfg Config, st Store) (*Server, error) {
	if st == nil || cfg.Catalogue == nil {
		return nil, errors.New("server: store and scope catalogue are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &Server{cfg: cfg, store: st, issuer: newOAuthIssuer(st)}
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = httpErrorHandler
	// The peer address is the socket's: X-Forwarded-For and X-Real-IP are
	// client-controlled and must not open an IP allowlist.
	e.IPExtractor = echo.ExtractIPDirect()
	e.Use(logRequests(cfg.Logger))
	s.echo = e
	s.routes()
	return s, nil
}

// Handler returns the HTTP handler for the public listener.
func (s *Server) Handler() http.Handler { return s.echo }

// handleHealth answers 200 when Redis answers, 503 otherwise: a load
// balancer should stop sending token requests that can only fail.
func (s *Server) handleHealth(c echo.Context) error {
	if err := s.store.Ping(c.Request().Context()); err != nil {
		return writeError(c, err)
	}
	return writeJSON(c, http.StatusOK, map[string]string{"status": "ok"})
}
