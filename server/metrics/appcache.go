package metrics

import "github.com/prometheus/client_golang/prometheus"

// CacheStats are the application cache's counters since start.
type CacheStats struct {
	Hits, Misses, Invalidations, Drops uint64
}

// InstrumentAppCache exports the application cache's counters, read at
// each scrape through stats (so the cache needs no knowledge of
// Prometheus). serve wires it to the Redis store's CacheStats:
//
//	mx.InstrumentAppCache(func() metrics.CacheStats {
//		s := st.CacheStats()
//		return metrics.CacheStats{Hits: s.Hits, Misses: s.Misses, Invalidations: s.Invalidations, Drops: s.Drops}
//	})
func (m *Metrics) InstrumentAppCache(stats func() CacheStats) {
	m.reg.MustRegister(cacheCollector(stats))
}

type cacheCollector func() CacheStats

var (
	cacheHits          = prometheus.NewDesc("oauthd_app_cache_hits_total", "Application lookups answered from the in-process cache.", nil, nil)
	cacheMisses        = prometheus.NewDesc("oauthd_app_cache_misses_total", "Application lookups that decoded the record Redis returned.", nil, nil)
	cacheInvalidations = prometheus.NewDesc("oauthd_app_cache_invalidations_total", "Cached applications dropped because the record in Redis changed.", nil, nil)
	cacheDrops         = prometheus.NewDesc("oauthd_app_cache_drops_total", "Applications the cache dropped or declined to keep, as the store counts them (CacheStats.Drops).", nil, nil)
)

func (cacheCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{cacheHits, cacheMisses, cacheInvalidations, cacheDrops} {
		ch <- d
	}
}

func (c cacheCollector) Collect(ch chan<- prometheus.Metric) {
	s := c()
	ch <- prometheus.MustNewConstMetric(cacheHits, prometheus.CounterValue, float64(s.Hits))
	ch <- prometheus.MustNewConstMetric(cacheMisses, prometheus.CounterValue, float64(s.Misses))
	ch <- prometheus.MustNewConstMetric(cacheInvalidations, prometheus.CounterValue, float64(s.Invalidations))
	ch <- prometheus.MustNewConstMetric(cacheDrops, prometheus.CounterValue, float64(s.Drops))
}
