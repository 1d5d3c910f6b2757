// Package introspectredis keeps the resource-server package's DPoP replay
// cache (introspect.ReplayCache) in Redis, so that the replicas of one
// resource server accept each DPoP proof once between them (RFC 9449
// §11.1). It is apart from package introspect so that importing that one
// brings no Redis client along.
//
//	replay, err := introspectredis.Open(os.Getenv("REPLAY_REDIS_URL"), "sms-api:")
//	if err != nil {
//		return err
//	}
//	defer replay.Close()
//	rs, err := introspect.New(introspect.Config{..., DPoPReplay: replay})
package introspectredis

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/oauthd/oauthd/server/introspect"
)

// ReplayCache is an introspect.ReplayCache on Redis: one SET NX PX per
// accepted proof, so each key is recorded once across every replica, and
// Redis lets it go when the proof could no longer be accepted anyway.
type ReplayCache struct {
	rdb    redis.UniversalClient
	prefix string
	owned  bool // Close closes rdb
}

var _ introspect.ReplayCache = (*ReplayCache)(nil)

// New keeps the cache in rdb, under keys starting with prefix (say, the
// service's name: every replica of one service must use the same).
func New(rdb redis.UniversalClient, prefix string) *ReplayCache {
	return &ReplayCache{rdb: rdb, prefix: prefix}
}

// Open connects to the Redis at url (redis://[user:password@]host:port/db,
// rediss:// for TLS) and keeps the cache there. Close disconnects.
func Open(url, prefix string) (*ReplayCache, error) {
	opts, err := redis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("introspectredis: %v", err)
	}
	c := New(redis.NewClient(opts), prefix)
	c.owned = true
	return c, nil
}

// Seen implements introspect.ReplayCache.
func (c *ReplayCache) Seen(ctx context.Context, key string, until time.Time) (bool, error) {
	// The lifetime, rounded up to Redis's millisecond: never shorter
	// than asked.
	ttl := time.Until(until)
	if ttl <= 0 {
		return false, nil // the proof is past acceptance: nothing to remember
	}
	ttl = ttl.Truncate(time.Millisecond) + time.Millisecond
	err := c.rdb.SetArgs(ctx, c.prefix+key, "1", redis.SetArgs{Mode: "NX", TTL: ttl}).Err()
	switch {
	case err == nil:
		return false, nil
	case errors.Is(err, redis.Nil): // NX: the key is there
		return true, nil
	}
	return false, fmt.Errorf("introspectredis: %w", err)
}

// Ping checks that Redis answers, for a start-up check.
func (c *ReplayCache) Ping(ctx context.Context) error {
	if err := c.rdb.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("introspectredis: %w", err)
	}
	return nil
}

// Close disconnects from Redis if Open connected; a client passed to New
// is its owner's to close.
func (c *ReplayCache) Close() error {
	if !c.owned {
		return nil
	}
	return c.rdb.Close()
}
