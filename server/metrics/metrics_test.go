package metrics

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	goredis "github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"

	"github.com/oauthd/oauthd/store/redis/redistest"
)

func scrape(t *testing.T, m *Metrics) string {
	t.Helper()
	w := httptest.NewRecorder()
	m.Handler().ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if w.Code != 200 {
		t.Fatalf("scrape: %d", w.Code)
	}
	b, _ := io.ReadAll(w.Body)
	return string(b)
}

func TestMetrics(t *testing.T) {
	m := New(Build{Version: "v1.2.3", Revision: "abc", GoVersion: "go1.x"})
	m.Request("/oauth/token", "POST", 200, 3*time.Millisecond)
	m.Request("/oauth/token", "POST", 200, 3*time.Millisecond)
	m.Request("/oauth/token", "BREW", 418, time.Millisecond)
	m.TokenIssued()
	m.ClientAuthFailed("wrong secret")
	m.Introspected("active")

	mini := miniredis.RunT(t)
	rdb := goredis.NewClient(&goredis.Options{Addr: mini.Addr(), MaxRetries: -1})
	defer rdb.Close()
	m.InstrumentRedis(rdb)
	ctx := context.Background()
	rdb.Set(ctx, "k", "v", 0)
	rdb.Get(ctx, "missing") // redis.Nil: not an error
	rdb.Do(ctx, "frobnicate")
	rdb.Pipelined(ctx, func(p goredis.Pipeliner) error { p.Get(ctx, "k"); p.Get(ctx, "k"); return nil })

	out := scrape(t, m)
	for _, want := range []string{
		`oauthd_http_requests_total{code="200",method="POST",route="/oauth/token"} 2`,
		`oauthd_http_requests_total{code="418",method="other",route="/oauth/token"} 1`,
		`oauthd_http_request_duration_seconds_bucket{method="POST",route="/oauth/token",le="0.005"} 2`,
		`oauthd_tokens_issued_total 1`,
		`oauthd_client_auth_failures_total{reason="wrong secret"} 1`,
		`oauthd_introspections_total{result="active"} 1`,
		`oauthd_build_info{goversion="go1.x",revision="abc",version="v1.2.3"} 1`,
		`oauthd_redis_command_duration_seconds_count{command="set"} 1`,
		`oauthd_redis_command_duration_seconds_count{command="get"} 1`,
		// The connection handshake (HELLO, CLIENT SETINFO) is a pipeline too.
		`oauthd_redis_command_duration_seconds_count{command="pipeline"} `,
		`oauthd_redis_errors_total{command="other"} 1`,
		`oauthd_redis_pool_connections{state="idle"} 1`,
		`oauthd_redis_pool_hits_total `,
		`go_goroutines `,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("scrape lacks %s", want)
		}
	}
	if strings.Contains(out, `oauthd_redis_errors_total{command="get"}`) {
		t.Error("a missing key counted as a Redis error")
	}
}

// BenchmarkObserveTokenRequest is what the metrics add to one token
// request: the request counter and histogram, the issued counter, and two
// Redis command observations.
func BenchmarkObserveTokenRequest(b *testing.B) {
	m := New(Build{})
	h := redisHook{m}
	b.ReportAllocs()
	for b.Loop() {
		m.Request("/oauth/token", "POST", 200, time.Millisecond)
		m.TokenIssued()
		h.observe("get", 100*time.Microsecond, false)
		h.observe("set", 100*time.Microsecond, false)
	}
}

func TestAppCacheMetrics(t *testing.T) {
	m := New(Build{})
	stats := CacheStats{Hits: 7, Misses: 2, Invalidations: 1}
	m.InstrumentAppCache(func() CacheStats { return stats })
	stats.Hits = 9 // read at scrape time, not at registration
	out := scrape(t, m)
	for _, want := range []string{
		"oauthd_app_cache_hits_total 9", "oauthd_app_cache_misses_total 2",
		"oauthd_app_cache_invalidations_total 1", "oauthd_app_cache_drops_total 0",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("scrape lacks %s", want)
		}
	}
}

// A healthy exchange counts no Redis error, on Redis 7.0 (redis-server
// here) and on miniredis, which both refuse go-redis's CLIENT SETINFO and
// CLIENT MAINT_NOTIFICATIONS handshake commands: new connections, hits,
// misses, pipelines, and a script's first run (EVALSHA refused with
// NOSCRIPT, then EVAL). A real failure still counts.
func TestRedisErrorsHealthy(t *testing.T) {
	for _, kind := range redistest.Kinds {
		t.Run(string(kind), func(t *testing.T) {
			rs := redistest.Start(t, kind)
			m := New(Build{})
			// Maintenance notifications off, as store/redis opens its
			// clients: in auto mode go-redis races with itself when
			// connections are made concurrently (the race detector's find).
			rdb := goredis.NewClient(&goredis.Options{Addr: rs.Addr, MaxRetries: -1, PoolSize: 4,
				MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}})
			defer rdb.Close()
			m.InstrumentRedis(rdb)
			ctx := context.Background()
			var wg sync.WaitGroup
			for i := range 8 { // more than the pool: connections are made and dropped
				wg.Go(func() {
					c := rdb.Conn()
					defer c.Close()
					c.Set(ctx, fmt.Sprint("k", i), "v", 0)
					c.Get(ctx, "missing")
					c.Pipelined(ctx, func(p goredis.Pipeliner) error { p.Get(ctx, "k0"); p.Get(ctx, "missing"); return nil })
				})
			}
			wg.Wait()
			// A script's first run: EVALSHA refused with NOSCRIPT, then EVAL.
			if err := goredis.NewScript(`return 1`).Run(ctx, rdb, nil).Err(); err != nil {
				t.Fatal(err)
			}
			out := scrape(t, m)
			if !strings.Contains(out, `oauthd_redis_command_duration_seconds_count{command="client"}`) && !strings.Contains(out, `oauthd_redis_command_duration_seconds_count{command="pipeline"}`) {
				t.Fatalf("no handshake observed:\n%s", out)
			}
			if strings.Contains(out, "oauthd_redis_errors_total{") {
				t.Fatalf("a healthy exchange counted errors:\n%s", grepLines(out, "oauthd_redis_errors_total"))
			}
			rdb.Do(ctx, "frobnicate")
			rdb.Pipelined(ctx, func(p goredis.Pipeliner) error { p.Get(ctx, "k0"); p.Do(ctx, "frobnicate"); return nil })
			out = scrape(t, m)
			for _, want := range []string{`oauthd_redis_errors_total{command="other"} 1`, `oauthd_redis_errors_total{command="pipeline"} 1`} {
				if !strings.Contains(out, want) {
					t.Errorf("scrape lacks %s:\n%s", want, grepLines(out, "oauthd_redis_errors_total"))
				}
			}
		})
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// A blocking read (the feed's XREAD BLOCK) waits for news by design: it
// stays out of the latency histogram, or a quiet replica's p99 is the
// block time and the Redis-slow alert fires.
func TestRedisBlockingReadNotLatency(t *testing.T) {
	rs := redistest.Start(t, redistest.Mini)
	m := New(Build{})
	rdb := goredis.NewClient(&goredis.Options{Addr: rs.Addr})
	defer rdb.Close()
	m.InstrumentRedis(rdb)
	ctx := context.Background()
	rdb.XAdd(ctx, &goredis.XAddArgs{Stream: "s", Values: []string{"k", "v"}})
	rdb.XRead(ctx, &goredis.XReadArgs{Streams: []string{"s", "$"}, Block: 50 * time.Millisecond})
	rdb.XRead(ctx, &goredis.XReadArgs{Streams: []string{"s", "0"}, Count: 1, Block: -1})
	out := scrape(t, m)
	if !strings.Contains(out, `oauthd_redis_command_duration_seconds_count{command="xread"} 1`) {
		t.Fatalf("want the non-blocking XREAD timed and the blocking one not:\n%s", grepLines(out, "duration_seconds_count"))
	}
}

func TestTotals(t *testing.T) {
	m := New(Build{})
	m.TokenIssued()
	m.TokenIssued()
	m.ClientAuthFailed("wrong_secret")
	m.ClientAuthFailed("unknown_client")
	m.LockedOut(LockScopeClient)
	m.QuotaRefused(BudgetIssue)
	m.QuotaRefused(BudgetIntrospect)
	got := m.Totals()
	if got.TokensIssued != 2 || got.AuthFailures != 2 || got.Lockouts != 1 || got.QuotaRefusals != 1 || got.IntrospectRefusals != 1 || got.Since.IsZero() {
		t.Fatalf("totals %+v", got)
	}
}
