package redis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/oauthd/oauthd/store"
)

// The scope catalogue is one JSON record, <prefix>:scopes, read whole on
// every miss and rewritten whole by every change (a compare-and-swap
// under WATCH): it is a few dozen short entries, changed by hand. Each
// change publishes scopesChanged on the invalidation channel in its
// MULTI, so every replica's cached copy goes at once.

func (s *Store) scopesKey() string { return s.opts.Prefix + ":scopes" }

// scopesChanged is the invalidation message of a catalogue change. The
// channel's other messages are client_ids, which never hold a ':'.
const scopesChanged = ":scopes"

type scopesRecord struct {
	Version uint64        `json:"version"`
	Scopes  []scopeRecord `json:"scopes"`
}

type scopeRecord struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
}

func decodeScopes(b []byte) (store.ScopeList, error) {
	var r scopesRecord
	if err := json.Unmarshal(b, &r); err != nil {
		return store.ScopeList{}, fmt.Errorf("corrupt scope catalogue record: %w", err)
	}
	out := store.ScopeList{Version: r.Version, Scopes: make([]store.Scope, len(r.Scopes))}
	for i, sc := range r.Scopes {
		out.Scopes[i] = store.Scope{Name: sc.Name, Description: sc.Description}
	}
	return out, nil
}

func encodeScopes(l store.ScopeList) ([]byte, error) {
	r := scopesRecord{Version: l.Version, Scopes: make([]scopeRecord, len(l.Scopes))}
	for i, sc := range l.Scopes {
		r.Scopes[i] = scopeRecord{Name: sc.Name, Description: sc.Description}
	}
	return json.Marshal(r)
}

// nextVersion is the version of the catalogue that follows one at v:
// greater, and from the clock, so a catalogue stored again after Redis
// lost the old one (a flush) does not reuse a version a replica has seen.
func nextVersion(v uint64) uint64 { return max(v+1, uint64(time.Now().UnixMicro())) }

// ListScopes returns the catalogue, from the cache when it is up. The
// slice is shared with the cache: do not modify it.
func (s *Store) ListScopes(ctx context.Context) (store.ScopeList, error) {
	if l, ok := s.scopes.get(); ok {
		return l, nil
	}
	epoch := s.scopes.begin()
	b, err := s.rdb.Get(ctx, s.scopesKey()).Bytes()
	if err != nil {
		return store.ScopeList{}, s.wrap(err) // goredis.Nil: ErrNotFound
	}
	l, err := decodeScopes(b)
	if err != nil {
		return store.ScopeList{}, err
	}
	s.scopes.add(l, epoch)
	return l, nil
}

// CreateScopes stores the first catalogue; ErrAlreadyExists when there is
// one.
func (s *Store) CreateScopes(ctx context.Context, list []store.Scope) error {
	return s.changeScopes(ctx, func(l *store.ScopeList, found bool) error {
		if found {
			return fmt.Errorf("scope catalogue: %w", store.ErrAlreadyExists)
		}
		l.Scopes = append([]store.Scope(nil), list...)
		return nil
	})
}

// PutScope adds a scope at the end or sets a catalogued one's
// description.
func (s *Store) PutScope(ctx context.Context, sc store.Scope) (bool, error) {
	added := false
	err := s.changeScopes(ctx, func(l *store.ScopeList, found bool) error {
		if !found {
			return fmt.Errorf("scope catalogue: %w", store.ErrNotFound)
		}
		l.Scopes = append([]store.Scope(nil), l.Scopes...)
		for i := range l.Scopes {
			if l.Scopes[i].Name == sc.Name {
				l.Scopes[i].Description, added = sc.Description, false
				return nil
			}
		}
		l.Scopes, added = append(l.Scopes, sc), true
		return nil
	})
	return added, err
}

// DeleteScope removes a catalogued scope.
func (s *Store) DeleteScope(ctx context.Context, name string) error {
	return s.changeScopes(ctx, func(l *store.ScopeList, found bool) error {
		for i, sc := range l.Scopes {
			if sc.Name == name {
				l.Scopes = append(l.Scopes[:i:i], l.Scopes[i+1:]...)
				return nil
			}
		}
		return fmt.Errorf("scope %q: %w", name, store.ErrNotFound)
	})
}

// changeScopes is the compare-and-swap every catalogue write is: edit
// gets the stored catalogue (found false when there is none) to change in
// place, or an error that aborts. The new version is set here, and the
// change published to every replica's cache in the same MULTI.
func (s *Store) changeScopes(ctx context.Context, edit func(l *store.ScopeList, found bool) error) error {
	key := s.scopesKey()
	txf := func(tx *goredis.Tx) error {
		var l store.ScopeList
		b, err := tx.Get(ctx, key).Bytes()
		found := err == nil
		switch {
		case errors.Is(err, goredis.Nil):
		case err != nil:
			return err
		default:
			if l, err = decodeScopes(b); err != nil {
				return passErr{err}
			}
		}
		if err := edit(&l, found); err != nil {
			return passErr{err}
		}
		l.Version = nextVersion(l.Version)
		nb, err := encodeScopes(l)
		if err != nil {
			return passErr{err}
		}
		_, err = tx.TxPipelined(ctx, func(p goredis.Pipeliner) error {
			p.Set(ctx, key, nb, 0)
			p.Publish(ctx, s.changesChannel(), scopesChanged)
			return nil
		})
		return err
	}
	err := s.watch(ctx, "scope catalogue", txf, key)
	s.scopes.invalidate() // read-your-writes here, before the message arrives
	return err
}

// scopeCache keeps the catalogue in process, on the terms of the
// application cache (appCache): served only while the invalidation
// channel is up, emptied by every change, and filled only by a read that
// no invalidation overtook.
type scopeCache struct {
	val   atomic.Pointer[store.ScopeList] // nil: nothing cached
	mu    sync.Mutex
	up    bool
	epoch uint64
}

func (c *scopeCache) get() (store.ScopeList, bool) {
	if l := c.val.Load(); l != nil {
		return *l, true
	}
	return store.ScopeList{}, false
}

func (c *scopeCache) begin() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.epoch
}

func (c *scopeCache) add(l store.ScopeList, epoch uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.up && c.epoch == epoch {
		c.val.Store(&l)
	}
}

// invalidate drops the cached catalogue: it changed.
func (c *scopeCache) invalidate() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.drop()
}

// setUp turns the cache on or off; either way it starts empty, because
// invalidations may have been missed while it was off.
func (c *scopeCache) setUp(up bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.drop()
	c.up = up
}

// drop empties the cache and fences off the reads begun before; c.mu is
// held.
func (c *scopeCache) drop() {
	c.epoch++
	c.val.Store(nil)
}
