package server

import (
	"context"
	"net/http/httptest"
	"testing"

	"github.com/oauthd/oauthd/metrics"
	"github.com/oauthd/oauthd/scopes"
	"github.com/oauthd/oauthd/store/redis"
)

// BenchmarkTokenIssueMetrics is BenchmarkTokenIssue as serve runs it: with
// the request metrics and the Redis command hook. The difference between
// the two is what the metrics cost on the hot path.
func BenchmarkTokenIssueMetrics(b *testing.B) {
	rs := benchRedis(b)
	rdb, _ := redis.NewClient(rs.URL)
	defer rdb.Close()
	mx := metrics.New(metrics.Build{Version: "bench"})
	mx.InstrumentRedis(rdb)
	st := redis.New(rdb, redis.Options{Prefix: "bench"})
	srv, err := New(Config{Catalogue: scopes.Default(), Observer: mx}, st)
	if err != nil {
		b.Fatal(err)
	}
	app, secret, err := NewApps(st, scopes.Default(), AppsOptions{}).Create(context.Background(), NewApplication{Name: "bench", Scopes: []string{"sms"}})
	if err != nil {
		b.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	defer hs.Close()
	benchPost(b, hs.URL+"/oauth/token", basic(app.ClientID, secret))
}
