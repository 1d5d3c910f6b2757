package redis

import (
	"context"
	"errors"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"github.com/oauthd/oauthd/store"

	"github.com/go-redis/redis_rate/v10"
	goredis "github.com/redis/go-redis/v9"
)

// Rate and LimitsConfig are the store's: the limits' configuration is part
// of the storage contract (store.Limits).
type (
	Rate         = store.Rate
	LimitsConfig = store.LimitsConfig
)

// limitOf is r as redis_rate counts it.
func limitOf(r Rate) redis_rate.Limit {
	return redis_rate.Limit{Rate: r.N, Burst: r.N, Period: r.Per}
}

// Limits keeps the abuse limits every replica shares. The counting is
// redis_rate's (GCRA, one script call per count; a failure naming a known
// client is counted on its pair, its source and the client's ceiling);
// lock-outs are keys holding when they end, kept in the locked
// application's hash slot so the token script can check them in the same
// round trip as it writes the token. Quotas on
// the hot paths (issue, introspection) are taken from Redis in leases of
// several permits, so most requests cost no Redis call at all; a replica
// may hold up to a lease of unused permits, which are then lost.
type Limits struct {
	rdb    goredis.UniversalClient
	rl     *redis_rate.Limiter
	prefix string
	cfg    LimitsConfig
	now    func() time.Time

	mu     sync.Mutex
	leases map[string]*lease
}

type lease struct {
	mu      sync.Mutex
	rate    Rate // the rate it was taken at
	left    int
	until   time.Time
	refused time.Time // no permits until then (Redis said so)
	// shared is what Redis said was left of the shared count when it
	// granted the lease, at.
	shared int
	at     time.Time
}

// NewLimits returns the limits on rdb, with keys under prefix (the
// store's).
func NewLimits(rdb goredis.UniversalClient, prefix string, cfg LimitsConfig) *Limits {
	if cfg.LockoutMemory <= 0 {
		cfg.LockoutMemory = 24 * time.Hour
	}
	if cfg.MaxLockout < cfg.Lockout {
		cfg.MaxLockout = cfg.Lockout
	}
	return &Limits{rdb: rdb, rl: redis_rate.NewLimiter(rdb), prefix: prefix, cfg: cfg, now: time.Now, leases: map[string]*lease{}}
}

// DefaultIPv6Prefix is the IPv6 network counted as one source by
// default: a /64, the smallest a host is commonly given (SLAAC, and most
// hosting providers' allocations; RFC 7421).
const DefaultIPv6Prefix = 64

// Source names where a request came from in the abuse limits' keys: an
// IPv4 address itself, an IPv6 address by its network of ipv6Bits
// leading bits (DefaultIPv6Prefix when 0). A host holding a /64 could
// otherwise ask from a new address each time, with a new budget each
// time. The Store and the Limits both key lock-outs with it, and must be
// given the same bits (cmd's limits.ipv6_prefix feeds both).
func Source(addr netip.Addr, ipv6Bits int) string {
	addr = addr.Unmap().WithZone("")
	if !addr.Is6() {
		return addr.String()
	}
	if ipv6Bits <= 0 {
		ipv6Bits = DefaultIPv6Prefix
	}
	if ipv6Bits >= 128 {
		return addr.String()
	}
	p, _ := addr.Prefix(ipv6Bits)
	return p.String()
}

// LockKey is where a (client, source) lock-out lives: in the client's
// hash slot, beside its application record. source is Source's.
func LockKey(prefix, clientID, source string) string {
	return prefix + ":{" + clientID + "}:lock:" + source
}

// SiegeKey is where a lock-out of the whole client lives (past
// LimitsConfig.ClientCeiling): in the client's hash slot, beside its pair
// lock-outs, so the token script reads both with one MGET.
func SiegeKey(prefix, clientID string) string { return prefix + ":{" + clientID + "}:siege" }

// An address's keys share a hash tag, {<address>}, so the lock-out script
// that touches its lock and its lock-out count runs on Redis Cluster too.
func (l *Limits) addrLockKey(src string) string {
	return l.prefix + ":{" + src + "}:lock"
}

func (l *Limits) source(addr netip.Addr) string { return Source(addr, l.cfg.IPv6Prefix) }

// A lock-out key holds the Unix millisecond its lock-out ends, and
// expires then: reading the value tells whether the lock still holds and
// for how long, so the token script can check several locks with one
// MGET (locked reports it). Its TTL only tidies up.

// lockOut sets a lock with a duration that doubles with each lock-out the
// key has had within the memory window.
//
// KEYS: lock, lock-out count. ARGV: first (ms), max (ms), memory (ms), now
// (Unix ms). Returns when the lock ends (Unix ms).
var lockOut = goredis.NewScript(`
local n = redis.call('INCR', KEYS[2])
if n == 1 then redis.call('PEXPIRE', KEYS[2], ARGV[3]) end
local d = tonumber(ARGV[1])
for i = 2, n do
  d = d * 2
  if d >= tonumber(ARGV[2]) then d = tonumber(ARGV[2]) break end
end
local untilMS = tonumber(ARGV[4]) + d
redis.call('SET', KEYS[1], untilMS, 'PX', d)
return untilMS
`)

// locked is how long a lock-out key's value (when it ends, in Unix ms;
// "" when there is none) still holds at now: 0 when it does not.
func locked(v any, now time.Time) time.Duration {
	s, _ := v.(string)
	if s == "" {
		// No lock (MGET's nil): the common case, spared ParseInt's
		// error, which allocates.
		return 0
	}
	end, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0
	}
	return max(time.UnixMilli(end).Sub(now), 0)
}

// extendLock makes a lock-out end no earlier than ARGV[1] (Unix ms);
// ARGV[2] is now. It counts as no further lock-out (nothing doubles).
// Returns when the lock ends.
var extendLock = goredis.NewScript(`
local cur = tonumber(redis.call('GET', KEYS[1])) or 0
local e = tonumber(ARGV[1])
if cur >= e then return cur end
redis.call('SET', KEYS[1], e, 'PX', e - tonumber(ARGV[2]))
return e
`)

// Failed is ClientFailed for a caller outside any allowlist: the admin
// API and the dashboard's sign-in, which name no client, use it.
func (l *Limits) Failed(ctx context.Context, clientID string, addr netip.Addr) (store.Lockout, error) {
	return l.ClientFailed(ctx, clientID, addr, false)
}

// ClientFailed counts a failed client authentication from addr naming
// clientID ("" when none could be read, or it names no application) and
// reports whether the caller is now locked out; allowlisted says addr is
// in the client's IP allowlist (store.Application.InAllowlist), which a
// siege does not hold. An error means Redis could not be asked; the
// caller must then refuse (fail closed).
//
// A failure naming a known client is counted on the (client, address)
// pair whatever lock-out stands, and its answer is the lock-out the right
// secret would meet too: the pair's, or the siege (the token script,
// ClientLocked). So when the address is locked out, the pair is locked
// for at least as long: otherwise wrong secrets would get 429 and the
// right one 200, an oracle at any rate. A failure meeting a lock-out is
// counted neither on the address nor on the client's ceiling.
func (l *Limits) ClientFailed(ctx context.Context, clientID string, addr netip.Addr, allowlisted bool) (store.Lockout, error) {
	now := l.now()
	src := l.source(addr)
	pairKey, siegeKey := LockKey(l.prefix, clientID, src), SiegeKey(l.prefix, clientID)
	var pairCmd *goredis.SliceCmd
	var wholeCmd *goredis.StringCmd
	_, err := l.rdb.Pipelined(ctx, func(p goredis.Pipeliner) error {
		if clientID != "" {
			pairCmd = p.MGet(ctx, pairKey, siegeKey)
		}
		wholeCmd = p.Get(ctx, l.addrLockKey(src))
		return nil
	})
	if err != nil && !errors.Is(err, goredis.Nil) {
		return store.Lockout{}, wrapErr(err)
	}
	whole := locked(wholeCmd.Val(), now)
	if clientID == "" {
		if whole > 0 {
			return store.Lockout{For: whole, Scope: "address"}, nil
		}
		return l.addrFailed(ctx, src, now)
	}
	var lo store.Lockout
	if pair := locked(pairCmd.Val()[0], now); pair > 0 {
		lo = store.Lockout{For: pair, Scope: "client"}
	}
	siege := locked(pairCmd.Val()[1], now)
	if !l.cfg.ClientFailures.Off() {
		res, err := l.rl.Allow(ctx, l.prefix+":{"+clientID+"}:fail:"+src, limitOf(l.cfg.ClientFailures))
		if err != nil {
			return store.Lockout{}, wrapErr(err)
		}
		if res.Allowed == 0 && lo.For == 0 {
			if lo, err = l.lock(ctx, pairKey, l.prefix+":{"+clientID+"}:lockouts:"+src, "client", now); err != nil {
				return store.Lockout{}, err
			}
		}
	}
	if lo.For == 0 && whole == 0 {
		alo, err := l.addrFailed(ctx, src, now)
		if err != nil {
			return store.Lockout{}, err
		}
		lo, whole = alo, alo.For
	}
	if whole > lo.For {
		end, err := extendLock.Run(ctx, l.rdb, []string{pairKey}, now.Add(whole).UnixMilli(), now.UnixMilli()).Int64()
		if err != nil {
			return store.Lockout{}, wrapErr(err)
		}
		lo.For = time.UnixMilli(end).Sub(now)
		if lo.Scope == "" {
			lo.Scope = "address"
		}
	}
	if lo.For == 0 && siege == 0 && !l.cfg.ClientCeiling.Off() {
		res, err := l.rl.Allow(ctx, l.prefix+":{"+clientID+"}:ceiling", limitOf(l.cfg.ClientCeiling))
		if err != nil {
			return store.Lockout{}, wrapErr(err)
		}
		if res.Allowed == 0 {
			if lo, err = l.lock(ctx, siegeKey, l.prefix+":{"+clientID+"}:sieges", "siege", now); err != nil {
				return store.Lockout{}, err
			}
			siege = lo.For
		}
	}
	if allowlisted {
		if lo.Scope == "siege" {
			lo.For = 0 // started, for the audit log, but not holding this caller
		}
	} else if siege > lo.For {
		lo.For = siege
		if !lo.New {
			lo.Scope = "siege"
		}
	}
	return lo, nil
}

// addrFailed counts a failure from source src, whatever client it named,
// and locks the source out past limits.address_failures.
func (l *Limits) addrFailed(ctx context.Context, src string, now time.Time) (store.Lockout, error) {
	if l.cfg.AddrFailures.Off() {
		return store.Lockout{}, nil
	}
	res, err := l.rl.Allow(ctx, l.prefix+":{"+src+"}:fail", limitOf(l.cfg.AddrFailures))
	if err != nil {
		return store.Lockout{}, wrapErr(err)
	}
	if res.Allowed > 0 {
		return store.Lockout{}, nil
	}
	return l.lock(ctx, l.addrLockKey(src), l.prefix+":{"+src+"}:lockouts", "address", now)
}

func (l *Limits) lock(ctx context.Context, key, countKey, scope string, now time.Time) (store.Lockout, error) {
	end, err := lockOut.Run(ctx, l.rdb, []string{key, countKey},
		l.cfg.Lockout.Milliseconds(), l.cfg.MaxLockout.Milliseconds(), l.cfg.LockoutMemory.Milliseconds(), now.UnixMilli()).Int64()
	if err != nil {
		return store.Lockout{}, wrapErr(err)
	}
	return store.Lockout{For: time.UnixMilli(end).Sub(now), New: true, Scope: scope}, nil
}

// Blocked reports a lock-out standing for (clientID, addr) or for addr
// alone, without counting anything.
func (l *Limits) Blocked(ctx context.Context, clientID string, addr netip.Addr) (store.Lockout, error) {
	var pair, whole *goredis.StringCmd
	_, err := l.rdb.Pipelined(ctx, func(p goredis.Pipeliner) error {
		if clientID != "" {
			pair = p.Get(ctx, LockKey(l.prefix, clientID, l.source(addr)))
		}
		whole = p.Get(ctx, l.addrLockKey(l.source(addr)))
		return nil
	})
	if err != nil && !errors.Is(err, goredis.Nil) {
		return store.Lockout{}, wrapErr(err)
	}
	now := l.now()
	if pair != nil {
		if d := locked(pair.Val(), now); d > 0 {
			return store.Lockout{For: d, Scope: "client"}, nil
		}
	}
	if d := locked(whole.Val(), now); d > 0 {
		return store.Lockout{For: d, Scope: "address"}, nil
	}
	return store.Lockout{}, nil
}

// ClientLocked reports the lock-out a request that authenticates
// correctly as clientID from addr is held to: its pair's, or the siege
// unless addr is allowlisted (in the client's IP allowlist). A lock of
// the whole address is not one, so an attacker sharing a daemon's address
// (a NAT) and guessing other clients' secrets cannot lock the daemon out.
func (l *Limits) ClientLocked(ctx context.Context, clientID string, addr netip.Addr, allowlisted bool) (time.Duration, error) {
	keys := []string{LockKey(l.prefix, clientID, l.source(addr)), SiegeKey(l.prefix, clientID)}
	if allowlisted {
		keys = keys[:1]
	}
	v, err := l.rdb.MGet(ctx, keys...).Result()
	if err != nil {
		return 0, wrapErr(err)
	}
	return lockedAny(v, l.now()), nil
}

// lockedAny is how long the longest of several lock-out keys' values
// still holds.
func lockedAny(vs []any, now time.Time) time.Duration {
	var d time.Duration
	for _, v := range vs {
		d = max(d, locked(v, now))
	}
	return d
}

// TakeIssue takes one token of a's token quota: its own, or the global
// one (LimitsConfig.Issue).
func (l *Limits) TakeIssue(ctx context.Context, a *store.Application) (store.Allowance, error) {
	r := a.TokenQuota.Or(l.cfg.Issue)
	if r.Off() {
		return store.Allowance{}, nil // before the key is built: no quota costs nothing
	}
	return l.take(ctx, "issue:{"+a.ClientID+"}", r, a.Monitored(l.cfg.Monitor))
}

// TakeIntrospect takes one introspection of resource server a: its own
// budget, or the global one (LimitsConfig.Introspect).
func (l *Limits) TakeIntrospect(ctx context.Context, a *store.Application) (store.Allowance, error) {
	r := a.IntrospectionQuota.Or(l.cfg.Introspect)
	if r.Off() {
		return store.Allowance{}, nil
	}
	return l.take(ctx, "introspect:{"+a.ClientID+"}", r, a.Monitored(l.cfg.Monitor))
}

// maxLeases bounds the lease table; past it, it is cleared (which only
// costs the next requests a Redis call each).
const maxLeases = 10_000

// take takes one permit of rate r for key from this replica's lease,
// asking Redis for a new lease when it is spent or stale. A lease holds
// at most a twentieth of the rate (at least one permit) and lasts as long
// as those permits take at the rate, so the replicas together never run
// more than a few leases ahead of the shared count. What is left is
// estimated from the lease (its unused permits, and what Redis said was
// left when it was granted, refilled at the rate since): no request asks
// Redis only to know it. A lease taken at another rate (the
// application's quota changed) is dropped.
func (l *Limits) take(ctx context.Context, key string, r Rate, monitor bool) (store.Allowance, error) {
	if r.Off() {
		return store.Allowance{}, nil
	}
	now := l.now()
	l.mu.Lock()
	ls, ok := l.leases[key]
	if !ok || ls.rate != r {
		if len(l.leases) >= maxLeases {
			clear(l.leases)
		}
		ls = &lease{rate: r}
		l.leases[key] = ls
	}
	l.mu.Unlock()

	ls.mu.Lock()
	defer ls.mu.Unlock()
	if now.Before(ls.refused) {
		return allowance(r, 0, ls.refused.Sub(now), monitor), nil
	}
	if ls.left > 0 && now.Before(ls.until) {
		ls.left--
		return allowance(r, ls.remaining(now), 0, monitor), nil
	}
	batch := max(1, min(r.N/20, 100))
	res, err := l.rl.AllowAtMost(ctx, l.prefix+":quota:"+key, limitOf(r), batch)
	if err != nil {
		return store.Allowance{}, wrapErr(err)
	}
	if res.Allowed == 0 {
		wait := max(res.RetryAfter, time.Millisecond)
		ls.refused = now.Add(wait)
		return allowance(r, 0, wait, monitor), nil
	}
	ls.left, ls.shared, ls.at = res.Allowed-1, res.Remaining, now
	ls.until = now.Add(time.Duration(int64(r.Per) * int64(res.Allowed) / int64(r.N)))
	return allowance(r, ls.remaining(now), 0, monitor), nil
}

// remaining estimates the permits left at now: the lease's own, and the
// shared count's as Redis gave it, refilled at the lease's rate since.
// Never more than the quota.
func (ls *lease) remaining(now time.Time) int {
	refill := float64(min(now.Sub(ls.at), ls.rate.Per)) / float64(ls.rate.Per) * float64(ls.rate.N)
	return min(ls.left+ls.shared+int(refill), ls.rate.N)
}

// allowance is what take answers: with left permits left, the quota is
// whole again once the others have refilled at the rate.
func allowance(r Rate, left int, wait time.Duration, monitor bool) store.Allowance {
	reset := time.Duration(float64(r.Per) * float64(r.N-left) / float64(r.N))
	return store.Allowance{Rate: r, Remaining: left, Reset: reset, Wait: wait, Monitor: monitor}
}
