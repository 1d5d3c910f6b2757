package redis

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/oauthd/oauthd/store"
)

func TestAppCache(t *testing.T) {
	t.Parallel()
	c := newAppCache(2)
	a := store.Application{ClientID: "a", Name: "one"}
	// Down (not subscribed): nothing is served or kept.
	c.add(&a, c.begin())
	if _, ok := c.get("a"); ok {
		t.Fatal("served while down")
	}
	c.setUp(true)
	c.add(&a, c.begin())
	if got, ok := c.get("a"); !ok || got.Name != "one" {
		t.Fatalf("get after add = %+v, %v", got, ok)
	}
	// A read that started before an invalidation must not be cached: it
	// may hold the record from before the change.
	epoch := c.begin()
	c.invalidate("b")
	c.add(&store.Application{ClientID: "b", Name: "stale"}, epoch)
	if _, ok := c.get("b"); ok {
		t.Fatal("a read older than an invalidation was cached")
	}
	c.invalidate("a")
	if _, ok := c.get("a"); ok {
		t.Fatal("invalidated entry still served")
	}
	// Bounded: the least recently used goes.
	for _, id := range []string{"x", "y", "z"} {
		c.add(&store.Application{ClientID: id}, c.begin())
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
	c.add(&store.Application{ClientID: "w"}, epoch)
	if _, ok := c.get("w"); ok {
		t.Fatal("a read from before the subscription was cached")
	}
}

// What one cached application costs the process, for the documented
// figure (docs/operations.md, redis.app_cache_size): 10,000 applications
// as oauthd creates them (two scopes, a secret, an owner and a little
// metadata), decoded from their records as a cache miss decodes them,
// with the cache's own bookkeeping.
func TestAppCacheEntryCost(t *testing.T) {
	const n = 10_000
	records := make([][]byte, n)
	now := time.Now()
	for i := range records {
		a := store.Application{ClientID: fmt.Sprintf("%026d", i), Name: "billing daemon", Owner: "acct-42",
			Metadata: map[string]string{"env": "prod"}, Scopes: []string{"sms", "groups"}, TokenLifetime: 24 * time.Hour,
			Enabled: true, Secrets: []store.Secret{{ID: "s1", Digest: store.Sum(fmt.Sprint(i)), CreatedAt: now}},
			CreatedAt: now, UpdatedAt: now}
		b, err := encodeApp(a)
		if err != nil {
			t.Fatal(err)
		}
		records[i] = b
	}
	heap := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	c := newAppCache(n)
	c.setUp(true)
	before := heap()
	for _, b := range records {
		a, err := decodeApp(b)
		if err != nil {
			t.Fatal(err)
		}
		c.add(&a, c.begin())
	}
	per := float64(heap()-before) / n
	runtime.KeepAlive(c)
	t.Logf("%.0f bytes per cached application", per)
	if per > 1024 {
		t.Errorf("%.0f bytes per cached application: docs/operations.md says about half a kilobyte", per)
	}
}
