package server

import (
	"context"

	"github.com/oauthd/oauthd/scopes"
)

// grantScopes is the scopes a token gets: requested (all that held
// covers when none), checked against the catalogue in force and expanded
// to catalogued scopes (scopes.Catalogue.Grant), so resource servers meet
// no form. The catalogue comes from memory; an application holding no
// form costs no allocation. A refusal is invalid_scope; a catalogue that
// cannot be read, the store's error (503).
func (s *Server) grantScopes(ctx context.Context, held, requested []string) ([]string, error) {
	cat, err := s.cfg.Catalogue.Catalogue(ctx)
	if err != nil {
		return nil, err
	}
	granted, refused := cat.Grant(held, requested)
	if len(refused) > 0 {
		return nil, errInvalidScope("scope not allowed for this application: %s (it may request %s)",
			scopes.Format(refused), scopes.Format(held))
	}
	return granted, nil
}
