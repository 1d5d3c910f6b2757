// Package redis stores oauthd's applications and tokens in Redis.
//
// It is written against redis.UniversalClient so that a single node,
// Sentinel or Cluster deployment needs no code change. Every key of one
// application shares the hash tag {client_id}, so the multi-key scripts,
// reads and transactions stay inside one Cluster hash slot:
//
//	<prefix>:{<client_id>}:app               application record (JSON)
//	<prefix>:{<client_id>}:t:<bucket>        token records expiring in that bucket (hash; TTL = bucket end)
//	<prefix>:{<client_id>}:t:0               token records that never expire (hash)
//	<prefix>:{<client_id>}:tb                index of the live buckets (sorted set; TTL = its last bucket)
//	<prefix>:{<client_id>}:revoked:<jti>     revocation tombstone (TTL = tombstone time)
//	<prefix>:{<client_id>}:usage, :hourly:<day>   usage counts (see usage.go)
//	<prefix>:apps                            sorted set of client_ids by creation time
//	<prefix>:apps:name, :apps:search, :apps:owner:<owner>   search indexes (see search.go)
//	<prefix>:scopes                          the scope catalogue (JSON; see scopes.go)
//	<prefix>:app-changes                     pub/sub channel: client_ids whose record changed, ":scopes" for the catalogue
//	<prefix>:feed                            revocation feed stream (capped; see feed.go)
//
// The apps indexes are the keys outside an application's slot: on a single
// node or Sentinel they are written in the record's transaction; on a
// Cluster, which no transaction spans, right after it.
package redis

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/oauthd/oauthd/store"
)

// casRetries bounds the optimistic-locking loops (watch). Admin changes
// to one application, and rewrites of the signing keys, are rare; losing
// this many races in a row means something is hammering the record.
const casRetries = 16

// watch runs txf in a transaction watching keys until it commits: a race
// lost to another client that wrote a key first runs it again, up to
// casRetries times, and then it is ErrConflict on what. An error txf
// returns as passErr comes back as it is; a Redis error is classified
// (wrapErr).
func (s *Store) watch(ctx context.Context, what string, txf func(*goredis.Tx) error, keys ...string) error {
	for range casRetries {
		err := s.rdb.Watch(ctx, txf, keys...)
		var pe passErr
		switch {
		case errors.Is(err, goredis.TxFailedErr):
			continue
		case errors.As(err, &pe):
			return pe.err
		}
		return s.wrap(err)
	}
	return fmt.Errorf("%s: %w", what, store.ErrConflict)
}

// The storage contract, store.Backend, is a Store, the Limits and the Feed
// on the same Redis and key prefix, together (the conformance test joins
// them). Run, NewFeed, FlushUsage, CacheStats and Stats are this backend's
// own: how cmd runs it, not part of the contract.
var (
	_ store.Applications = (*Store)(nil)
	_ store.Scopes       = (*Store)(nil)
	_ store.Tokens       = (*Store)(nil)
	_ store.UsageCounts  = (*Store)(nil)
	_ store.Events       = (*Store)(nil)
	_ store.Sessions     = (*Store)(nil)
	_ store.SigningKeys  = (*Store)(nil)
	_ store.Limits       = (*Limits)(nil)
	_ store.Feed         = (*Feed)(nil)
)

// Store is the Redis backend. It is safe for concurrent use.
type Store struct {
	rdb goredis.UniversalClient
	// hot sends the token paths' commands (the token scripts, token
	// lookups): Options.Batched, or rdb.
	hot goredis.UniversalClient
	// cluster: no transaction may span an application's slot and the
	// feed stream's, so feed entries are added after the change.
	cluster bool
	opts    Options
	usage   *usageBuffer
	apps    *appCache
	scopes  scopeCache
}

// Options tune the backend.
type Options struct {
	// MaxEvents and MaxSecurityEvents cap the audit log's two streams
	// (approximately): changes by authenticated actors, and what
	// unauthenticated callers caused. Defaults DefaultMaxEvents and
	// DefaultMaxSecurityEvents.
	MaxEvents, MaxSecurityEvents int64
	// MaxFeed caps the revocation feed stream (approximately). Default
	// DefaultMaxFeed.
	MaxFeed int64
	// Prefix goes before every key (e.g. "oauthd"), so several deployments
	// can share one Redis.
	Prefix string
	// KeepExpired is how long introspection's inactive_reason remembers
	// why a token stopped working: records are kept this long past their
	// expiry (so "expired" is not "unknown"), revoke-all keeps the old
	// generation's records this long (so they read "revoked"), and lookups
	// check the tombstones RevokeToken leaves. 0 turns all of it off:
	// records go as soon as possible and lookups cost one command less.
	KeepExpired time.Duration
	// IPv6Prefix is how many leading bits of an IPv6 address name the
	// source whose lock-out a token request or introspection is held to
	// (see Source); 0 means DefaultIPv6Prefix. It must be the Limits'
	// LimitsConfig.IPv6Prefix.
	IPv6Prefix int
	// AppCacheSize bounds the application cache; 0 means
	// DefaultAppCacheSize.
	AppCacheSize int
	// Batched, when set, is a client of the same Redis that queues each
	// command and sends the commands of concurrent callers together, one
	// pipeline a round trip: go-redis's deferred autopipeliner
	// (AsyncAutoPipeline; see Batching). The token paths send their
	// commands through it (issuing a token, looking one up), which under
	// load cuts the system calls and Redis reads per request by the
	// batch's depth; a lone request still goes out at once. Everything
	// else uses rdb.
	Batched *goredis.AutoPipeliner
	// UsageFlushEvery is how often Run writes the buffered overall usage
	// counts (usage.go); 0 means DefaultUsageFlushEvery.
	UsageFlushEvery time.Duration
	// Logger receives the store's own events (cache on and off, failed
	// flushes). Default: discard.
	Logger *slog.Logger
}

// New returns a Store using rdb. Call Run to turn on the application cache
// and the overall usage flush.
func New(rdb goredis.UniversalClient, opts Options) *Store {
	if opts.UsageFlushEvery <= 0 {
		opts.UsageFlushEvery = DefaultUsageFlushEvery
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.MaxEvents <= 0 {
		opts.MaxEvents = DefaultMaxEvents
	}
	if opts.MaxSecurityEvents <= 0 {
		opts.MaxSecurityEvents = DefaultMaxSecurityEvents
	}
	if opts.MaxFeed <= 0 {
		opts.MaxFeed = DefaultMaxFeed
	}
	_, cluster := rdb.(*goredis.ClusterClient)
	s := &Store{rdb: rdb, hot: rdb, cluster: cluster, opts: opts, usage: newUsageBuffer(), apps: newAppCache(opts.AppCacheSize)}
	if opts.Batched != nil {
		s.hot = opts.Batched
	}
	return s
}

// Batching returns go-redis's deferred autopipeliner of rdb for
// Options.Batched (nil for a client that has none). It is experimental in
// go-redis: each command runs on the autopipeliner's own context, not the
// caller's, so a command queued is sent even when its request has gone,
// and tracing cannot put it under its request's span. Close it before
// rdb.
func Batching(rdb goredis.UniversalClient) (*goredis.AutoPipeliner, error) {
	c, ok := rdb.(interface {
		AsyncAutoPipeline() (*goredis.AutoPipeliner, error)
	})
	if !ok {
		return nil, nil
	}
	return c.AsyncAutoPipeline()
}

// Ping checks that Redis answers.
func (s *Store) Ping(ctx context.Context) error { return s.wrap(s.rdb.Ping(ctx).Err()) }

func (s *Store) appKey(id string) string   { return s.opts.Prefix + ":{" + id + "}:app" }
func (s *Store) indexKey() string          { return s.opts.Prefix + ":apps" }
func (s *Store) usageKey(id string) string { return s.opts.Prefix + ":{" + id + "}:usage" }

// wrap maps go-redis errors onto the store sentinels. Anything but a
// missing key or a cancelled request means Redis is unreachable or refusing
// work (connection refused, timeout, OOM, LOADING...): ErrUnavailable.
func (s *Store) wrap(err error) error { return wrapErr(err) }

func wrapErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, goredis.Nil):
		return store.ErrNotFound
	case errors.Is(err, context.Canceled):
		return err
	default:
		return fmt.Errorf("%w: redis: %v", store.ErrUnavailable, err)
	}
}

// CreateApplication stores a new application; ErrAlreadyExists if its
// client_id is taken. Its index entries are written in the same
// transaction (after it on a Cluster: see search.go).
func (s *Store) CreateApplication(ctx context.Context, a store.Application) error {
	b, err := encodeApp(a)
	if err != nil {
		return err
	}
	key := s.appKey(a.ClientID)
	taken := fmt.Errorf("application %q: %w", a.ClientID, store.ErrAlreadyExists)
	if s.cluster {
		ok, err := s.rdb.SetNX(ctx, key, b, 0).Result()
		if err != nil {
			return s.wrap(err)
		}
		if !ok {
			return taken
		}
		return s.afterIndex(ctx, func(p goredis.Pipeliner) { s.indexApp(ctx, p, a) })
	}
	return s.watch(ctx, fmt.Sprintf("application %q", a.ClientID), func(tx *goredis.Tx) error {
		n, err := tx.Exists(ctx, key).Result()
		if err != nil {
			return err
		}
		if n > 0 {
			return passErr{taken}
		}
		_, err = tx.TxPipelined(ctx, func(p goredis.Pipeliner) error {
			p.Set(ctx, key, b, 0)
			s.indexApp(ctx, p, a)
			return nil
		})
		return err
	}, key)
}

// GetApplication returns the application or ErrNotFound, from the
// application cache when it is up. The returned slices may be shared with
// the cache: do not modify them.
func (s *Store) GetApplication(ctx context.Context, id string) (store.Application, error) {
	if a, ok := s.apps.get(id); ok {
		return *a, nil
	}
	epoch := s.apps.begin()
	b, err := s.rdb.Get(ctx, s.appKey(id)).Bytes()
	if err != nil {
		return store.Application{}, s.wrap(err)
	}
	a, err := s.cacheApp(id, b, epoch)
	if err != nil {
		return store.Application{}, err
	}
	return *a, nil
}

// cacheApp decodes a record read at epoch and caches it. What it returns
// is the entry the cache holds (shared, as get's are: not to be
// modified), so a miss on the hot paths makes one copy of the
// application, not one for the cache and one for its caller.
func (s *Store) cacheApp(id string, b []byte, epoch uint64) (*store.Application, error) {
	a, err := decodeApp(b)
	if err != nil {
		return nil, err
	}
	if a.ClientID != id {
		return nil, fmt.Errorf("corrupt application record under %q: it names %q", id, a.ClientID)
	}
	s.apps.add(&a, epoch)
	return &a, nil
}

// UpdateApplication applies update to the current record and writes the
// result only if nobody changed the record in between (WATCH/MULTI); on a
// lost race it re-reads and calls update again, so update must be free of
// side effects. An error from update aborts and is returned as is. The
// client_id cannot be changed. The change is published to every replica's
// application cache in the same transaction. When the generation changes
// (every token revoked) the token records go with it.
func (s *Store) UpdateApplication(ctx context.Context, id string, update func(store.Application) (store.Application, error)) (store.Application, error) {
	key := s.appKey(id)
	var out, was store.Application
	var feedKind string
	txf := func(tx *goredis.Tx) error {
		b, err := tx.Get(ctx, key).Bytes()
		if errors.Is(err, goredis.Nil) {
			return passErr{fmt.Errorf("application %q: %w", id, store.ErrNotFound)}
		}
		if err != nil {
			return err
		}
		old, err := decodeApp(b)
		if err != nil {
			return passErr{err}
		}
		next, err := update(old)
		if err != nil {
			return passErr{err}
		}
		next.ClientID = old.ClientID
		nb, err := encodeApp(next)
		if err != nil {
			return passErr{err}
		}
		feedKind = store.FeedAppEvent(old, next)
		_, err = tx.TxPipelined(ctx, func(p goredis.Pipeliner) error {
			p.Set(ctx, key, nb, 0)
			if next.Generation != old.Generation {
				s.retireGeneration(ctx, p, id, old.Generation)
			}
			p.Publish(ctx, s.changesChannel(), id)
			if feedKind != "" && !s.cluster {
				s.feedAdd(ctx, p, feedKind, id, "")
			}
			if !s.cluster {
				s.reindexApp(ctx, p, old, next)
			}
			return nil
		})
		out, was = next, old
		return err
	}
	if err := s.watch(ctx, fmt.Sprintf("application %q", id), txf, key); err != nil {
		return store.Application{}, err
	}
	s.apps.invalidate(id) // read-your-writes here, before the message arrives
	if feedKind != "" && s.cluster {
		s.feedAfter(ctx, feedKind, id, "")
	}
	if s.cluster {
		var err error
		if aerr := s.afterIndex(ctx, func(p goredis.Pipeliner) { s.reindexApp(ctx, p, was, out) }); aerr != nil {
			err = fmt.Errorf("application %q saved, its search index not: %w", id, aerr)
		}
		return out, err
	}
	return out, nil
}

// retireGeneration queues, in a transaction, what revoking every token of
// generation gen does to their records. Without tombstones nobody asks why
// a token is inactive, so the records go at once: the never-expiring ones
// and every live bucket (all of them hold only the old generation). With
// tombstones, introspection should still answer "revoked" for a while:
// expiring buckets are left to expire by themselves, and the old
// generation's never-expiring records get the tombstone time to live and a
// place in the bucket index, so a delete still finds them.
func (s *Store) retireGeneration(ctx context.Context, p goredis.Pipeliner, id string, gen uint64) {
	never := s.bucketKey(id, store.NeverBucket(gen))
	if s.opts.KeepExpired <= 0 {
		// The script reads the index when the transaction executes, so
		// no bucket written before the bump is missed.
		p.Unlink(ctx, never)
		p.Eval(ctx, unlinkBuckets, []string{s.bucketIndexKey(id)}, s.opts.Prefix+":{"+id+"}:t:")
		return
	}
	at := time.Now().Add(s.opts.KeepExpired).UnixMilli()
	p.PExpireAt(ctx, never, time.UnixMilli(at))
	idx := s.bucketIndexKey(id)
	p.ZAdd(ctx, idx, goredis.Z{Score: float64(at), Member: store.FormatBucket(store.NeverBucket(gen))})
	p.Do(ctx, "PEXPIREAT", idx, at, "NX")
	p.Do(ctx, "PEXPIREAT", idx, at, "GT")
}

// unlinkBuckets unlinks every bucket listed in the index (KEYS[1]), and the
// index. ARGV[1] is the bucket keys' prefix. All keys share the
// application's slot. The index's marker, "_", names no bucket.
const unlinkBuckets = `
local members = redis.call('ZRANGE', KEYS[1], 0, -1)
for _, m in ipairs(members) do if m ~= '_' then redis.call('UNLINK', ARGV[1] .. m) end end
redis.call('UNLINK', KEYS[1])
return #members
`

// passErr carries an error out of a WATCH transaction untouched, so it is
// not mistaken for a Redis failure.
type passErr struct{ err error }

func (e passErr) Error() string { return e.err.Error() }

// DeleteApplication removes the application and every key it owns: token
// records of every bucket (found through the bucket index, which is
// watched, so a token written meanwhile cannot be missed), records that
// never expire, and usage. Its tokens stop working at once; other replicas
// hear of it through the change channel.
func (s *Store) DeleteApplication(ctx context.Context, id string) error {
	var del *goredis.IntCmd
	var app store.Application
	txf := func(tx *goredis.Tx) error {
		b, err := tx.Get(ctx, s.appKey(id)).Bytes()
		if errors.Is(err, goredis.Nil) {
			del = nil
			return nil
		}
		if err != nil {
			return err
		}
		app, err = decodeApp(b)
		if err != nil {
			return passErr{err}
		}
		keys, err := s.tokenKeys(ctx, tx, id, app.Generation)
		if err != nil {
			return err
		}
		keys = append(keys, s.usageKey(id))
		now := time.Now().Unix() / 3600 / 24
		for d := now - 2; d <= now+1; d++ {
			keys = append(keys, s.hourlyKey(id, d))
		}
		_, err = tx.TxPipelined(ctx, func(p goredis.Pipeliner) error {
			del = p.Del(ctx, s.appKey(id))
			p.Unlink(ctx, keys...)
			p.Publish(ctx, s.changesChannel(), id)
			if !s.cluster {
				s.feedAdd(ctx, p, store.FeedAppDeleted, id, "")
				s.unindexApp(ctx, p, app)
			}
			return nil
		})
		return err
	}
	var err error
	for range casRetries {
		if err = s.rdb.Watch(ctx, txf, s.appKey(id), s.bucketIndexKey(id)); !errors.Is(err, goredis.TxFailedErr) {
			break
		}
	}
	var pe passErr
	switch {
	case errors.Is(err, goredis.TxFailedErr):
		return fmt.Errorf("application %q: %w", id, store.ErrConflict)
	case errors.As(err, &pe):
		return pe.err
	case err != nil:
		return s.wrap(err)
	}
	s.apps.invalidate(id)
	if del == nil || del.Val() == 0 {
		return fmt.Errorf("application %q: %w", id, store.ErrNotFound)
	}
	if !s.cluster {
		return nil
	}
	s.feedAfter(ctx, store.FeedAppDeleted, id, "")
	return s.afterIndex(ctx, func(p goredis.Pipeliner) { s.unindexApp(ctx, p, app) })
}

// ListApplications returns up to limit applications in creation order,
// starting after cursor ("" for the first page), and the cursor of the
// next page ("" when there is none). The cursor is opaque to callers.
func (s *Store) ListApplications(ctx context.Context, cursor string, limit int) ([]store.Application, string, error) {
	min, afterID := "-inf", ""
	if cursor != "" {
		ms, id, ok := strings.Cut(cursor, ":")
		if _, err := strconv.ParseInt(ms, 10, 64); !ok || err != nil {
			return nil, "", fmt.Errorf("%w: malformed cursor", store.ErrInvalid)
		}
		min, afterID = ms, id
	}
	// Ties on the creation millisecond are broken by client_id; fetch a
	// margin beyond limit so ties on the cursor's millisecond cannot
	// starve a page.
	zs, err := s.rdb.ZRangeArgsWithScores(ctx, goredis.ZRangeArgs{
		Key: s.indexKey(), Start: min, Stop: "+inf", ByScore: true, Count: int64(limit) + 64,
	}).Result()
	if err != nil {
		return nil, "", s.wrap(err)
	}
	var ids []string
	var scores []int64
	for _, z := range zs {
		id, _ := z.Member.(string)
		sc := int64(z.Score)
		if cursor != "" && strconv.FormatInt(sc, 10) == min && id <= afterID {
			continue
		}
		ids = append(ids, id)
		scores = append(scores, sc)
		if len(ids) == limit {
			break
		}
	}
	cmds := make([]*goredis.StringCmd, len(ids))
	_, err = s.rdb.Pipelined(ctx, func(p goredis.Pipeliner) error {
		for i, id := range ids {
			cmds[i] = p.Get(ctx, s.appKey(id))
		}
		return nil
	})
	if err != nil && !errors.Is(err, goredis.Nil) {
		return nil, "", s.wrap(err)
	}
	out := make([]store.Application, 0, len(ids))
	for _, c := range cmds {
		b, err := c.Bytes()
		if errors.Is(err, goredis.Nil) {
			continue // deleted between the index read and now
		}
		a, err := decodeApp(b)
		if err != nil {
			return nil, "", err
		}
		out = append(out, a)
	}
	next := ""
	if len(ids) == limit {
		next = strconv.FormatInt(scores[len(scores)-1], 10) + ":" + ids[len(ids)-1]
	}
	return out, next, nil
}
