package apps

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/oauthd/oauthd/store"
)

// An update's audit event keeps only the fields that moved, with their
// old values: the dashboard's form posts every field.
func TestUpdateSaysWhatChanged(t *testing.T) {
	env := newTestEnv(t, Options{})
	ctx := WithActor(context.Background(), Actor{Name: "test"})
	a, _, err := env.apps.Create(ctx, NewApplication{Name: "reports", Scopes: []string{"sms"}, TokenLifetime: "24h"})
	if err != nil {
		t.Fatal(err)
	}
	name, life, sc := "nightly reports", "24h", []string{"sms", "groups"}
	if _, err := env.apps.Update(ctx, a.ClientID, ApplicationPatch{Name: &name, TokenLifetime: &life, Scopes: &sc}); err != nil {
		t.Fatal(err)
	}
	ev, _, err := env.apps.Events(ctx, store.EventFilter{ClientID: a.ClientID, Kind: "application.updated"}, "", 1)
	if err != nil || len(ev) != 1 {
		t.Fatalf("events: %v, %v", ev, err)
	}
	d := ev[0].Detail
	prev, _ := d["previous"].(map[string]any)
	if d["name"] != "nightly reports" || prev["name"] != "reports" || prev["scopes"] == nil || d["token_lifetime"] != nil {
		t.Fatalf("detail %v: want name and scopes with their old values, not the unchanged lifetime", d)
	}
}

// The overview counts every application's tokens and the security log's
// events by their aggregated counts, and is an admin key's alone.
func TestOverview(t *testing.T) {
	env := newTestEnv(t, Options{})
	ctx := WithActor(context.Background(), Actor{Name: "test"})
	a, _, err := env.apps.Create(ctx, NewApplication{Name: "busy", Scopes: []string{"sms"}})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	tok := store.Token{ClientID: a.ClientID, Scopes: []string{"sms"}, IssuedAt: now, ExpiresAt: now.Add(time.Hour)}
	if err := env.store.CreateToken(ctx, store.TokenRef{ClientID: a.ClientID, Bucket: tok.Bucket(), Digest: store.Sum("t")}, tok); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		env.apps.Security(ctx, store.SecurityEvent{Kind: "client.auth_failed", ClientID: "nobody", Addr: netip.AddrFrom4([4]byte{192, 0, 2, byte(i)})})
	}
	env.apps.Flush(ctx)
	o, err := env.apps.Overview(ctx, 24, 5)
	if err != nil {
		t.Fatal(err)
	}
	if o.Issued[23] != 1 || len(o.Top) != 1 || o.Top[0].Name != "busy" || o.Security["client.auth_failed"] != 3 || !o.KeysOff {
		t.Fatalf("overview %+v", o)
	}
	del := WithActor(ctx, Actor{Name: "client:x", Delegate: &Delegate{ClientID: "x", Owner: "acct_1", Lifetime: time.Hour}})
	if _, err := env.apps.Overview(del, 24, 5); ErrorCode(err) != CodeForbidden {
		t.Fatalf("a delegate's overview: %v, want forbidden", err)
	}
}
