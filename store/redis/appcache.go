package redis

import (
	"sync"
	"sync/atomic"

	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/oauthd/oauthd/store"
)

// appCache keeps decoded applications in process, so token issue and
// introspection do not read them from Redis on every request. It is only
// trusted while the invalidation channel is up: every change to an
// application is published (in the same MULTI as the change) and each
// replica's follower evicts the entry. While the follower is not
// subscribed the cache is "down": nothing is served from it and nothing is
// added, so every read goes to Redis, and it is emptied again when the
// subscription comes back.
//
// A read that misses races with invalidations: replica A reads the old
// record from Redis, B changes it and publishes, A's follower evicts
// nothing, then A caches what it read, stale. The epoch closes that gap:
// a reader takes the epoch before it reads Redis and adds its result only
// if no invalidation (of any application) happened since.
type appCache struct {
	// Each entry is held by pointer, which get hands out: token issue
	// passes it to its check as it is, with no copy to the heap.
	lru   *lru.Cache[string, *store.Application]
	up    atomic.Bool
	epoch atomic.Uint64
	// mu orders adds against invalidations: an add checks the epoch and
	// inserts under it, an invalidation bumps the epoch and evicts under it.
	mu sync.Mutex

	hits, misses, invalidations, drops atomic.Uint64
}

// DefaultAppCacheSize bounds the number of cached applications. An entry
// costs about half a kilobyte (TestAppCacheEntryCost). A miss costs no
// round trip on the hot paths (the token script reads the application,
// introspection pipelines it), only the decoding here and Redis the
// script's: the cache saves CPU.
const DefaultAppCacheSize = 10_000

func newAppCache(size int) *appCache {
	if size <= 0 {
		size = DefaultAppCacheSize
	}
	c, err := lru.New[string, *store.Application](size)
	if err != nil {
		panic(err) // only for size <= 0, excluded above
	}
	return &appCache{lru: c}
}

// get returns a cached application. It is the cache's own, slices
// included: callers must not modify it.
func (c *appCache) get(id string) (*store.Application, bool) {
	if !c.up.Load() {
		return nil, false
	}
	a, ok := c.lru.Get(id)
	if ok {
		c.hits.Add(1)
	} else {
		c.misses.Add(1)
	}
	return a, ok
}

// begin returns the epoch to pass to add after reading from Redis.
func (c *appCache) begin() uint64 { return c.epoch.Load() }

// add caches a record read from Redis at epoch, unless something was
// invalidated since or the cache is down. a is the cache's from then on:
// nobody may modify it (get hands it out as it is).
func (c *appCache) add(a *store.Application, epoch uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.up.Load() && c.epoch.Load() == epoch {
		c.lru.Add(a.ClientID, a)
	}
}

// invalidate evicts one application: its record changed or is gone.
func (c *appCache) invalidate(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.epoch.Add(1)
	c.lru.Remove(id)
	c.invalidations.Add(1)
}

// setUp turns the cache on or off; either way it starts empty, because
// invalidations may have been missed while it was off.
func (c *appCache) setUp(up bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.epoch.Add(1)
	c.lru.Purge()
	if c.up.Swap(up) && !up {
		c.drops.Add(1)
	}
}

// CacheStats counts the application cache's work since start.
type CacheStats struct {
	// Hits and Misses count lookups while the cache was up.
	Hits, Misses uint64
	// Invalidations counts evictions because an application changed.
	Invalidations uint64
	// Drops counts the times the invalidation channel went down and the
	// whole cache was emptied.
	Drops uint64
	// Up reports whether the cache is being served from now.
	Up bool
	// Len is the number of applications cached.
	Len int
}

// CacheStats reports the application cache's counters.
func (s *Store) CacheStats() CacheStats {
	c := s.apps
	return CacheStats{
		Hits: c.hits.Load(), Misses: c.misses.Load(), Invalidations: c.invalidations.Load(),
		Drops: c.drops.Load(), Up: c.up.Load(), Len: c.lru.Len(),
	}
}
