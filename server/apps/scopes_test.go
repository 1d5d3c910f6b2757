package apps

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/oauthd/oauthd/scopes"
	"github.com/oauthd/oauthd/store"
)

// smsgateSeed is a resource:action catalogue with the all:any entry the
// SMSGate customer's seed file lists.
func smsgateSeed(t *testing.T) *scopes.Catalogue {
	t.Helper()
	c, err := scopes.NewCatalogue([]scopes.Scope{
		{Name: "sms:send", Description: "Send SMS"}, {Name: "sms:read"}, {Name: "viber:send"}, {Name: "reports"},
		{Name: scopes.Admin}, {Name: scopes.All, Description: "Everything"},
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// The catalogue is the store's: the first service to find none stores its
// seed, and any other, whatever its own seed, reads that one. So a CLI
// built with the default catalogue validates against the server's.
func TestCatalogueIsTheStores(t *testing.T) {
	env := newTestEnv(t, Options{})
	ctx := WithActor(context.Background(), Actor{Name: "admin-key:test"})
	served := New(env.store, smsgateSeed(t), Options{})
	stored, seeded, err := served.SeedCatalogue(ctx)
	if err != nil || !seeded || len(stored) != 6 || stored[0].Name != "sms:send" {
		t.Fatalf("SeedCatalogue = %v, %v, %v; want the seed, stored", stored, seeded, err)
	}
	if _, seeded, _ := served.SeedCatalogue(ctx); seeded {
		t.Fatal("seeded twice")
	}
	cli := env.apps // made with the built-in catalogue, which has viber
	_, _, err = cli.Create(ctx, NewApplication{Name: "n", Scopes: []string{"sms:send viber"}})
	var e *Error
	if !errors.As(err, &e) || e.Field != "scopes" || !strings.Contains(e.Message, "viber") {
		t.Fatalf("create with a scope outside the stored catalogue: %v", err)
	}
	cat, err := cli.Catalogue(ctx)
	if err != nil || cat.Has("viber") || !cat.Has("sms:send") {
		t.Fatalf("the CLI's catalogue: %v, %v", cat.Names(), err)
	}
	again, _ := cli.Catalogue(ctx)
	if again != cat {
		t.Fatal("an unchanged catalogue was made again")
	}
}

func TestSetScope(t *testing.T) {
	env := newTestEnv(t, Options{})
	ctx := WithActor(context.Background(), Actor{Name: "admin-key:test"})
	sc, added, err := env.apps.SetScope(ctx, "messages:send", " Send any message ")
	if err != nil || !added || sc.Description != "Send any message" {
		t.Fatalf("SetScope(new) = %v, %v, %v", sc, added, err)
	}
	if _, added, err := env.apps.SetScope(ctx, "sms", "Send SMS"); err != nil || added {
		t.Fatalf("SetScope(known) = %v, %v; want updated", added, err)
	}
	cat, _ := env.apps.Catalogue(ctx)
	all := cat.Scopes()
	if last := all[len(all)-1]; last != (scopes.Scope{Name: "messages:send", Description: "Send any message"}) || all[0].Description != "Send SMS" {
		t.Fatalf("catalogue after the changes: %+v", all)
	}
	for _, name := range []string{"all:any", "sms:*", "Bad", "a:b:c", ""} {
		var e *Error
		if _, _, err := env.apps.SetScope(ctx, name, ""); !errors.As(err, &e) || e.Field != "name" {
			t.Errorf("SetScope(%q) = %v, want invalid name", name, err)
		}
	}
	// A name past scopes.MaxLen says so, not that its letters are wrong.
	if _, _, err := env.apps.SetScope(ctx, strings.Repeat("s", scopes.MaxLen+1), ""); err == nil || !strings.Contains(err.Error(), "at most 128 bytes") {
		t.Errorf("a %d-byte name: %v, want a refusal naming the length", scopes.MaxLen+1, err)
	}
	if _, _, err := env.apps.SetScope(ctx, "x", strings.Repeat("d", 201)); err == nil {
		t.Error("a 201-byte description was accepted")
	}
	for _, kind := range []string{"scope.created", "scope.updated"} {
		if ev, _, _ := env.apps.Events(ctx, store.EventFilter{Kind: kind}, "", 10); len(ev) != 1 || ev[0].Actor != "admin-key:test" {
			t.Errorf("%s events: %+v", kind, ev)
		}
	}
	// The longest name is taken.
	if _, _, err := env.apps.SetScope(ctx, strings.Repeat("s", scopes.MaxLen), ""); err != nil {
		t.Errorf("a %d-byte name: %v", scopes.MaxLen, err)
	}
}

// Deleting a scope applications hold is refused, naming them, unless
// forced; forced, it is taken from each (an audited update, published on
// the feed); tokens:introspect is never deleted.
func TestDeleteScope(t *testing.T) {
	env := newTestEnv(t, Options{})
	ctx := WithActor(context.Background(), Actor{Name: "admin-key:test"})
	var holders []string
	for range MaxHolders + 2 {
		a, _, err := env.apps.Create(ctx, NewApplication{Name: "holder", Scopes: []string{"viber sms"}})
		if err != nil {
			t.Fatal(err)
		}
		holders = append(holders, a.ClientID)
	}
	other, _, _ := env.apps.Create(ctx, NewApplication{Name: "other", Scopes: []string{"sms"}})

	if _, err := env.apps.DeleteScope(ctx, scopes.Introspect, true); ErrorCode(err) != CodeForbidden {
		t.Fatalf("deleting tokens:introspect = %v, want forbidden", err)
	}
	if _, err := env.apps.DeleteScope(ctx, "nonesuch", false); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("deleting an unknown scope = %v, want not found", err)
	}
	_, err := env.apps.DeleteScope(ctx, "viber", false)
	var e *Error
	if !errors.As(err, &e) || e.Code != CodeConflict || e.HoldersTotal != len(holders) || len(e.Holders) != MaxHolders ||
		!slices.Contains(holders, e.Holders[0]) || slices.Contains(e.Holders, other.ClientID) {
		t.Fatalf("deleting a held scope = %+v", err)
	}
	if cat, _ := env.apps.Catalogue(ctx); !cat.Has("viber") {
		t.Fatal("a refused deletion deleted")
	}
	took, err := env.apps.DeleteScope(ctx, "viber", true)
	if err != nil || len(took) != len(holders) {
		t.Fatalf("forced deletion = %v, %v", took, err)
	}
	if cat, _ := env.apps.Catalogue(ctx); cat.Has("viber") {
		t.Fatal("viber still catalogued")
	}
	a, _, _ := env.apps.Get(ctx, holders[0])
	if !slices.Equal(a.Scopes, []string{"sms"}) {
		t.Fatalf("a holder's scopes after the forced deletion: %v", a.Scopes)
	}
	ev, _, _ := env.apps.Events(ctx, store.EventFilter{ClientID: holders[0], Kind: "application.updated"}, "", 10)
	if len(ev) != 1 || ev[0].Detail["scope_deleted"] != "viber" {
		t.Fatalf("the holder's audit events: %+v", ev)
	}
	if ev, _, _ := env.apps.Events(ctx, store.EventFilter{Kind: "scope.deleted"}, "", 10); len(ev) != 1 {
		t.Fatalf("scope.deleted events: %+v", ev)
	}
	// Unheld, it goes without force.
	if _, err := env.apps.DeleteScope(ctx, "whatsapp", false); err != nil {
		t.Fatalf("deleting an unheld scope: %v", err)
	}
}

// A delegated administrator reads the catalogue but never changes it, and
// grants what its own application holds through a form, never a reserved
// scope.
func TestDelegateAndTheCatalogue(t *testing.T) {
	env := newTestEnv(t, Options{})
	env.apps = New(env.store, smsgateSeed(t), Options{})
	admin := WithActor(context.Background(), Actor{Name: "admin-key:test"})
	delegate := func(held ...string) context.Context {
		t.Helper()
		a, _, err := env.apps.Create(admin, NewApplication{Name: "mgr", Owner: "acct_1", Scopes: append(held, scopes.Admin)})
		if err != nil {
			t.Fatal(err)
		}
		return WithActor(context.Background(), Actor{Name: "client:" + a.ClientID, Delegate: DelegateOf(a)})
	}
	group, all := delegate("sms:*"), delegate(scopes.All)

	for _, op := range []func() error{
		func() error { _, _, err := env.apps.SetScope(group, "x", ""); return err },
		func() error { _, err := env.apps.DeleteScope(all, "reports", true); return err },
		func() error { _, err := env.apps.ScopeHolders(all, "reports"); return err },
	} {
		var e *Error
		if err := op(); !errors.As(err, &e) || e.Rule != "catalogue" {
			t.Errorf("a delegate changing the catalogue: %v, want forbidden by rule catalogue", err)
		}
	}
	if _, err := env.apps.Catalogue(group); err != nil {
		t.Errorf("a delegate reading the catalogue: %v", err)
	}
	tests := []struct {
		as    context.Context
		grant string
		rule  string // "" for allowed
	}{
		{group, "sms:send", ""},
		{group, "sms:send sms:read", ""},
		{group, "sms:*", ""},
		{group, "viber:send", "scope"},
		{group, "all:any", "scope"},
		{all, "viber:send reports", ""},
		{all, "sms:*", ""},
		{all, "all:any", ""},
		{all, scopes.Admin, "reserved_scope"},
		{all, scopes.Introspect, "reserved_scope"},
	}
	for _, tt := range tests {
		_, _, err := env.apps.Create(tt.as, NewApplication{Name: "daemon", Scopes: []string{tt.grant}})
		var e *Error
		switch {
		case tt.rule == "" && err != nil:
			t.Errorf("granting %q: %v", tt.grant, err)
		case tt.rule != "" && (!errors.As(err, &e) || e.Rule != tt.rule):
			t.Errorf("granting %q: %v, want refused by rule %s", tt.grant, err, tt.rule)
		}
	}
}

// An API key carries catalogued scopes, as a token does: the forms its
// application holds, expanded.
func TestAPIKeyScopesExpanded(t *testing.T) {
	env := newTestEnv(t, Options{})
	env.apps = New(env.store, smsgateSeed(t), Options{})
	ctx := WithActor(context.Background(), Actor{Name: "admin-key:test"})
	a, _, err := env.apps.Create(ctx, NewApplication{Name: "n", Scopes: []string{"sms:* reports"}})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		ask  []string
		want string
	}{
		{nil, "sms:send sms:read reports"},
		{[]string{"sms:*"}, "sms:send sms:read"},
		{[]string{"sms:read"}, "sms:read"},
		{[]string{"viber:send"}, ""},
	}
	for _, tt := range tests {
		k, _, err := env.apps.CreateAPIKey(ctx, a.ClientID, NewAPIKey{Name: "k", Scopes: tt.ask})
		switch got := scopes.Format(k.Scopes); {
		case tt.want == "" && ErrorCode(err) != CodeInvalid:
			t.Errorf("key for %v: %v, %v; want refused", tt.ask, got, err)
		case tt.want != "" && (err != nil || got != tt.want):
			t.Errorf("key for %v: %q, %v; want %q", tt.ask, got, err, tt.want)
		}
	}
}
