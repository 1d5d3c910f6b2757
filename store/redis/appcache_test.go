package redis

import (
	"testing"

	"github.com/oauthd/oauthd/store"
)

func TestAppCache(t *testing.T) {
	c := newAppCache(2)
	a := store.Application{ClientID: "a", Name: "one"}
	// Down (not subscribed): nothing is served or kept.
	c.add(a, c.begin())
	if _, ok := c.get("a"); ok {
		t.Fatal("served while down")
	}
	c.setUp(true)
	c.add(a, c.begin())
	if got, ok := c.get("a"); !ok || got.Name != "one" {
		t.Fatalf("get after add = %+v, %v", got, ok)
	}
	// A read that started before an invalidation must not be cached: it
	// may hold the record from before the change.
	epoch := c.begin()
	c.invalidate("b")
	c.add(store.Application{ClientID: "b", Name: "stale"}, epoch)
	if _, ok := c.get("b"); ok {
		t.Fatal("a read older than an invalidation was cached")
	}
	c.invalidate("a")
	if _, ok := c.get("a"); ok {
		t.Fatal("invalidated entry still served")
	}
	// Bounded: the least recently used goes.
	for _, id := range []string{"x", "y", "z"} {
		c.add(store.Application{ClientID: id}, c.begin())
	}
	if c.lru.Len() != 2 {
		t.Fatalf("cache holds %d entries, bound is 2", c.lru.Len())
	}
	// Going down empties the cache and counts a drop; coming back up
	// starts empty too.
	c.setUp(false)
	c.setUp(true)
	if _, ok := c.get("z"); ok || c.drops.Load() != 1 {
		t.Fatalf("after a drop: served %v, drops %d", ok, c.drops.Load())
	}
	// A read that started while down is not cached once up again.
	c.setUp(false)
	epoch = c.begin()
	c.setUp(true)
	c.add(store.Application{ClientID: "w"}, epoch)
	if _, ok := c.get("w"); ok {
		t.Fatal("a read from before the subscription was cached")
	}
}
