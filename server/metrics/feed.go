package metrics

import "github.com/prometheus/client_golang/prometheus"

// FeedStats is what the revocation feed reports (store/redis.FeedStats),
// without the metrics package importing the store.
type FeedStats struct {
	Subscribers int
	Events      uint64
	Dropped     uint64
}

// InstrumentFeed exposes the revocation feed's subscribers and events,
// read from stats at each scrape.
func (m *Metrics) InstrumentFeed(stats func() FeedStats) {
	m.reg.MustRegister(feedCollector(stats))
}

type feedCollector func() FeedStats

var (
	feedSubscribers = prometheus.NewDesc("oauthd_feed_subscribers", "Resource servers following this replica's revocation feed now.", nil, nil)
	feedEvents      = prometheus.NewDesc("oauthd_feed_events_total", "Revocation feed events this replica's reader fanned out.", nil, nil)
	feedDropped     = prometheus.NewDesc("oauthd_feed_dropped_total", "Feed subscribers disconnected for falling more than feed.buffer events behind.", nil, nil)
)

func (feedCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{feedSubscribers, feedEvents, feedDropped} {
		ch <- d
	}
}

func (c feedCollector) Collect(ch chan<- prometheus.Metric) {
	s := c()
	ch <- prometheus.MustNewConstMetric(feedSubscribers, prometheus.GaugeValue, float64(s.Subscribers))
	ch <- prometheus.MustNewConstMetric(feedEvents, prometheus.CounterValue, float64(s.Events))
	ch <- prometheus.MustNewConstMetric(feedDropped, prometheus.CounterValue, float64(s.Dropped))
}
