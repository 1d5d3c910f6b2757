package redis

import (
	"bytes"
	"slices"
	"sync"

	"github.com/oauthd/oauthd/store"
)

// appCache remembers the last decoded record of each application, keyed by
// client_id and checked against the raw bytes Redis returned: a hit needs
// the bytes to be identical, so it can never serve a stale record, and it
// spares the hot paths (token issue, introspection) a JSON decode.
type appCache struct {
	mu      sync.RWMutex
	entries map[string]appEntry
}

type appEntry struct {
	raw []byte
	app store.Application
}

// maxCachedApps bounds the cache; past it, it starts over.
const maxCachedApps = 10000

func newAppCache() *appCache { return &appCache{entries: map[string]appEntry{}} }

// decode returns the application the raw record holds.
func (c *appCache) decode(id string, raw []byte) (store.Application, error) {
	c.mu.RLock()
	e, ok := c.entries[id]
	c.mu.RUnlock()
	if ok && bytes.Equal(e.raw, raw) {
		return cloneApp(e.app), nil
	}
	a, err := decodeApp(raw)
	if err != nil || a.ClientID != id {
		return a, err
	}
	c.mu.Lock()
	if len(c.entries) >= maxCachedApps {
		clear(c.entries)
	}
	c.entries[id] = appEntry{raw: bytes.Clone(raw), app: cloneApp(a)}
	c.mu.Unlock()
	return a, nil
}

// cloneApp copies the slices, so a caller changing its application cannot
// change the cached one.
func cloneApp(a store.Application) store.Application {
	a.Scopes = slices.Clone(a.Scopes)
	a.IPAllowlist = slices.Clone(a.IPAllowlist)
	a.Secrets = slices.Clone(a.Secrets)
	return a
}
