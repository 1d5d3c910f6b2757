package redis_test

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/oauthd/oauthd/store"
	"github.com/oauthd/oauthd/store/redis"
	"github.com/oauthd/oauthd/store/redis/redistest"
)

// running starts s.Run for the test and waits until its cache is on.
func running(t *testing.T, s *redis.Store) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); s.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	eventually(t, "cache on", func() bool { return s.CacheStats().Up })
}

// eventually polls cond, bounded: for effects that cross a pub/sub
// channel, which gives the test no signal of its own.
func eventually(t *testing.T, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > 5*time.Second {
			t.Fatalf("%s: not within 5s", what)
		}
		time.Sleep(time.Millisecond)
	}
	return time.Since(start)
}

// Two replicas on one Redis: a change made through one is seen by the
// other's cache within milliseconds, and a replica whose invalidation
// channel breaks never serves from its cache until it is back.
func TestCacheCoherence(t *testing.T) {
	t.Parallel()
	for _, kind := range redistest.Kinds {
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			srv := redistest.Start(t, kind)
			a := redis.New(srv.Client(t), redis.Options{Prefix: "co"})
			b := redis.New(srv.Client(t), redis.Options{Prefix: "co"})
			running(t, a)
			running(t, b)
			app := store.Application{ClientID: "c", Name: "v1", Enabled: true, CreatedAt: time.Now()}
			if err := a.CreateApplication(ctx, app); err != nil {
				t.Fatal(err)
			}
			nameOf := func(s *redis.Store, id string) string {
				got, err := s.GetApplication(ctx, id)
				if err != nil {
					return err.Error()
				}
				return got.Name
			}
			name := func(s *redis.Store) string { return nameOf(s, "c") }
			if name(b) != "v1" || name(b) != "v1" || b.CacheStats().Hits == 0 {
				t.Fatalf("b does not serve from its cache: %+v", b.CacheStats())
			}
			// A change through a: b evicts on the message.
			if _, err := a.UpdateApplication(ctx, "c", func(x store.Application) (store.Application, error) {
				x.Name = "v2"
				return x, nil
			}); err != nil {
				t.Fatal(err)
			}
			if name(a) != "v2" {
				t.Fatal("a serves its own stale copy after its own change")
			}
			d := eventually(t, "b sees the change", func() bool { return name(b) == "v2" })
			t.Logf("%s: change seen by the other replica after %v", kind, d)
			// Delete through a: b forgets it.
			if err := a.DeleteApplication(ctx, "c"); err != nil {
				t.Fatal(err)
			}
			eventually(t, "b sees the delete", func() bool { return name(b) == store.ErrNotFound.Error() })

			if kind != redistest.Real {
				return // miniredis cannot kill one client's connection
			}
			// Break b's subscription. Until b has noticed (a closed
			// connection is noticed at once) its cache may still hold
			// entries; from then on it must read through, and a change
			// nobody published (as one lost with the connection) must be
			// seen.
			if err := a.CreateApplication(ctx, store.Application{ClientID: "d", Name: "d1", CreatedAt: time.Now()}); err != nil {
				t.Fatal(err)
			}
			if nameOf(b, "d") != "d1" || nameOf(b, "d") != "d1" {
				t.Fatal("b does not see d")
			}
			drops := b.CacheStats().Drops
			admin := goredis.NewClient(&goredis.Options{Addr: srv.Addr})
			defer admin.Close()
			if err := admin.ClientKillByFilter(ctx, "TYPE", "pubsub").Err(); err != nil {
				t.Fatal(err)
			}
			eventually(t, "b drops its cache", func() bool { return b.CacheStats().Drops > drops })
			raw := admin.Get(ctx, "co:{d}:app").Val()
			admin.Set(ctx, "co:{d}:app", strings.Replace(raw, `"name":"d1"`, `"name":"d2"`, 1), 0) // no PUBLISH
			got, err := b.GetApplication(ctx, "d")
			if err != nil || got.Name != "d2" {
				t.Fatalf("after its channel broke, b served %q (%v), want the current d2", got.Name, err)
			}
			// And it comes back by itself.
			eventually(t, "b's cache back on", func() bool { return b.CacheStats().Up })
		})
	}
}

// getCounter counts the GETs of one key a client sends.
type getCounter struct {
	key string
	n   atomic.Int64
}

func (g *getCounter) DialHook(next goredis.DialHook) goredis.DialHook { return next }

func (g *getCounter) ProcessHook(next goredis.ProcessHook) goredis.ProcessHook {
	return func(ctx context.Context, cmd goredis.Cmder) error {
		if args := cmd.Args(); len(args) == 2 && cmd.Name() == "get" && args[1] == g.key {
			g.n.Add(1)
		}
		return next(ctx, cmd)
	}
}

func (g *getCounter) ProcessPipelineHook(next goredis.ProcessPipelineHook) goredis.ProcessPipelineHook {
	return next
}

// The scope catalogue on two replicas: each reads it from Redis once and
// then from its cache (the token path reads it on every request), and a
// change made through one is seen by the other within milliseconds.
func TestScopeCacheCoherence(t *testing.T) {
	t.Parallel()
	for _, kind := range redistest.Kinds {
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			srv := redistest.Start(t, kind)
			a := redis.New(srv.Client(t), redis.Options{Prefix: "co"})
			rdb := srv.Client(t)
			gets := &getCounter{key: "co:scopes"}
			rdb.AddHook(gets)
			b := redis.New(rdb, redis.Options{Prefix: "co"})
			running(t, a)
			running(t, b)
			if err := a.CreateScopes(ctx, []store.Scope{{Name: "sms"}}); err != nil {
				t.Fatal(err)
			}
			names := func(s *redis.Store) string {
				l, err := s.ListScopes(ctx)
				if err != nil {
					return err.Error()
				}
				var out []string
				for _, sc := range l.Scopes {
					out = append(out, sc.Name)
				}
				return strings.Join(out, " ")
			}
			for range 100 {
				if got := names(b); got != "sms" {
					t.Fatalf("b lists %q", got)
				}
			}
			// Once, then from the cache; twice when a's message of the
			// creation arrives after b's first read.
			if n := gets.n.Load(); n > 2 {
				t.Fatalf("b read the catalogue from Redis %d times for 100 reads; want once or twice, then its cache", n)
			}
			if _, err := a.PutScope(ctx, store.Scope{Name: "viber"}); err != nil {
				t.Fatal(err)
			}
			if names(a) != "sms viber" {
				t.Fatal("a serves its own stale copy after its own change")
			}
			d := eventually(t, "b sees the change", func() bool { return names(b) == "sms viber" })
			t.Logf("%s: catalogue change seen by the other replica after %v", kind, d)
			if err := a.DeleteScope(ctx, "sms"); err != nil {
				t.Fatal(err)
			}
			eventually(t, "b sees the delete", func() bool { return names(b) == "viber" })
		})
	}
}
