package apps

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/oauthd/oauthd/scopes"
	"github.com/oauthd/oauthd/store"
)

// MaxHolders is how many of the applications holding a scope a refused
// deletion names; it counts them all.
const MaxHolders = 20

// maxScopeDescription bounds a scope's description: a line in a picker
// and in the metadata document's neighbourhood, not a document.
const maxScopeDescription = 200

// mayChangeCatalogue refuses a delegated administrator: the catalogue is
// every owner's, so only an admin key (or the CLI) changes it.
func mayChangeCatalogue(ctx context.Context) error {
	if d := delegateFrom(ctx); d != nil {
		return Forbidden("catalogue", "delegated administration may read the scope catalogue but not change it; an admin key can")
	}
	return nil
}

// checkScopeName accepts a name the catalogue may hold: a scope, never a
// form.
func checkScopeName(name string) error {
	switch {
	case len(name) > scopes.MaxLen:
		return Invalid("name", fmt.Sprintf("%q: at most %d bytes", truncate(name, 40), scopes.MaxLen))
	case scopes.IsForm(name):
		return Invalid("name", fmt.Sprintf("%q is a form that stands for several scopes (all:any, resource:*), not a scope: it needs no catalogue entry", truncate(name, 40)))
	case !scopes.ValidName(name):
		return Invalid("name", fmt.Sprintf("%q: use a lower-case name or resource:action, e.g. sms or messages:send", truncate(name, 40)))
	}
	return nil
}

// SetScope adds a scope to the catalogue, or sets the description of a
// catalogued one; it returns the scope as stored and whether it added it.
// Every replica sees the change within moments (the store publishes it).
func (s *Service) SetScope(ctx context.Context, name, description string) (scopes.Scope, bool, error) {
	if err := mayChangeCatalogue(ctx); err != nil {
		return scopes.Scope{}, false, err
	}
	if err := checkScopeName(name); err != nil {
		return scopes.Scope{}, false, err
	}
	description, err := checkText("description", description, maxScopeDescription)
	if err != nil {
		return scopes.Scope{}, false, err
	}
	if _, err := s.Catalogue(ctx); err != nil { // seeds an empty store first
		return scopes.Scope{}, false, err
	}
	added, err := s.store.PutScope(ctx, store.Scope{Name: name, Description: description})
	if err != nil {
		return scopes.Scope{}, false, err
	}
	kind := "scope.updated"
	if added {
		kind = "scope.created"
	}
	s.audit(ctx, kind, "", map[string]any{"scope": name, "description": description})
	return scopes.Scope{Name: name, Description: description}, added, nil
}

// DeleteScope removes a scope from the catalogue. While applications hold
// it by name the deletion is refused, naming them (a Conflict with
// Holders), unless force, which first takes it from each of them: an
// update of the application, audited as one and published on the
// revocation feed, since a cached introspection answer listing the scope
// becomes wrong. It returns the applications it took the scope from.
// tokens:introspect is never deleted: resource servers need it.
//
// Applications holding the scope only through a form (sms:*, all:any)
// keep their form, which stops granting the scope; tokens already issued
// lose it at introspection (see credential.State).
func (s *Service) DeleteScope(ctx context.Context, name string, force bool) ([]string, error) {
	if err := mayChangeCatalogue(ctx); err != nil {
		return nil, err
	}
	if name == scopes.Introspect {
		return nil, Forbidden("reserved_scope", "tokens:introspect is reserved: resource servers need it to introspect tokens and follow the revocation feed, so it cannot be deleted")
	}
	cat, err := s.Catalogue(ctx)
	if err != nil {
		return nil, err
	}
	if !cat.Has(name) {
		return nil, fmt.Errorf("scope %q: %w", truncate(name, 64), store.ErrNotFound)
	}
	holders, err := s.ScopeHolders(ctx, name)
	if err != nil {
		return nil, err
	}
	if len(holders) > 0 && !force {
		return nil, scopeHeld(name, holders)
	}
	// Holders first: a failure part way leaves the scope catalogued, and
	// the same request, repeated, finishes the work.
	var took []string
	for _, id := range holders {
		if err := s.takeScope(ctx, id, name); err != nil {
			return took, err
		}
		took = append(took, id)
	}
	if err := s.store.DeleteScope(ctx, name); err != nil {
		return took, err
	}
	detail := map[string]any{"scope": name, "force": force}
	if force {
		detail["removed_from"] = len(took)
	}
	s.audit(ctx, "scope.deleted", "", detail)
	return took, nil
}

// scopeHeld is the refusal of a deletion while applications hold the
// scope.
func scopeHeld(name string, holders []string) *Error {
	e := Conflict(fmt.Sprintf("scope %s is held by %d application(s); delete it with force to take it from them too, or change them first", name, len(holders)))
	e.Holders, e.HoldersTotal = holders[:min(len(holders), MaxHolders)], len(holders)
	return e
}

// takeScope removes name from one application's scopes, if it still
// holds it.
func (s *Service) takeScope(ctx context.Context, id, name string) error {
	unchanged := errors.New("no longer holds it")
	a, err := s.store.UpdateApplication(ctx, id, func(a store.Application) (store.Application, error) {
		i := slices.Index(a.Scopes, name)
		if i < 0 {
			return a, unchanged
		}
		a.Scopes = slices.Delete(slices.Clone(a.Scopes), i, i+1)
		a.UpdatedAt = s.now()
		return a, nil
	})
	switch {
	case errors.Is(err, unchanged), errors.Is(err, store.ErrNotFound):
		return nil // changed or deleted meanwhile: nothing to take
	case err != nil:
		return err
	}
	s.audit(ctx, "application.updated", id, map[string]any{"scopes": a.Scopes, "scope_deleted": name})
	return nil
}

// ScopeHolders lists the applications that hold name by name, reading
// every application: the catalogue is changed rarely, by hand. It shows
// other owners' applications, so a delegated administrator may not ask.
func (s *Service) ScopeHolders(ctx context.Context, name string) ([]string, error) {
	if err := mayChangeCatalogue(ctx); err != nil {
		return nil, err
	}
	var out []string
	err := s.eachApplication(ctx, func(a store.Application) {
		if slices.Contains(a.Scopes, name) {
			out = append(out, a.ClientID)
		}
	})
	return out, err
}

// eachApplication calls f with every application, page by page: for the
// rare changes that concern them all (a key rotation, a scope deleted).
func (s *Service) eachApplication(ctx context.Context, f func(store.Application)) error {
	cursor := ""
	for {
		page, next, err := s.store.ListApplications(ctx, cursor, MaxPage)
		if err != nil {
			return err
		}
		for _, a := range page {
			f(a)
		}
		if next == "" {
			return nil
		}
		cursor = next
	}
}
