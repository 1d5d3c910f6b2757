package redis

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/oauthd/oauthd/store"
)

// Token records live in hashes, one per application and expiry bucket
// (store.ExpiryBucket), field = the first 16 bytes of the token's digest,
// value = the compact record of codec.go. A bucket's hash expires (with
// Options.KeepExpired added) when the bucket ends, taking every record in
// it along, so no per-token expiry or cleanup is needed, and a small
// bucket is stored by Redis as one listpack: tens of bytes per token.
// Tokens that never expire share one hash per generation (NeverBucket),
// which revoke-all drops (or, when introspection reports reasons, lets
// expire after the tombstone time) and delete removes. The bucket index (a
// sorted set of bucket ids scored by when they expire) lets listing and
// deletion find the live buckets; it is trimmed whenever a bucket is added
// and expires with its last bucket.

func (s *Store) bucketKey(id string, bucket int64) string {
	return s.opts.Prefix + ":{" + id + "}:t:" + store.FormatBucket(bucket)
}

func (s *Store) bucketIndexKey(id string) string { return s.opts.Prefix + ":{" + id + "}:tb" }

func (s *Store) revokedKey(ref store.TokenRef) string {
	return s.opts.Prefix + ":{" + ref.ClientID + "}:revoked:" + ref.JTI()
}

// field is a record's field name in its bucket: the raw digest prefix.
func field(ref store.TokenRef) string { return string(ref.Digest[:store.KeyLen]) }

// createToken writes one record, only while the application exists, so a
// token issued during a delete cannot leave a record behind, and registers
// its bucket in the index.
//
// KEYS: bucket, bucket index, application, and optionally the lock-out
// keys that hold the request (each one's value is when it ends, see
// limits.go): the client's from the address it asked from and, unless
// that address is in its allowlist, the siege.
// ARGV: field, record, bucket expiry (Unix ms; 0 = never), bucket id, now (Unix ms).
// Returns 0 when the application does not exist, minus the longest lock's
// remaining milliseconds while the client is locked out.
var createToken = goredis.NewScript(`
if redis.call('EXISTS', KEYS[3]) == 0 then return 0 end
if KEYS[4] then
  local left = 0
  for _, v in ipairs(redis.call('MGET', unpack(KEYS, 4))) do
    left = math.max(left, (tonumber(v) or 0) - tonumber(ARGV[5]))
  end
  if left > 0 then return -left end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
local at = tonumber(ARGV[3])
if at == 0 then return 1 end
redis.call('PEXPIREAT', KEYS[1], at)
if redis.call('ZADD', KEYS[2], at, ARGV[4]) == 1 then
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', '(' .. ARGV[5])
  local last = redis.call('ZRANGE', KEYS[2], -1, -1, 'WITHSCORES')
  -- Empty when this very bucket had ended by now (a token issued with
  -- its lifetime spent in the queue): then the index is empty too.
  if last[2] then redis.call('PEXPIREAT', KEYS[2], last[2]) else redis.call('DEL', KEYS[2]) end
end
return 1
`)

// errBucket is a programming error: a reference whose bucket is not the
// one its token's expiry falls in.
var errBucket = errors.New("token reference's bucket does not match the token's expiry")

// bucketExpiry is when a bucket's hash expires, in Unix milliseconds.
func (s *Store) bucketExpiry(bucket int64) int64 {
	return bucket*1000 + s.opts.KeepExpired.Milliseconds()
}

// CreateToken stores t under ref, in one round trip (one script call). It
// returns ErrNotFound if the application no longer exists. An access
// token (Kind "") is counted in the application's usage.
func (s *Store) CreateToken(ctx context.Context, ref store.TokenRef, t store.Token) error {
	if ref.Bucket != t.Bucket() {
		return fmt.Errorf("%w: %d, want %d", errBucket, ref.Bucket, t.Bucket())
	}
	var at int64
	if ref.Bucket > 0 {
		at = s.bucketExpiry(ref.Bucket)
	}
	keys := []string{s.bucketKey(ref.ClientID, ref.Bucket), s.bucketIndexKey(ref.ClientID), s.appKey(ref.ClientID)}
	if t.RequestedFrom.IsValid() {
		keys = append(keys, LockKey(s.opts.Prefix, ref.ClientID, Source(t.RequestedFrom, s.opts.IPv6Prefix)))
		if !t.Allowlisted {
			keys = append(keys, SiegeKey(s.opts.Prefix, ref.ClientID))
		}
	}
	n, err := createToken.Run(ctx, s.rdb, keys, field(ref), encodeToken(t), at, store.FormatBucket(ref.Bucket), time.Now().UnixMilli()).Int()
	if err != nil {
		return s.wrap(err)
	}
	if n == 0 {
		return fmt.Errorf("application %q: %w", ref.ClientID, store.ErrNotFound)
	}
	if n < 0 {
		return &store.LockedError{For: time.Duration(-n) * time.Millisecond}
	}
	if t.Kind == "" {
		s.usage.note(ref.ClientID, t.SecretID, t.IssuedAt)
	}
	return nil
}

// LookupToken reads the token record, its revocation tombstone (when
// Options.KeepExpired is set), its application and, when also is not empty, that
// application too, in one pipelined round trip; applications come from the
// cache when it holds them, so usually only the record is read. On Cluster
// the other application is fetched from its own node in the same
// pipeline. Whether the token is still good is the caller's decision.
func (s *Store) LookupToken(ctx context.Context, ref store.TokenRef, also string) (store.TokenLookup, error) {
	return s.LookupTokenFor(ctx, ref, store.Caller{ClientID: also})
}

// LookupTokenFor is LookupToken for a caller whose lock-out from
// caller.Addr is read in the same round trip: its pair's, or the siege
// unless caller.Addr is in its allowlist (Limits.ClientLocked's rule).
func (s *Store) LookupTokenFor(ctx context.Context, ref store.TokenRef, caller store.Caller) (store.TokenLookup, error) {
	also := caller.ClientID
	checkLock := also != "" && caller.Addr.IsValid()
	var out store.TokenLookup
	app, appCached := s.apps.get(ref.ClientID)
	var other store.Application
	otherCached := also == ""
	if !otherCached {
		other, otherCached = s.apps.get(also)
	}
	epoch := s.apps.begin()
	var tok, appCmd, otherCmd *goredis.StringCmd
	var revoked *goredis.IntCmd
	var locks *goredis.SliceCmd
	var err error
	if appCached && otherCached && s.opts.KeepExpired <= 0 && !checkLock {
		// The common case: only the record to read, no pipeline needed.
		tok = s.rdb.HGet(ctx, s.bucketKey(ref.ClientID, ref.Bucket), field(ref))
		err = tok.Err()
	} else {
		_, err = s.rdb.Pipelined(ctx, func(p goredis.Pipeliner) error {
			tok = p.HGet(ctx, s.bucketKey(ref.ClientID, ref.Bucket), field(ref))
			if s.opts.KeepExpired > 0 {
				revoked = p.Exists(ctx, s.revokedKey(ref))
			}
			if !appCached {
				appCmd = p.Get(ctx, s.appKey(ref.ClientID))
			}
			if !otherCached {
				otherCmd = p.Get(ctx, s.appKey(also))
			}
			if checkLock {
				locks = p.MGet(ctx, LockKey(s.opts.Prefix, also, Source(caller.Addr, s.opts.IPv6Prefix)), SiegeKey(s.opts.Prefix, also))
			}
			return nil
		})
	}
	if err != nil && !errors.Is(err, goredis.Nil) {
		return store.TokenLookup{}, s.wrap(err)
	}
	if revoked != nil {
		out.Revoked = revoked.Val() > 0
	}
	if b, err := tok.Bytes(); err == nil {
		t, err := decodeToken(ref, b)
		if err != nil {
			return store.TokenLookup{}, err
		}
		out.Token = &t
	}
	if appCached {
		out.App = &app
	} else if out.App, err = s.optionalApp(ref.ClientID, appCmd, epoch); err != nil {
		return store.TokenLookup{}, err
	}
	switch {
	case also == "":
	case otherCached:
		out.Also = &other
	default:
		if out.Also, err = s.optionalApp(also, otherCmd, epoch); err != nil {
			return store.TokenLookup{}, err
		}
	}
	if locks != nil {
		held := locks.Val()
		if out.Also != nil && out.Also.InAllowlist(caller.Addr) {
			held = held[:1]
		}
		out.AlsoLocked = lockedAny(held, time.Now())
	}
	return out, nil
}

func (s *Store) optionalApp(id string, cmd *goredis.StringCmd, epoch uint64) (*store.Application, error) {
	b, err := cmd.Bytes()
	if errors.Is(err, goredis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, s.wrap(err)
	}
	a, err := s.cacheApp(id, b, epoch)
	return &a, err
}

// RevokeToken deletes a token's record and, when tombstone > 0, leaves a
// marker for that long so introspection can say "revoked" rather than
// "unknown". When a record was deleted, a token.revoked event goes to the
// revocation feed in the same script (after it on Cluster, where the
// feed's slot is another). One round trip. It reports whether a record
// existed.
func (s *Store) RevokeToken(ctx context.Context, ref store.TokenRef, tombstone time.Duration) (bool, error) {
	keys := []string{s.bucketKey(ref.ClientID, ref.Bucket), s.revokedKey(ref)}
	if !s.cluster {
		keys = append(keys, s.feedKey())
	}
	jti := ref.JTI()
	n, err := revokeToken.Run(ctx, s.rdb, keys, field(ref), tombstone.Milliseconds(), s.opts.MaxFeed, ref.ClientID, jti).Int()
	if err != nil {
		return false, s.wrap(err)
	}
	if n > 0 && s.cluster {
		s.feedAfter(ctx, store.FeedTokenRevoked, ref.ClientID, jti)
	}
	return n > 0, nil
}

// revokeToken deletes a record (KEYS[1], field ARGV[1]), sets the
// tombstone KEYS[2] for ARGV[2] ms when that is positive and, when a
// record was deleted and KEYS[3] (the feed) is given, adds the event.
var revokeToken = goredis.NewScript(`
local n = redis.call('HDEL', KEYS[1], ARGV[1])
if tonumber(ARGV[2]) > 0 then redis.call('SET', KEYS[2], '1', 'PX', ARGV[2]) end
if n > 0 and KEYS[3] then
  redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[3], '*', 'kind', 'token.revoked', 'client_id', ARGV[4], 'jti', ARGV[5])
end
return n
`)

// liveBuckets returns the application's buckets that have not expired,
// soonest first, then the bucket of generation gen's tokens that never
// expire.
func (s *Store) liveBuckets(ctx context.Context, c goredis.Cmdable, id string, gen uint64) ([]int64, error) {
	members, err := c.ZRangeByScore(ctx, s.bucketIndexKey(id), &goredis.ZRangeBy{
		Min: strconv.FormatInt(time.Now().UnixMilli(), 10), Max: "+inf",
	}).Result()
	if err != nil && !errors.Is(err, goredis.Nil) {
		return nil, err
	}
	out := make([]int64, 0, len(members)+1)
	for _, m := range members {
		if b, ok := store.ParseBucket(m); ok {
			out = append(out, b)
		}
	}
	return append(out, store.NeverBucket(gen)), nil
}

// tokenKeys lists every key holding the records of an application at
// generation gen, and the bucket index itself.
func (s *Store) tokenKeys(ctx context.Context, c goredis.Cmdable, id string, gen uint64) ([]string, error) {
	buckets, err := s.liveBuckets(ctx, c, id, gen)
	if err != nil {
		return nil, err
	}
	keys := make([]string, 0, len(buckets)+1)
	for _, b := range buckets {
		keys = append(keys, s.bucketKey(id, b))
	}
	return append(keys, s.bucketIndexKey(id)), nil
}

// ListTokens returns up to limit live tokens of an application, soonest to
// expire first (to within a bucket's width), and whether there are more.
// Tokens revoked by a generation bump are left out, and so are expired
// ones.
func (s *Store) ListTokens(ctx context.Context, id string, limit int, now time.Time) ([]store.Token, bool, error) {
	b, err := s.rdb.Get(ctx, s.appKey(id)).Bytes()
	if err != nil {
		return nil, false, s.wrap(err)
	}
	app, err := decodeApp(b)
	if err != nil {
		return nil, false, err
	}
	buckets, err := s.liveBuckets(ctx, s.rdb, id, app.Generation)
	if err != nil {
		return nil, false, s.wrap(err)
	}
	var out []store.Token
	for _, bucket := range buckets {
		var cursor uint64
		for {
			kv, next, err := s.rdb.HScan(ctx, s.bucketKey(id, bucket), cursor, "", 256).Result()
			if err != nil {
				return nil, false, s.wrap(err)
			}
			for i := 0; i+1 < len(kv); i += 2 {
				ref := store.TokenRef{ClientID: id, Bucket: bucket}
				if len(kv[i]) != store.KeyLen {
					continue
				}
				copy(ref.Digest[:], kv[i])
				t, err := decodeToken(ref, []byte(kv[i+1]))
				if err != nil {
					return nil, false, err
				}
				if t.Generation == app.Generation && !t.Expired(now) {
					out = append(out, t)
				}
			}
			if cursor = next; cursor == 0 {
				break
			}
		}
		if len(out) > limit {
			break
		}
	}
	slices.SortStableFunc(out, func(a, b store.Token) int {
		switch {
		case a.ExpiresAt.Equal(b.ExpiresAt):
			return cmp.Compare(a.ID, b.ID)
		case a.ExpiresAt.IsZero():
			return 1
		case b.ExpiresAt.IsZero():
			return -1
		}
		return a.ExpiresAt.Compare(b.ExpiresAt)
	})
	more := len(out) > limit
	if more {
		out = out[:limit]
	}
	return out, more, nil
}
