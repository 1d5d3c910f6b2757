package redis

import (
	"net/netip"
	"testing"
	"time"

	"github.com/oauthd/oauthd/store"
)

func TestAppCache(t *testing.T) {
	c := newAppCache()
	a := store.Application{ClientID: "c1", Name: "one", Scopes: []string{"sms"},
		IPAllowlist: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}, Enabled: true, CreatedAt: time.UnixMilli(1)}
	raw, _ := encodeApp(a)
	got, err := c.decode("c1", raw)
	if err != nil || got.Name != "one" {
		t.Fatalf("first decode: %+v %v", got, err)
	}
	// A caller changing its copy cannot change what the cache serves.
	got.Scopes[0] = "changed"
	again, _ := c.decode("c1", raw)
	if again.Scopes[0] != "sms" {
		t.Fatal("cached application shares its slices with callers")
	}
	// Different bytes are decoded afresh: a change is never served stale.
	a.Name = "renamed"
	raw2, _ := encodeApp(a)
	if got, _ := c.decode("c1", raw2); got.Name != "renamed" {
		t.Fatalf("changed record served stale: %+v", got)
	}
	if _, err := c.decode("c1", []byte("{broken")); err == nil {
		t.Fatal("corrupt record accepted")
	}
}
