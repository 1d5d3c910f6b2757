package server

import (
	"testing"

	goredis "github.com/redis/go-redis/v9"

	"github.com/oauthd/oauthd/server/metrics"
)

// BenchmarkTokenIssueMetrics is BenchmarkTokenIssue as serve runs it: with
// the request metrics and the Redis command hook. The difference between
// the two is what the metrics cost on the hot path.
func BenchmarkTokenIssueMetrics(b *testing.B) {
	benchTokenIssue(b, func(cfg *Config, rdb goredis.UniversalClient) {
		mx := metrics.New(metrics.Build{Version: "bench"})
		mx.InstrumentRedis(rdb)
		cfg.Observer = mx
	})
}
