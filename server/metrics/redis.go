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
		name := commandName(cmd.Name())
		if blocking(cmd) {
			// A blocking read (the revocation feed's XREAD BLOCK) waits
			// for news by design: its time is not Redis's latency, and
			// in the histogram it made a quiet replica look slow.
			if failed(cmd, err) {
				h.m.redisErrors.WithLabelValues(name).Inc()
			}
			return err
		}
		h.observe(name, time.Since(start), failed(cmd, err))
		return err
	}
}

// blocking reports whether cmd waits on the server until something
// happens (XREAD with BLOCK).
func blocking(cmd goredis.Cmder) bool {
	if !strings.EqualFold(cmd.Name(), "xread") {
		return false
	}
	for _, a := range cmd.Args() {
		if s, ok := a.(string); ok && strings.EqualFold(s, "block") {
			return true
		}
	}
	return false
}

func (h redisHook) ProcessPipelineHook(next goredis.ProcessPipelineHook) goredis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []goredis.Cmder) error {
		start := time.Now()
		err := next(ctx, cmds)
		h.observe("pipeline", time.Since(start), pipelineFailed(cmds, err))
		return err
	}
}

func (h redisHook) observe(name string, took time.Duration, failed bool) {
	h.m.redisDuration.WithLabelValues(name).Observe(took.Seconds())
	if failed {
		h.m.redisErrors.WithLabelValues(name).Inc()
	}
}

// failed reports whether err, cmd's outcome, is a failure worth counting.
// A missing key (redis.Nil) is not, and neither are the refusals go-redis
// expects and carries on from: of a command of its connection handshake
// (CLIENT SETINFO, which Redis before 7.2 and miniredis do not know;
// CLIENT MAINT_NOTIFICATIONS, which only Redis Enterprise and Cloud know),
// and NOSCRIPT for an EVALSHA of a script the server has not cached yet
// (a new or restarted Redis, a failover), which it then sends with EVAL.
// Counted, they made oauthd_redis_errors_total rise on a healthy Redis,
// and its alert fire.
func failed(cmd goredis.Cmder, err error) bool {
	var reply goredis.Error
	switch {
	case err == nil, errors.Is(err, goredis.Nil):
		return false
	case handshake(cmd) && errors.As(err, &reply):
		return false
	case cmd != nil && cmd.Name() == "evalsha" && goredis.HasErrorPrefix(err, "NOSCRIPT"):
		return false
	}
	return true
}

// pipelineFailed reports whether a pipeline failed: one of its commands
// did, or it failed as a whole with no command to blame.
func pipelineFailed(cmds []goredis.Cmder, err error) bool {
	if err == nil {
		return false
	}
	blamed := false
	for _, c := range cmds {
		if c.Err() == nil {
			continue
		}
		if failed(c, c.Err()) {
			return true
		}
		blamed = true
	}
	return !blamed && failed(nil, err)
}

// handshake reports whether cmd is one of the connection handshake's
// optional commands.
func handshake(cmd goredis.Cmder) bool {
	if cmd == nil || cmd.Name() != "client" {
		return false
	}
	args := cmd.Args()
	if len(args) < 2 {
		return false
	}
	sub, _ := args[1].(string)
	return strings.EqualFold(sub, "setinfo") || strings.EqualFold(sub, "maint_notifications")
}

// commandName bounds the label to the commands oauthd sends; anything
// else (a future command, a typo) is "other" rather than a new series.
func commandName(name string) string {
	name = strings.ToLower(name)
	switch name {
	case "get", "set", "del", "unlink", "exists", "expire", "pexpire", "ttl", "pttl",
		"mget", "hget", "hset", "hgetall", "hincrby", "hmget",
		"zadd", "zrem", "zrange", "zrangebyscore", "zremrangebyscore", "zcard", "zscore",
		"xadd", "xrange", "xrevrange", "xread", "watch", "unwatch", "multi", "exec", "eval", "evalsha",
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
