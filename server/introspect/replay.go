package introspect

import (
	"context"
	"crypto/sha256"
	"errors"
	"sync"
	"time"
)

// ReplayCache remembers the DPoP proofs a resource server has accepted, so
// that each is accepted once (RFC 9449 §11.1). Replicas of one resource
// server must share one, or a proof refused by one is accepted by the
// next: the introspectredis sub-package has one on Redis. It is safe for
// concurrent use.
type ReplayCache interface {
	// Seen records key until the instant until and reports whether it
	// was already recorded (and not expired). Of concurrent calls with
	// one key, across every process sharing the cache, exactly one
	// reports false. An error means the answer is unknown: the request
	// is refused (503), never accepted.
	Seen(ctx context.Context, key string, until time.Time) (bool, error)
}

// DefaultReplayCacheSize bounds each generation of the in-memory
// ReplayCache: about 60 MB at most for both, and enough for over 10,000
// DPoP requests a second with the default window.
const DefaultReplayCacheSize = 1 << 20

// ErrReplayCacheFull is the in-memory ReplayCache's answer when it holds
// as many unexpired proofs as it may: it cannot tell a replay apart, so
// the request is refused (503) rather than accepted. Give it more room
// (NewMemoryReplayCache), a shorter DPoPWindow, or share Redis.
var ErrReplayCacheFull = errors.New("introspect: the DPoP replay cache is full")

// MemoryReplayCache is a ReplayCache for one process, bounded and
// expiring: keys are kept in two generations, the current one and the one
// before, and a generation is dropped whole once the longest lifetime it
// may hold has passed, so expiry costs no scan.
type MemoryReplayCache struct {
	mu      sync.Mutex
	max     int
	period  time.Duration // the longest lifetime asked for so far
	rotated time.Time
	cur     map[[16]byte]int64 // key digest → until, in Unix nanoseconds
	prev    map[[16]byte]int64
	now     func() time.Time
}

var _ ReplayCache = (*MemoryReplayCache)(nil)

// NewMemoryReplayCache returns an in-memory ReplayCache holding at most
// size keys per generation (0: DefaultReplayCacheSize).
func NewMemoryReplayCache(size int) *MemoryReplayCache {
	if size <= 0 {
		size = DefaultReplayCacheSize
	}
	return &MemoryReplayCache{max: size, cur: map[[16]byte]int64{}, prev: map[[16]byte]int64{}, now: time.Now}
}

// Seen implements ReplayCache.
func (m *MemoryReplayCache) Seen(_ context.Context, key string, until time.Time) (bool, error) {
	sum := sha256.Sum256([]byte(key))
	var k [16]byte
	copy(k[:], sum[:])
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	m.rotate(now)
	t := now.UnixNano()
	if u, ok := m.cur[k]; ok && u > t {
		return true, nil
	}
	if u, ok := m.prev[k]; ok && u > t {
		return true, nil
	}
	if !until.After(now) {
		return false, nil // expired already: nothing to remember
	}
	if ttl := until.Sub(now); ttl > m.period {
		m.period = ttl
	}
	if len(m.cur) >= m.max {
		return false, ErrReplayCacheFull
	}
	m.cur[k] = until.UnixNano()
	return false, nil
}

// rotate starts a new generation once the current one is period old. A
// key lives in the current generation, then in the previous one, so it is
// dropped no sooner than period after it was added, and period is at
// least its lifetime.
func (m *MemoryReplayCache) rotate(now time.Time) {
	if m.rotated.IsZero() {
		m.rotated = now
		return
	}
	age := now.Sub(m.rotated)
	if age < m.period {
		return
	}
	// The maps are reused, so a busy cache does not grow new ones.
	old := m.prev
	if age >= 2*m.period {
		clear(m.cur) // both generations are past
	}
	m.prev = m.cur
	clear(old)
	m.cur = old
	m.rotated = now
}

// Len is the number of keys held, expired ones in a live generation
// included.
func (m *MemoryReplayCache) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.cur) + len(m.prev)
}
