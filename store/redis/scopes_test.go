package redis

import (
	"testing"

	"github.com/oauthd/oauthd/store"
)

func TestScopeCache(t *testing.T) {
	t.Parallel()
	var c scopeCache
	l := store.ScopeList{Scopes: []store.Scope{{Name: "sms"}}, Version: 1}
	// Down (not subscribed): nothing is kept.
	c.add(l, c.begin())
	if _, ok := c.get(); ok {
		t.Fatal("served while down")
	}
	c.setUp(true)
	c.add(l, c.begin())
	if got, ok := c.get(); !ok || got.Version != 1 {
		t.Fatalf("get after add = %+v, %v", got, ok)
	}
	// A read that started before a change must not be cached.
	epoch := c.begin()
	c.invalidate()
	c.add(store.ScopeList{Version: 0}, epoch)
	if _, ok := c.get(); ok {
		t.Fatal("a read older than an invalidation was cached")
	}
	// Going down empties it, and a read from before is not cached once up.
	c.add(l, c.begin())
	epoch = c.begin()
	c.setUp(false)
	c.setUp(true)
	c.add(l, epoch)
	if _, ok := c.get(); ok {
		t.Fatal("a read from before the subscription came back was cached")
	}
}
