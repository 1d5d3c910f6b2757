package redis

import (
	"cmp"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"strconv"
	"strings"
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
// deletion find the live buckets; it expires with its last bucket.
//
// Only a bucket's first token pays for its expiry and its place in the
// index: every hash holds a marker field, "_", written by the same HSET as
// each record, so the HSET answers 2 (two new fields) exactly when the
// hash is new, and only then are the hash's expiry set and the bucket
// added to the index (writeLua). Every other token costs the script, one
// MGET, the HSET and its usage count's HINCRBY (countLua). The marker's
// value is the time of the bucket's last token (writeLua). A hash that exists is
// therefore always in the index (until it has expired): what DeleteApplication's
// watch of the index relies on. Whatever enumerates a bucket's fields
// skips the marker, the one field that is not 16 bytes long; the index
// has a marker of its own, scored 0, which readers of live buckets never
// reach.

func (s *Store) bucketKey(id string, bucket int64) string {
	// Built in one buffer, as bucketKeyOf(id, store.FormatBucket(bucket))
	// would be in two allocations: every introspection builds one.
	var buf [128]byte
	b := append(append(append(buf[:0], s.opts.Prefix...), ":{"...), id...)
	b = append(b, "}:t:"...)
	if bucket <= 0 {
		b = strconv.AppendInt(append(b, 'n'), -bucket, 36)
	} else {
		b = strconv.AppendInt(b, bucket, 36)
	}
	return string(b)
}

// bucketKeyOf is bucketKey for the bucket's id (FormatBucket): "" gives
// what every bucket key of the application starts with, to which a script
// that reads its buckets appends their ids (readUsage). The token script
// that chooses the bucket makes it from clientKeys.
func (s *Store) bucketKeyOf(id, bucket string) string {
	return s.opts.Prefix + ":{" + id + "}:t:" + bucket
}

// lockKeys is LockKey(prefix, id, Source(addr, ipv6Bits)) and
// SiegeKey(prefix, id), the keys introspection reads the caller's
// lock-outs from: for an IPv4 caller, the common case, built in one
// allocation instead of three (the address's string, each key).
func lockKeys(prefix, id string, addr netip.Addr, ipv6Bits int) (lock, siege string) {
	a := addr.Unmap().WithZone("")
	if !a.Is4() {
		return LockKey(prefix, id, Source(addr, ipv6Bits)), SiegeKey(prefix, id)
	}
	var buf [192]byte
	b := append(append(append(buf[:0], prefix...), ":{"...), id...)
	b = a.AppendTo(append(b, "}:lock:"...))
	n := len(b)
	b = append(append(append(append(b, prefix...), ":{"...), id...), "}:siege"...)
	both := string(b)
	return both[:n], both[n:]
}

func (s *Store) bucketIndexKey(id string) string { return s.opts.Prefix + ":{" + id + "}:tb" }

// clientKeys is what every key of the client starts with, to which the
// token scripts append the usage keys' names (countLua).
func (s *Store) clientKeys(id string) string { return s.opts.Prefix + ":{" + id + "}:" }

func (s *Store) revokedKey(ref store.TokenRef) string {
	return s.opts.Prefix + ":{" + ref.ClientID + "}:revoked:" + ref.JTI()
}

// field is a record's field name in its bucket: the raw digest prefix.
func field(ref store.TokenRef) string { return string(ref.Digest[:store.KeyLen]) }

// writeLua is the write both token scripts end with: record rec under
// field in the bucket hash key, with the marker (see above). Only when
// the HSET makes the hash, and the bucket expires (at, Unix ms; 0 for a
// never-expiring one), are its expiry set and its id added to the index.
// The index has a marker too, member "_" scored 0 (below any bucket's
// expiry, so no reader takes it for a bucket), added with the bucket: the
// ZADD answers 2 when the index is new, which then expires with this
// bucket (NX: unless it has an expiry already, as an index from before
// the marker does), and 1 when it is not, whose expiry is then moved to
// this bucket's if that is later (GT). Ended buckets leave the index now
// and then rather than at every bucket's start: the record's digest,
// which is random, picks one start in 16 to trim it (of the buckets ended
// by now, Unix ms), so an index holds its live buckets and a few more;
// readers look at the live ones only.
// The bucket's marker holds the issue time (Unix ms) of the last token
// written to it that counts as a use (used; nil for an API key, or a
// record written again), and a field of each secret (secretMark) the time
// of the last such token issued with it: usage reads them as the
// application's and the secrets' last use to the millisecond
// (GetUsages). The same HSET writes them, so they cost no command; it
// answers as many new fields as it was given exactly when the hash is new
// (an existing one has its marker). A write that is no use leaves them as
// they are (HSETNX, which then tells whether the hash is new).
const writeLua = secretMarkLua + `
local function write(key, index, field, rec, at, id, now, used, sid)
  local new
  if used and sid and sid ~= '' then
    new = redis.call('HSET', key, field, rec, '_', used, secretMark(sid), used) == 3
  elseif used then
    new = redis.call('HSET', key, field, rec, '_', used) == 2
  else
    redis.call('HSET', key, field, rec)
    new = redis.call('HSETNX', key, '_', '0') == 1
  end
  if not new or at == 0 then return end
  redis.call('PEXPIREAT', key, at)
  local n = redis.call('ZADD', index, 0, '_', at, id)
  if n == 2 then
    if redis.call('PEXPIREAT', index, at, 'NX') == 0 then redis.call('PEXPIREAT', index, at, 'GT') end
  elseif n == 1 then
    redis.call('PEXPIREAT', index, at, 'GT')
  end
  if n > 0 and string.byte(field, 1) % 16 == 0 then redis.call('ZREMRANGEBYSCORE', index, 1, '(' .. now) end
end
`

// secretMarkLua names a secret's field in a bucket: "_" and its id, and
// never store.KeyLen (16) bytes long, the length of every record's field,
// which is how readers of records tell them apart.
const secretMarkLua = `
local function secretMark(sid)
  local f = '_' .. sid
  if #f == 16 then f = f .. '_' end
  return f
end
`

// base36Lua is strconv.FormatInt(n, 36) for the scripts that name a
// bucket (store.FormatBucket), n a whole number from 0 to 2^53. On a
// token request whose application is not cached it runs once, so it is
// written for Redis's Lua: one string made (string.char of the digits'
// codes, unrolled: a table for them costs as much as it saves) rather
// than one a digit, and VM arithmetic (n - n % 36) / 36 rather than calls
// of math.floor; a bucket id (6 digits) in under half the time. A number
// is never turned into a string here, which costs Lua about 0.7 µs.
const base36Lua = `
local function base36(n)
  local r1 = n % 36 n = (n - r1) / 36
  local d1 = r1 < 10 and 48 + r1 or 87 + r1
  if n == 0 then return string.char(d1) end
  local r2 = n % 36 n = (n - r2) / 36
  local d2 = r2 < 10 and 48 + r2 or 87 + r2
  if n == 0 then return string.char(d2, d1) end
  local r3 = n % 36 n = (n - r3) / 36
  local d3 = r3 < 10 and 48 + r3 or 87 + r3
  if n == 0 then return string.char(d3, d2, d1) end
  local r4 = n % 36 n = (n - r4) / 36
  local d4 = r4 < 10 and 48 + r4 or 87 + r4
  if n == 0 then return string.char(d4, d3, d2, d1) end
  local r5 = n % 36 n = (n - r5) / 36
  local d5 = r5 < 10 and 48 + r5 or 87 + r5
  if n == 0 then return string.char(d5, d4, d3, d2, d1) end
  local r6 = n % 36 n = (n - r6) / 36
  local d6 = r6 < 10 and 48 + r6 or 87 + r6
  if n == 0 then return string.char(d6, d5, d4, d3, d2, d1) end
  return base36(n) .. string.char(d6, d5, d4, d3, d2, d1)
end
`

// uvarintLua is binary.AppendUvarint for the token script that builds a
// record (codec.go), n a whole number from 0 to 2^53, written for Redis's
// Lua as base36 is: one string.char of the bytes, the 7-byte numbers of
// issue times included.
const uvarintLua = `
local function uvarint(n)
  if n < 128 then return string.char(n) end
  local b1 = n % 128 n = (n - b1) / 128
  if n < 128 then return string.char(b1 + 128, n) end
  local b2 = n % 128 n = (n - b2) / 128
  if n < 128 then return string.char(b1 + 128, b2 + 128, n) end
  local b3 = n % 128 n = (n - b3) / 128
  if n < 128 then return string.char(b1 + 128, b2 + 128, b3 + 128, n) end
  local b4 = n % 128 n = (n - b4) / 128
  if n < 128 then return string.char(b1 + 128, b2 + 128, b3 + 128, b4 + 128, n) end
  local b5 = n % 128 n = (n - b5) / 128
  if n < 128 then return string.char(b1 + 128, b2 + 128, b3 + 128, b4 + 128, b5 + 128, n) end
  local b6 = n % 128 n = (n - b6) / 128
  if n < 128 then return string.char(b1 + 128, b2 + 128, b3 + 128, b4 + 128, b5 + 128, b6 + 128, n) end
  local b7 = n % 128 n = (n - b7) / 128
  return string.char(b1 + 128, b2 + 128, b3 + 128, b4 + 128, b5 + 128, b6 + 128, b7 + 128) .. uvarint(n)
end
`

// onceLua takes the one-time identifiers a token request carries, when
// everything else passed, just before the write: a (the client
// assertion's jti key) until aat, p (the DPoP proof's key) until pat,
// either nil. It answers 0 once both are taken, or which was used before
// ('a' or 'p'), taking neither: a request refused as a replay of one
// spends not the other.
const onceLua = `
local function once(a, aat, p, pat)
  if a and p and redis.call('EXISTS', a) == 1 then return 'a' end
  if p and not redis.call('SET', p, '1', 'NX', 'PXAT', pat) then return 'p' end
  if a and not redis.call('SET', a, '1', 'NX', 'PXAT', aat) then return 'a' end
  return 0
end
`

// createToken writes one record Go built, only while the application
// exists, so a token issued during a delete cannot leave a record behind.
//
// KEYS: bucket, bucket index, application, and optionally the lock-out
// keys that hold the request (each one's value is when it ends, see
// limits.go): the client's from the address it asked from and, unless
// that address is in its allowlist, the siege; then, with ARGV[6], the
// client assertion's jti key (assertionKey) and last, with ARGV[7], the
// DPoP proof's (proofKey). The application and the locks are read with
// one MGET: they share the client's slot, as the jti keys do.
// ARGV: field, record, bucket expiry (Unix ms; 0 = never), bucket id, now
// (Unix ms), when the assertion's jti is forgotten (Unix ms; "" for none),
// when the proof's is ("" for none), then what countLua counts the token
// with: the client's key prefix (clientKeys; "" to count nothing), the
// issue time (Unix ms), the secret's id, hourlyKeep (ms), the issue time's hour (usageHour).
// Returns 0 when the application does not exist, minus the longest lock's
// remaining milliseconds while the client is locked out, 2 when the jti
// was used before, 3 when the proof was (nothing written either way), 1
// once written.
var createToken = goredis.NewScript(writeLua + onceLua + countLua + `
local n, a, p = #KEYS, nil, nil
if ARGV[7] ~= '' then p = KEYS[n] n = n - 1 end
if ARGV[6] ~= '' then a = KEYS[n] n = n - 1 end
local v = redis.call('MGET', unpack(KEYS, 3, n))
if not v[1] then return 0 end
local now = tonumber(ARGV[5])
local left = 0
for i = 2, #v do left = math.max(left, (tonumber(v[i]) or 0) - now) end
if left > 0 then return -left end
local taken = once(a, ARGV[6], p, ARGV[7])
if taken == 'a' then return 2 elseif taken == 'p' then return 3 end
local usedAt = nil
if ARGV[8] ~= '' then usedAt = ARGV[9] end
write(KEYS[1], KEYS[2], ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4], ARGV[5], usedAt, ARGV[10])
if ARGV[8] ~= '' then count(ARGV[8] .. 'usage', ARGV[8] .. 'hourly:', tonumber(ARGV[9]), ARGV[10], ARGV[11], ARGV[12]) end
return 1
`)

// issueToken issues a token in one round trip when Go does not hold the
// application: it reads the application and the lock-outs (one MGET),
// checks what the request says (the secret, enabled, the scopes and the
// audiences asked for; the IP allowlist is Go's, see IssueToken), and
// writes the record store.Application.AccessToken describes, in codec.go's
// format, in the bucket its expiry falls in (store.ExpiryBucket, or
// NeverBucket of the generation). That bucket's key is made here from the
// lifetime just read, so it cannot be among KEYS: Redis allows a script a
// key it was not given when it is in the slot of those it was, as every
// key of the client is.
//
// KEYS: bucket index, application, and optionally the client's lock-out
// from the request's source and the siege (both: whether the siege holds
// depends on the allowlist, which Go checks); then, with ARGV[11] not
// empty, the client assertion's jti key (assertionKey), and last, with
// ARGV[12] not empty, the DPoP proof's (proofKey).
// ARGV: field, issue time (Unix ms), now (Unix ms: the clock lock-outs
// and the index are read by), the client's key prefix (clientKeys: its
// buckets' keys and the usage the token is counted in, countLua, with the
// secret that matched, are made from it), KeepExpired (ms),
// the secret's digest (hex; "" with a key method), the time the secret
// must be active at (Unix ms), the scopes asked for ("" for the
// application's), the lifetime asked for (ms; 0 for the application's:
// store.Application.LifetimeFor), the key method the server verified
// ("" for a secret: store.TokenRequest.AuthMethod), when the jti is
// forgotten (Unix ms; "" for no jti to take), when the proof's is (""
// for none), the binding's cnf.jkt and cnf.x5t#S256 (store.TokenRequest.Confirmation;
// "" for none), hourlyKeep (ms), the issue time's hour (usageHour), then the resources (RFC 8707) asked for, if any. The jti and
// the proof are taken (onceLua) only once everything else passed, just
// before the write: a replay is status 5 (the jti) or 6 (the proof),
// nothing written.
// Returns {status, application record, bucket id, pair lock ms, siege ms,
// scopes, audiences, usage field counted}, as far as status (the issue*
// constants) has them.
var issueToken = goredis.NewScript(writeLua + onceLua + countLua + base36Lua + uvarintLua + `
local n, ja, pa = #KEYS, nil, nil
if ARGV[12] ~= '' then pa = KEYS[n] n = n - 1 end
if ARGV[11] ~= '' then ja = KEYS[n] n = n - 1 end
local v = redis.call('MGET', unpack(KEYS, 2, n))
if not v[1] then return {0} end
local app = cjson.decode(v[1])
local function list(t) if type(t) == 'table' then return t end return {} end
-- The secret's digest against the active ones, with ==, whose time may
-- tell how much of two digests matches: that leaks nothing usable. They
-- are SHA-256 digests of random secrets (256 bits when oauthd makes them,
-- at least 128 when imported: apps.MinImportedBits): learning the first
-- bytes of a secret's digest brings nobody closer to a secret that hashes
-- to it.
-- A request the server authenticated with a key (ARGV[10], the method it
-- verified; store.TokenRequest.AuthMethod) compares no secret, but only
-- an application of exactly that method accepts it: one whose method
-- changed meanwhile (to a secret, say) does not. A secret is accepted
-- only by the methods that send it as it is. Status 4: no such record is
-- ever written, whatever check says.
local method = ''
if type(app.auth) == 'table' and type(app.auth.method) == 'string' then method = app.auth.method end
local authAt, ok, sid = tonumber(ARGV[7]), false, ''
if ARGV[10] ~= '' then
  if method ~= ARGV[10] then return {4, v[1]} end
  ok = true
elseif method ~= '' and method ~= 'client_secret_basic' and method ~= 'client_secret_post' then
  return {4, v[1]}
else
  for _, s in ipairs(list(app.secrets)) do
    local exp = tonumber(s.expires_ms) or 0
    if s.sha256 == ARGV[6] and (exp == 0 or authAt < exp) then ok, sid = true, tostring(s.id) end
  end
end
if not ok or app.enabled ~= true then return {2, v[1]} end
local scope = ARGV[8]
if scope == '' then
  scope = table.concat(list(app.scopes), ' ')
else
  local held = {}
  for _, s in ipairs(list(app.scopes)) do held[s] = true end
  for s in string.gmatch(scope, '[^ ]+') do
    if not held[s] then return {2, v[1]} end
  end
end
local aud = list(app.audiences)
if #ARGV > 16 then
  local named, seen, out = {}, {}, {}
  for _, a in ipairs(aud) do named[a] = true end
  for i = 17, #ARGV do
    if not named[ARGV[i]] then return {2, v[1]} end
    if not seen[ARGV[i]] then seen[ARGV[i]] = true out[#out + 1] = ARGV[i] end
  end
  aud = out
end
aud = table.concat(aud, ' ')
local now = tonumber(ARGV[3])
local pair, siege = 0, 0
if n >= 3 then pair = math.max((tonumber(v[2]) or 0) - now, 0) end
if n >= 4 then siege = math.max((tonumber(v[3]) or 0) - now, 0) end
if pair > 0 or siege > 0 then return {3, v[1], '', pair, siege} end
local used = once(ja, ARGV[11], pa, ARGV[12])
if used == 'a' then return {5, v[1]} elseif used == 'p' then return {6, v[1]} end
-- AccessToken: the lifetime to the millisecond, at least one; the one
-- asked for when shorter (LifetimeFor).
local iat, life, gen = tonumber(ARGV[2]), 0, tonumber(app.gen) or 0
if (tonumber(app.lifetime_ns) or 0) > 0 then life = math.max(math.floor(app.lifetime_ns / 1e6), 1) end
local asked = tonumber(ARGV[9]) or 0
if asked > 0 and (life == 0 or asked < life) then life = asked end
-- ExpiryBucket: width 1/64 of the lifetime (life * 1e6 / 64 ns), between
-- 1s and 1h, in seconds; the bucket's end the first multiple of it not
-- before the expiry.
local id, at = 'n' .. base36(gen), 0
if life > 0 then
  local w = math.floor(math.min(math.max(life * 15625, 1e9), 3.6e12) / 1e9)
  local b = math.floor((math.ceil((iat + life) / 1000) + w - 1) / w) * w
  id, at = base36(b), b * 1000 + tonumber(ARGV[5])
end
local rec, kind = uvarint(iat) .. uvarint(life) .. uvarint(gen) .. uvarint(#scope) .. scope, 1
if aud ~= '' then kind, rec = kind + 16, rec .. uvarint(#aud) .. aud end
if ARGV[13] ~= '' or ARGV[14] ~= '' then kind, rec = kind + 32, rec .. uvarint(#ARGV[13]) .. ARGV[13] .. uvarint(#ARGV[14]) .. ARGV[14] end
rec = string.char(kind) .. rec
write(ARGV[4] .. 't:' .. id, KEYS[1], ARGV[1], rec, at, id, ARGV[3], ARGV[2], sid)
return {1, v[1], id, 0, 0, scope, aud, count(ARGV[4] .. 'usage', ARGV[4] .. 'hourly:', iat, sid, ARGV[15], ARGV[16])}
`)

// issueToken's statuses.
const (
	issueMissing = 0 // no application: nothing else is returned
	issueWritten = 1
	issueRefused = 2 // the secret, enabled, a scope or an audience
	issueLocked  = 3 // a lock-out holds, or the siege does, which the allowlist may lift
	issueMethod  = 4 // the application does not authenticate the way the request did
	issueReplay  = 5 // the client assertion's jti was used before
	issueProof   = 6 // the DPoP proof was used before
)

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
	return s.createToken(ctx, ref, t, store.TokenRequest{}, t.Kind == "")
}

// errReplay is a client assertion's jti used before.
func errReplay(clientID string) error {
	return fmt.Errorf("client assertion of %q: jti used already: %w", clientID, store.ErrAlreadyExists)
}

// errProofReplayed is a DPoP proof used before.
func errProofReplayed(clientID string) error {
	return fmt.Errorf("token for %q: %w", clientID, store.ErrProofReplayed)
}

// createToken is CreateToken that takes the one-time identifiers of r
// (its assertion's JTI, its ProofID) in the same script, writing nothing
// when either was taken before, and counts the token in usage when count
// is set, with the same script.
func (s *Store) createToken(ctx context.Context, ref store.TokenRef, t store.Token, r store.TokenRequest, count bool) error {
	if ref.Bucket != t.Bucket() {
		return fmt.Errorf("%w: %d, want %d", errBucket, ref.Bucket, t.Bucket())
	}
	var at int64
	if ref.Bucket > 0 {
		at = s.bucketExpiry(ref.Bucket)
	}
	bucket := store.FormatBucket(ref.Bucket)
	keys := []string{s.bucketKeyOf(ref.ClientID, bucket), s.bucketIndexKey(ref.ClientID), s.appKey(ref.ClientID)}
	if t.RequestedFrom.IsValid() {
		keys = append(keys, LockKey(s.opts.Prefix, ref.ClientID, Source(t.RequestedFrom, s.opts.IPv6Prefix)))
		if !t.Allowlisted {
			keys = append(keys, SiegeKey(s.opts.Prefix, ref.ClientID))
		}
	}
	keys, jtiAt, proofAt := s.onceKeys(keys, ref.ClientID, r)
	counted := ""
	if count {
		counted = s.clientKeys(ref.ClientID)
	}
	n, err := createToken.Run(ctx, s.hot, keys, field(ref), encodeToken(t), at, bucket, time.Now().UnixMilli(), jtiAt, proofAt,
		counted, ms(t.IssuedAt), t.SecretID, hourlyKeep.Milliseconds(), usageHour(t.IssuedAt)).Int()
	if err != nil {
		return s.wrap(err)
	}
	switch n {
	case 0:
		return fmt.Errorf("application %q: %w", ref.ClientID, store.ErrNotFound)
	case 2:
		return errReplay(ref.ClientID)
	case 3:
		return errProofReplayed(ref.ClientID)
	}
	if n < 0 {
		return &store.LockedError{For: time.Duration(-n) * time.Millisecond}
	}
	if count {
		s.usage.note(ref.ClientID, t.IssuedAt)
	}
	return nil
}

// IssueToken issues an access token in one round trip, whatever the
// application cache holds. With the application cached, check runs first
// and createToken writes the record Go built; without, issueToken reads
// the application, checks the request against it and writes the record
// in the same script, and check runs on what it read (which is then
// cached). What only Go checks (the IP allowlist, the quota, the grant
// type) can then refuse a token whose record is written: it is deleted
// again, a second round trip on that path only, and harmless even if it
// fails, since no token names it.
func (s *Store) IssueToken(ctx context.Context, r store.TokenRequest, check func(*store.Application) (store.Grant, error)) (store.Issued, error) {
	if app, ok := s.apps.get(r.ClientID); ok {
		g, err := check(app)
		if err != nil {
			return store.Issued{}, err
		}
		if !r.AuthMatches(app) {
			return store.Issued{}, store.ErrAuthMethod
		}
		return s.issueKnown(ctx, app, g, r)
	}
	id := r.ClientID
	epoch := s.apps.begin()
	keys := []string{s.bucketIndexKey(id), s.appKey(id)}
	if r.From.IsValid() {
		keys = append(keys, LockKey(s.opts.Prefix, id, Source(r.From, s.opts.IPv6Prefix)), SiegeKey(s.opts.Prefix, id))
	}
	secret := hex.EncodeToString(r.Secret[:])
	if r.AuthMethod != "" {
		secret = ""
	}
	keys, jtiAt, proofAt := s.onceKeys(keys, id, r)
	args := make([]any, 0, 16+len(r.Resources))
	args = append(args, string(r.Digest[:store.KeyLen]), ms(r.IssuedAt.Truncate(time.Millisecond)), time.Now().UnixMilli(), s.clientKeys(id),
		s.opts.KeepExpired.Milliseconds(), secret, r.AuthAt.UnixMilli(), strings.Join(r.Scopes, " "),
		max(r.Lifetime, 0).Truncate(time.Millisecond).Milliseconds(), r.AuthMethod, jtiAt, proofAt,
		r.Confirmation.JKT, r.Confirmation.X5TS256, hourlyKeep.Milliseconds(), usageHour(r.IssuedAt.Truncate(time.Millisecond)))
	for _, res := range r.Resources {
		args = append(args, res)
	}
	v, err := issueToken.Run(ctx, s.hot, keys, args...).Slice()
	if err != nil {
		return store.Issued{}, s.wrap(err)
	}
	status, rec, bucket, pair, siege, wrote, counted := issueReply(v)
	if status == issueMissing {
		return store.Issued{}, fmt.Errorf("application %q: %w", id, store.ErrNotFound)
	}
	app, err := s.cacheApp(id, []byte(rec), epoch)
	if err != nil {
		return store.Issued{}, err
	}
	ref := store.TokenRef{ClientID: id, Digest: r.Digest}
	if status == issueWritten {
		var ok bool
		if ref.Bucket, ok = store.ParseBucket(bucket); !ok {
			return store.Issued{}, fmt.Errorf("token for %q: the script filed it in bucket %q", id, bucket)
		}
	}
	g, err := check(app)
	if err != nil {
		if status == issueWritten {
			// Even when the request is gone: the record would stay.
			s.discard(context.WithoutCancel(ctx), ref, counted)
		}
		return store.Issued{}, err
	}
	switch status {
	case issueReplay:
		return store.Issued{}, errReplay(id)
	case issueProof:
		return store.Issued{}, errProofReplayed(id)
	}
	if status == issueMethod || !r.AuthMatches(app) {
		// check, on its own word, let through what the application as
		// the script read it does not accept: it changed meanwhile.
		if status == issueWritten {
			s.discard(context.WithoutCancel(ctx), ref, counted)
		}
		return store.Issued{}, store.ErrAuthMethod
	}
	switch status {
	case issueWritten:
		t := app.AccessToken(g, r.IssuedAt, r.Lifetime)
		// The script wrote the request's binding (issue 19): one the
		// grant differs from is written again too.
		if wrote != (written{scopes: strings.Join(g.Scopes, " "), audiences: strings.Join(g.Audiences, " ")}) || g.Confirmation != r.Confirmation {
			// The script grants what the application holds literally;
			// check, what the catalogue in force grants (a form such as
			// sms:* expanded, a scope the catalogue dropped left out).
			// Where they differ the record is written again, as Go built
			// it: a second round trip, for such applications' misses only.
			// The script counted the token already.
			t.ID, t.RequestedFrom, t.Allowlisted = ref.JTI(), r.From, app.InAllowlist(r.From)
			if err := s.createToken(ctx, ref, t, store.TokenRequest{}, false); err != nil {
				return store.Issued{}, err
			}
			s.usage.note(id, t.IssuedAt)
			t.SecretID, t.RequestedFrom, t.Allowlisted = "", netip.Addr{}, false
			return store.Issued{Ref: ref, Token: t}, nil
		}
		s.usage.note(id, t.IssuedAt)
		t.ID, t.SecretID = ref.JTI(), ""
		return store.Issued{Ref: ref, Token: t}, nil
	case issueRefused:
		// The script refused on what it checks literally (a scope held
		// through a form, say) what check, knowing the catalogue,
		// allows: write the record now that Go knows the application.
		return s.issueKnown(ctx, app, g, r)
	case issueLocked:
		held := pair
		if !app.InAllowlist(r.From) {
			held = max(held, siege)
		}
		if held > 0 {
			return store.Issued{}, &store.LockedError{For: held}
		}
		// A siege alone, which does not hold an address in the
		// allowlist: write the record now that Go knows the application.
		return s.issueKnown(ctx, app, g, r)
	}
	return store.Issued{}, fmt.Errorf("token for %q: the script refused a request the application allows", id)
}

// written is the scopes and audiences the script wrote into a record,
// space-separated.
type written struct{ scopes, audiences string }

// issueReply reads issueToken's answer; a short one leaves the rest zero.
func issueReply(v []any) (status int64, rec, bucket string, pair, siege time.Duration, wrote written, counted string) {
	at := func(i int) any {
		if i < len(v) {
			return v[i]
		}
		return nil
	}
	status, _ = at(0).(int64)
	rec, _ = at(1).(string)
	bucket, _ = at(2).(string)
	p, _ := at(3).(int64)
	sg, _ := at(4).(int64)
	wrote.scopes, _ = at(5).(string)
	wrote.audiences, _ = at(6).(string)
	counted, _ = at(7).(string)
	return status, rec, bucket, time.Duration(p) * time.Millisecond, time.Duration(sg) * time.Millisecond, wrote, counted
}

// issueKnown stores the token app is issued with g, its record built in
// Go (createToken).
func (s *Store) issueKnown(ctx context.Context, app *store.Application, g store.Grant, r store.TokenRequest) (store.Issued, error) {
	t := app.AccessToken(g, r.IssuedAt, r.Lifetime)
	t.RequestedFrom, t.Allowlisted = r.From, app.InAllowlist(r.From)
	ref := store.TokenRef{ClientID: app.ClientID, Bucket: t.Bucket(), Digest: r.Digest}
	t.ID = ref.JTI()
	if err := s.createToken(ctx, ref, t, r, true); err != nil {
		return store.Issued{}, err
	}
	t.SecretID, t.RequestedFrom, t.Allowlisted = "", netip.Addr{}, false
	return store.Issued{Ref: ref, Token: t}, nil
}

// discard deletes the record of a token that was not handed out, and
// takes it back from the usage field it was counted in (countLua; "" for
// none), only if the record was there: a bucket gone with its
// application's deletion does not bring the usage hash back. A failure is
// only logged: the record is harmless, and goes with its bucket.
func (s *Store) discard(ctx context.Context, ref store.TokenRef, counted string) {
	err := discardToken.Run(ctx, s.rdb, []string{s.bucketKey(ref.ClientID, ref.Bucket), s.usageKey(ref.ClientID)}, field(ref), counted).Err()
	if err != nil {
		s.opts.Logger.LogAttrs(ctx, slog.LevelWarn, "could not delete the record of a token refused after it was written",
			slog.String("jti", ref.JTI()), slog.String("error", err.Error()))
	}
}

// discardToken: KEYS bucket, usage; ARGV field, usage field ("" for none).
var discardToken = goredis.NewScript(`
if redis.call('HDEL', KEYS[1], ARGV[1]) == 1 and ARGV[2] ~= '' then
  redis.call('HINCRBY', KEYS[2], ARGV[2], -1)
end
return 0
`)

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
	var other *store.Application
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
		tok = s.hot.HGet(ctx, s.bucketKey(ref.ClientID, ref.Bucket), field(ref))
		err = tok.Err()
	} else {
		// Pipeline and Exec, not Pipelined: a closure assigning the
		// commands would move each of them to the heap, on every
		// introspection (the caller's lock-out is read with the token).
		// A batching client queues each command as it is made, and sends
		// them with the other requests' in its next pipeline.
		var p goredis.Pipeliner
		var c goredis.Cmdable = s.hot
		if s.hot == s.rdb { // not batching
			p = s.rdb.Pipeline()
			c = p
		}
		tok = c.HGet(ctx, s.bucketKey(ref.ClientID, ref.Bucket), field(ref))
		if s.opts.KeepExpired > 0 {
			revoked = c.Exists(ctx, s.revokedKey(ref))
		}
		if !appCached {
			appCmd = c.Get(ctx, s.appKey(ref.ClientID))
		}
		if !otherCached {
			otherCmd = c.Get(ctx, s.appKey(also))
		}
		if checkLock {
			lock, siege := lockKeys(s.opts.Prefix, also, caller.Addr, s.opts.IPv6Prefix)
			locks = c.MGet(ctx, lock, siege)
		}
		if p != nil {
			_, err = p.Exec(ctx)
		} else {
			err = notNil(tok.Err())
			if revoked != nil && err == nil {
				err = revoked.Err()
			}
			if locks != nil && err == nil {
				err = locks.Err()
			}
		}
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
		out.App = app // the cache's own: TokenLookup's callers only read it
	} else if out.App, err = s.optionalApp(ref.ClientID, appCmd, epoch); err != nil {
		return store.TokenLookup{}, err
	}
	switch {
	case also == "":
	case otherCached:
		out.Also = other
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

// notNil is err but for goredis.Nil (a key that is not there).
func notNil(err error) error {
	if errors.Is(err, goredis.Nil) {
		return nil
	}
	return err
}

func (s *Store) optionalApp(id string, cmd *goredis.StringCmd, epoch uint64) (*store.Application, error) {
	b, err := cmd.Bytes()
	if errors.Is(err, goredis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, s.wrap(err)
	}
	return s.cacheApp(id, b, epoch)
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
					continue // the bucket's marker
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
