package apps

import (
	"context"
	"errors"
	"fmt"

	"github.com/oauthd/oauthd/scopes"
	"github.com/oauthd/oauthd/store"
)

// built is a catalogue made from the store's list at version.
type built struct {
	version uint64
	cat     *scopes.Catalogue
}

// Catalogue is the scope catalogue in force: the one in the store, which
// every replica and the CLI share. While the store serves it from its
// cache (store/redis does while it follows invalidations) this costs no
// I/O and, until it changes, no allocation: it is read on every token
// request. When the store holds no catalogue yet, the service's seed is
// stored first (SeedCatalogue).
func (s *Service) Catalogue(ctx context.Context) (*scopes.Catalogue, error) {
	l, err := s.store.ListScopes(ctx)
	if errors.Is(err, store.ErrNotFound) {
		l, _, err = s.seedCatalogue(ctx)
	}
	if err != nil {
		return nil, err
	}
	if b := s.built.Load(); b != nil && b.version == l.Version {
		return b.cat, nil
	}
	cat, err := scopes.NewCatalogue(fromStore(l.Scopes))
	if err != nil {
		return nil, fmt.Errorf("the stored scope catalogue (version %d): %w", l.Version, err)
	}
	s.built.Store(&built{l.Version, cat})
	return cat, nil
}

// SeedCatalogue makes sure the store holds a catalogue: when it holds
// none it stores the seed the service was made with, and says so. It
// returns the catalogue stored, which the caller may compare with its
// seed: once there is one, the seed is only a suggestion (see oauthd
// scopes import).
func (s *Service) SeedCatalogue(ctx context.Context) (stored []scopes.Scope, seeded bool, err error) {
	l, err := s.store.ListScopes(ctx)
	if errors.Is(err, store.ErrNotFound) {
		l, seeded, err = s.seedCatalogue(ctx)
	}
	if err != nil {
		return nil, false, err
	}
	return fromStore(l.Scopes), seeded, nil
}

// seedCatalogue stores the seed unless another process stored a
// catalogue first, and reads what is stored.
func (s *Service) seedCatalogue(ctx context.Context) (store.ScopeList, bool, error) {
	var list []store.Scope
	for _, sc := range s.seed.Scopes() {
		list = append(list, store.Scope{Name: sc.Name, Description: sc.Description})
	}
	err := s.store.CreateScopes(ctx, list)
	seeded := err == nil
	if err != nil && !errors.Is(err, store.ErrAlreadyExists) {
		return store.ScopeList{}, false, err
	}
	l, err := s.store.ListScopes(ctx)
	return l, seeded, err
}

func fromStore(list []store.Scope) []scopes.Scope {
	out := make([]scopes.Scope, len(list))
	for i, sc := range list {
		out[i] = scopes.Scope{Name: sc.Name, Description: sc.Description}
	}
	return out
}
