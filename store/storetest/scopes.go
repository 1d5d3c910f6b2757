package storetest

import (
	"context"
	"errors"
	"reflect"
	"sync"
	"testing"

	"github.com/oauthd/oauthd/store"
)

// The scope catalogue: none until the first is created, created once,
// then changed one scope at a time, in order, each change a new version.
func testScopes(t *testing.T, s Backend) {
	ctx := context.Background()
	if l, err := s.ListScopes(ctx); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("ListScopes of an empty store = %+v, %v; want ErrNotFound", l, err)
	}
	if _, err := s.PutScope(ctx, store.Scope{Name: "sms"}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("PutScope with no catalogue = %v, want ErrNotFound", err)
	}
	if err := s.DeleteScope(ctx, "sms"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("DeleteScope with no catalogue = %v, want ErrNotFound", err)
	}
	seed := []store.Scope{{Name: "sms", Description: "Send SMS"}, {Name: "reports"}, {Name: "tokens:introspect", Description: "Introspect"}}
	if err := s.CreateScopes(ctx, seed); err != nil {
		t.Fatalf("CreateScopes: %v", err)
	}
	if err := s.CreateScopes(ctx, []store.Scope{{Name: "other"}}); !errors.Is(err, store.ErrAlreadyExists) {
		t.Fatalf("a second CreateScopes = %v, want ErrAlreadyExists", err)
	}
	list := func() store.ScopeList {
		t.Helper()
		l, err := s.ListScopes(ctx)
		if err != nil {
			t.Fatalf("ListScopes: %v", err)
		}
		return l
	}
	first := list()
	if !reflect.DeepEqual(first.Scopes, seed) {
		t.Fatalf("ListScopes = %+v, want the seed %+v, kept", first.Scopes, seed)
	}
	// A new scope goes at the end; a known one keeps its place.
	version := first.Version
	step := func(what string, want []store.Scope) {
		t.Helper()
		l := list()
		if !reflect.DeepEqual(l.Scopes, want) {
			t.Fatalf("after %s: %+v, want %+v", what, l.Scopes, want)
		}
		if l.Version <= version {
			t.Fatalf("after %s: version %d, not after %d", what, l.Version, version)
		}
		version = l.Version
	}
	if added, err := s.PutScope(ctx, store.Scope{Name: "viber", Description: "Send Viber"}); err != nil || !added {
		t.Fatalf("PutScope(new) = %v, %v; want added", added, err)
	}
	step("adding viber", append(seed[:3:3], store.Scope{Name: "viber", Description: "Send Viber"}))
	if added, err := s.PutScope(ctx, store.Scope{Name: "sms", Description: "Send and read SMS"}); err != nil || added {
		t.Fatalf("PutScope(known) = %v, %v; want changed, not added", added, err)
	}
	step("describing sms", []store.Scope{{Name: "sms", Description: "Send and read SMS"}, seed[1], seed[2], {Name: "viber", Description: "Send Viber"}})
	if err := s.DeleteScope(ctx, "reports"); err != nil {
		t.Fatalf("DeleteScope: %v", err)
	}
	step("deleting reports", []store.Scope{{Name: "sms", Description: "Send and read SMS"}, seed[2], {Name: "viber", Description: "Send Viber"}})
	if err := s.DeleteScope(ctx, "reports"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("deleting a deleted scope = %v, want ErrNotFound", err)
	}
	if l := list(); l.Version != version {
		t.Fatalf("a refused delete moved the version from %d to %d", version, l.Version)
	}
	// The catalogue may be emptied: it is still a catalogue.
	for _, name := range []string{"sms", "tokens:introspect", "viber"} {
		if err := s.DeleteScope(ctx, name); err != nil {
			t.Fatal(err)
		}
	}
	if l := list(); len(l.Scopes) != 0 {
		t.Fatalf("after deleting every scope: %+v", l.Scopes)
	}
}

// Concurrent changes to the catalogue are none of them lost: each is a
// compare-and-swap of the whole catalogue.
func testScopesConcurrent(t *testing.T, s Backend) {
	ctx := context.Background()
	if err := s.CreateScopes(ctx, []store.Scope{{Name: "base"}}); err != nil {
		t.Fatal(err)
	}
	names := []string{"a", "b", "c", "d", "e", "f", "g", "h"}
	var wg sync.WaitGroup
	errs := make(chan error, len(names))
	for _, n := range names {
		wg.Go(func() {
			if _, err := s.PutScope(ctx, store.Scope{Name: n}); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	lost := 0
	for err := range errs {
		if !errors.Is(err, store.ErrConflict) {
			t.Fatalf("concurrent PutScope: %v", err)
		}
		lost++ // allowed: it lost too many races, and said so
	}
	l, err := s.ListScopes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if l.Scopes[0].Name != "base" || len(l.Scopes) != 1+len(names)-lost {
		t.Fatalf("after %d concurrent additions (%d refused): %+v", len(names), lost, l.Scopes)
	}
}
