package metrics

import (
	"strings"
	"testing"
)

func TestFeedMetrics(t *testing.T) {
	m := New(Build{})
	stats := FeedStats{Subscribers: 3, Events: 5}
	m.InstrumentFeed(func() FeedStats { return stats })
	stats.Dropped = 1 // read at scrape time
	out := scrape(t, m)
	for _, want := range []string{"oauthd_feed_subscribers 3", "oauthd_feed_events_total 5", "oauthd_feed_dropped_total 1"} {
		if !strings.Contains(out, want) {
			t.Errorf("scrape lacks %s", want)
		}
	}
}
