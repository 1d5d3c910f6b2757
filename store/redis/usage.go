package redis

import (
	"sync"
	"time"
)

// usageEvery is the resolution of last-used times. Writing them on every
// token would add two commands to the hot path; an operator asking "is this
// secret still used?" needs minutes, not milliseconds.
const usageEvery = time.Minute

// usageThrottle decides, per application and secret, when a token issue
// also records usage, and counts the tokens issued in between so the count
// stays exact (a crash loses at most usageEvery of counting, never a token).
type usageThrottle struct {
	mu      sync.Mutex
	written map[string]time.Time // client_id + "/" + secret id → last write
	pending map[string]int64     // client_id → tokens not yet counted in Redis
}

func newUsageThrottle() *usageThrottle {
	return &usageThrottle{written: map[string]time.Time{}, pending: map[string]int64{}}
}

// note records one issue and reports whether to write usage now and how
// many issued tokens to add.
func (u *usageThrottle) note(clientID, secretID string, at time.Time) (bool, int64) {
	key := clientID + "/" + secretID
	u.mu.Lock()
	defer u.mu.Unlock()
	u.pending[clientID]++
	if last, ok := u.written[key]; ok && at.Sub(last) < usageEvery && !at.Before(last) {
		return false, 0
	}
	u.written[key] = at
	n := u.pending[clientID]
	delete(u.pending, clientID)
	return true, n
}
