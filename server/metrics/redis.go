package metrics

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	goredis "github.com/redis/go-redis/v9"
)

// InstrumentRedis times every command rdb sends (a go-redis hook) and
// exports its connection pool's statistics at each scrape.
func (m *Metrics) InstrumentRedis(rdb goredis.UniversalClient) {
	rdb.AddHook(redisHook{m})
	m.reg.MustRegister(poolCollector{rdb})
}

type redisHook struct{ m *Metrics }

func (redisHook) DialHook(next goredis.DialHook) goredis.DialHook { return next }

func (h redisHook) ProcessHook(next goredis.ProcessHook) goredis.ProcessHook {
	return func(ctx context.Context, cmd goredis.Cmder) error {
		start := time.Now()
		err := next(ctx, cmd)
		h.observe(commandName(cmd.Name()), time.Since(start), err)
		return err
	}
}

func (h redisHook) ProcessPipelineHook(next goredis.ProcessPipelineHook) goredis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []goredis.Cmder) error {
		start := time.Now()
		err := next(ctx, cmds)
		h.observe("pipeline", time.Since(start), err)
		return err
	}
}

func (h redisHook) observe(name string, took time.Duration, err error) {
	h.m.redisDuration.WithLabelValues(name).Observe(took.Seconds())
	if err != nil && !errors.Is(err, goredis.Nil) {
		h.m.redisErrors.WithLabelValues(name).Inc()
	}
}

// commandName bounds the label to the commands oauthd sends; anything
// else (a future command, a typo) is "other" rather than a new series.
func commandName(name string) string {
	name = strings.ToLower(name)
	switch name {
	case "get", "set", "del", "unlink", "exists", "expire", "pexpire", "ttl", "pttl",
		"mget", "hget", "hset", "hgetall", "hincrby", "hmget",
		"zadd", "zrem", "zrange", "zrangebyscore", "zremrangebyscore", "zcard", "zscore",
		"xadd", "xrange", "xrevrange", "watch", "unwatch", "multi", "exec", "eval", "evalsha",
		"ping", "incr", "incrby", "scan", "hello", "auth", "select", "cluster", "info", "client":
		return name
	}
	return "other"
}

// poolCollector reads go-redis's pool statistics when scraped.
type poolCollector struct{ rdb goredis.UniversalClient }

var (
	poolHits     = prometheus.NewDesc("oauthd_redis_pool_hits_total", "Times a free connection was found in the pool.", nil, nil)
	poolMisses   = prometheus.NewDesc("oauthd_redis_pool_misses_total", "Times no free connection was in the pool and one was dialled.", nil, nil)
	poolTimeouts = prometheus.NewDesc("oauthd_redis_pool_timeouts_total", "Times waiting for a connection from the pool timed out.", nil, nil)
	poolTotal    = prometheus.NewDesc("oauthd_redis_pool_connections", "Connections in the pool, by state (idle or in use).", []string{"state"}, nil)
	poolStale    = prometheus.NewDesc("oauthd_redis_pool_stale_connections_total", "Connections removed from the pool as stale.", nil, nil)
)

func (poolCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{poolHits, poolMisses, poolTimeouts, poolTotal, poolStale} {
		ch <- d
	}
}

func (p poolCollector) Collect(ch chan<- prometheus.Metric) {
	s := p.rdb.PoolStats()
	ch <- prometheus.MustNewConstMetric(poolHits, prometheus.CounterValue, float64(s.Hits))
	ch <- prometheus.MustNewConstMetric(poolMisses, prometheus.CounterValue, float64(s.Misses))
	ch <- prometheus.MustNewConstMetric(poolTimeouts, prometheus.CounterValue, float64(s.Timeouts))
	ch <- prometheus.MustNewConstMetric(poolStale, prometheus.CounterValue, float64(s.StaleConns))
	ch <- prometheus.MustNewConstMetric(poolTotal, prometheus.GaugeValue, float64(s.IdleConns), "idle")
	ch <- prometheus.MustNewConstMetric(poolTotal, prometheus.GaugeValue, float64(s.TotalConns-s.IdleConns), "in_use")
}
