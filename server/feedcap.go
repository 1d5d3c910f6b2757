package server

import (
	"net/http"
	"sync"
	"time"

	"github.com/oauthd/oauthd/server/web"
)

// Feed connections are long-lived: each holds a goroutine, buffers and an
// event channel (about 170 KB all told), so one credential opening
// thousands could take the replica's memory. feedSlots caps them per
// credential and in total.
type feedSlots struct {
	max, perClient int

	mu       sync.Mutex
	total    int
	byClient map[string]int
}

// Defaults for Config.FeedMaxSubscribers and FeedMaxPerClient.
const (
	DefaultFeedMaxSubscribers = 1000
	DefaultFeedMaxPerClient   = 16
)

// feedRetryAfter is the Retry-After of a refused feed connection: long
// enough that a subscriber does not hammer a full replica.
const feedRetryAfter = 5 * time.Second

// take reserves a slot for clientID, or answers why not: 429 when this
// credential holds its share (its own doing), 503 when the replica is full
// (try another one). release gives the slot back.
func (f *feedSlots) take(clientID string) (release func(), err *web.Error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case f.byClient[clientID] >= f.perClient:
		return nil, &web.Error{Code: "slow_down", Status: http.StatusTooManyRequests, RetryAfter: feedRetryAfter,
			Reason:      "feed connections per client",
			Description: "this application holds as many revocation feed connections as it may (feed.max_subscribers_per_client); one per resource server replica is enough: close the others"}
	case f.total >= f.max:
		return nil, &web.Error{Code: "temporarily_unavailable", Status: http.StatusServiceUnavailable, RetryAfter: feedRetryAfter,
			Reason:      "feed connections in total",
			Description: "this replica serves as many revocation feed connections as it may (feed.max_subscribers); retry later or on another replica"}
	}
	if f.byClient == nil {
		f.byClient = map[string]int{}
	}
	f.total++
	f.byClient[clientID]++
	return func() {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.total--
		if f.byClient[clientID]--; f.byClient[clientID] <= 0 {
			delete(f.byClient, clientID)
		}
	}, nil
}
