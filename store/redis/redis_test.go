package redis_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/oauthd/oauthd/store"
	"github.com/oauthd/oauthd/store/redis"
	"github.com/oauthd/oauthd/store/redis/redistest"
	"github.com/oauthd/oauthd/store/storetest"
)

var _ storetest.Store = (*redis.Store)(nil)

func TestConformance(t *testing.T) {
	for _, kind := range redistest.Kinds {
		t.Run(string(kind), func(t *testing.T) {
			storetest.RunTests(t, func(t *testing.T) storetest.Store {
				srv := redistest.Start(t, kind)
				return redis.New(srv.Client(t), redis.Options{Prefix: "test"})
			})
		})
	}
}

// The token record's Redis TTL must equal the token's lifetime, so Redis
// itself forgets expired tokens, and a never-expiring token has none.
func TestTokenTTL(t *testing.T) {
	for _, kind := range redistest.Kinds {
		t.Run(string(kind), func(t *testing.T) {
			ctx := context.Background()
			srv := redistest.Start(t, kind)
			rdb := srv.Client(t)
			s := redis.New(rdb, redis.Options{Prefix: "ttl"})
			app := store.Application{ClientID: "c1", Name: "n", Enabled: true, CreatedAt: time.Now()}
			if err := s.CreateApplication(ctx, app); err != nil {
				t.Fatal(err)
			}
			now := time.Now()
			short := store.TokenRef{ClientID: "c1", Digest: store.Sum("short")}
			never := store.TokenRef{ClientID: "c1", Digest: store.Sum("never")}
			if err := s.CreateToken(ctx, short, store.Token{ID: "a", ClientID: "c1", IssuedAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
				t.Fatal(err)
			}
			if err := s.CreateToken(ctx, never, store.Token{ID: "b", ClientID: "c1", IssuedAt: now}); err != nil {
				t.Fatal(err)
			}
			keys, err := rdb.Keys(ctx, "ttl:{c1}:tok:*").Result()
			if err != nil || len(keys) != 2 {
				t.Fatalf("token keys = %v, %v; want two keys under the application's hash tag", keys, err)
			}
			var ttls []time.Duration
			for _, k := range keys {
				ttls = append(ttls, rdb.PTTL(ctx, k).Val())
			}
			var sawHour, sawNone bool
			for _, d := range ttls {
				switch {
				case d > 59*time.Minute && d <= time.Hour:
					sawHour = true
				case d < 0: // -1: no expiry
					sawNone = true
				}
			}
			if !sawHour || !sawNone {
				t.Fatalf("TTLs = %v, want one of about 1h and one without expiry", ttls)
			}
			// The raw token never appears in a key or value.
			for _, k := range keys {
				v := rdb.Get(ctx, k).Val()
				for _, raw := range []string{"short", "never"} {
					if containsWord(k, raw) || containsWord(v, raw) {
						t.Fatalf("raw token %q stored in %s = %s", raw, k, v)
					}
				}
			}
			if srv.Mini != nil {
				srv.Mini.FastForward(time.Hour + time.Second)
				if l, err := s.LookupToken(ctx, short, ""); err != nil || l.Token != nil {
					t.Fatalf("token past its TTL: %+v, %v; want no record", l, err)
				}
				if l, err := s.LookupToken(ctx, never, ""); err != nil || l.Token == nil {
					t.Fatalf("never-expiring token gone: %+v, %v", l, err)
				}
			}
		})
	}
}

func containsWord(s, w string) bool {
	for i := 0; i+len(w) <= len(s); i++ {
		if s[i:i+len(w)] == w {
			return true
		}
	}
	return false
}

// When Redis goes away every call reports ErrUnavailable (mapped to 503),
// never ErrNotFound (which would turn an outage into "invalid token").
func TestUnavailable(t *testing.T) {
	for _, kind := range redistest.Kinds {
		t.Run(string(kind), func(t *testing.T) {
			ctx := context.Background()
			srv := redistest.Start(t, kind)
			rdb, err := redis.NewClient(srv.URL)
			if err != nil {
				t.Fatal(err)
			}
			defer rdb.Close()
			s := redis.New(rdb, redis.Options{Prefix: "down"})
			if err := s.Ping(ctx); err != nil {
				t.Fatal(err)
			}
			srv.Stop()
			ref := store.TokenRef{ClientID: "c", Digest: store.Sum("t")}
			calls := map[string]error{
				"Ping":              s.Ping(ctx),
				"GetApplication":    second(s.GetApplication(ctx, "c")),
				"CreateApplication": s.CreateApplication(ctx, store.Application{ClientID: "c"}),
				"DeleteApplication": s.DeleteApplication(ctx, "c"),
				"CreateToken":       s.CreateToken(ctx, ref, store.Token{}),
				"RevokeToken":       second(s.RevokeToken(ctx, ref, time.Hour)),
				"GetUsage":          second(s.GetUsage(ctx, "c")),
			}
			_, calls["LookupToken"] = s.LookupToken(ctx, ref, "other")
			_, _, calls["ListApplications"] = s.ListApplications(ctx, "", 10)
			_, calls["UpdateApplication"] = s.UpdateApplication(ctx, "c", func(a store.Application) (store.Application, error) { return a, nil })
			for name, err := range calls {
				if !errors.Is(err, store.ErrUnavailable) {
					t.Errorf("%s with Redis down = %v, want ErrUnavailable", name, err)
				}
			}
		})
	}
}

func second[T any](_ T, err error) error { return err }
