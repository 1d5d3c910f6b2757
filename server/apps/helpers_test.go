package apps

import (
	"testing"
	"time"

	"github.com/oauthd/oauthd/scopes"
	"github.com/oauthd/oauthd/store/redis"
	"github.com/oauthd/oauthd/store/redis/redistest"
)

type testEnv struct {
	apps  *Service
	store *redis.Store
}

// newTestEnv builds the service on miniredis.
func newTestEnv(t testing.TB, opts Options) *testEnv {
	t.Helper()
	return newTestEnvKeep(t, opts, 0)
}

// newTestEnvKeep is newTestEnv on a store that keeps expired and revoked
// records for keep (introspection's inactive_reason).
func newTestEnvKeep(t testing.TB, opts Options, keep time.Duration) *testEnv {
	t.Helper()
	rs := redistest.Start(t, redistest.Mini)
	rdb, err := redis.NewClient(rs.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rdb.Close() })
	st := redis.New(rdb, redis.Options{Prefix: "test", KeepExpired: keep})
	return &testEnv{apps: New(st, scopes.Default(), opts), store: st}
}
