package metrics

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	goredis "github.com/redis/go-redis/v9"
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
		h.observe("get", 100*time.Microsecond, nil)
		h.observe("set", 100*time.Microsecond, nil)
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
