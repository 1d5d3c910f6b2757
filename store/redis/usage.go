package redis

import (
	"cmp"
	"context"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/oauthd/oauthd/store"
)

// Usage (how many tokens an application was issued, in all and per hour,
// and when it and each secret last got one) is counted by the script that
// writes the token, with one command (countLua): nothing is buffered, so
// every replica reports the same counts at once and a crash loses none.
//
//	<prefix>:{<client_id>}:usage           hash: n:<Unix hour>:<secret id> → tokens of that
//	                                       hour and secret ("" for a key method), not yet
//	                                       folded; issued (tokens of the folded hours);
//	                                       app, secret:<id> (Unix ms of last use, to the hour)
//	<prefix>:{<client_id>}:hourly:<day>    hash: <hour of day> → tokens of the folded hours;
//	                                       expires after 2 days
//	<prefix>:issued:<day>                  hash: <hour of day> → tokens of every application; 2 days
//	<prefix>:issued:top:<Unix hour>        sorted set: client_id → tokens that hour, the
//	                                       topKeep busiest only; expires after 2 days
//
// The last two feed the dashboard's overview (IssuedOverall) without
// reading every application. They are global keys, which a token script
// may not write on Redis Cluster (they are in other slots), so each
// process counts them in memory and FlushUsage writes them, every
// Options.UsageFlushEvery and once more at shutdown: a cost per interval,
// whatever the number of tokens or applications (at most topKeep+4
// commands an hour counted).
const DefaultUsageFlushEvery = 10 * time.Second

const hourlyKeep = 48 * time.Hour

// countLua counts a token in its application's usage, for the token
// scripts (tokens.go), after the write: HINCRBY of the field of the
// token's hour and secret in the usage hash u, one command a token. The
// first token of an hour and secret (HINCRBY answers 1: once per
// application, hour and secret) also folds the earlier hours' fields into
// the totals (issued) and into the hourly keys (hk .. day; while the
// hour is within keep ms of its day's end, as their expiry is), and
// writes the last-use times: so the usage hash holds the fields of one
// hour or two, and last use there is exact to the hour, the time of the
// first token of the last hour with any (the exact one is in the buckets'
// markers, writeLua). Returns the field counted, which
// discarding the token takes back (discardToken).
// at: the token's issue time (Unix ms); sid: its secret's id, "" for a
// key method; hs: at's Unix hour in decimal (usageHour), which Go writes
// because turning a number into a string costs Redis's Lua about 0.7 µs,
// on every token.
// usageHour is the Unix hour of t in decimal, for countLua's hs.
func usageHour(t time.Time) string { return strconv.FormatInt(t.UnixMilli()/3600000, 10) }

const countLua = `
local function count(u, hk, at, sid, keep, hs)
  local f = 'n:' .. hs .. ':' .. sid
  if redis.call('HINCRBY', u, f, 1) > 1 then return f end
  local hour = tonumber(hs)
  local all, old, sum, per, last = redis.call('HGETALL', u), {}, 0, {}, {}
  for i = 1, #all, 2 do
    local h = string.match(all[i], '^n:(%d+):')
    if h then h = tonumber(h) end
    if h and h < hour then
      local n = tonumber(all[i + 1]) or 0
      old[#old + 1], sum, per[h] = all[i], sum + n, (per[h] or 0) + n
    elseif all[i] == 'app' or all[i] == 'secret:' .. sid then
      last[all[i]] = tonumber(all[i + 1]) or 0
    end
  end
  for h, n in pairs(per) do
    local day = math.floor(h / 24)
    local exp = (day + 1) * 86400000 + keep
    if exp > at and n ~= 0 then
      redis.call('HINCRBY', hk .. day, h % 24, n)
      redis.call('PEXPIREAT', hk .. day, exp)
    end
  end
  if #old > 0 then
    redis.call('HDEL', u, unpack(old))
    redis.call('HINCRBY', u, 'issued', sum)
  end
  -- Later only: a token issued with an earlier clock (another replica's)
  -- does not move last use back.
  local set = {}
  if at > (last['app'] or 0) then set[#set + 1], set[#set + 2] = 'app', at end
  if sid ~= '' and at > (last['secret:' .. sid] or 0) then set[#set + 1], set[#set + 2] = 'secret:' .. sid, at end
  if #set > 0 then redis.call('HSET', u, unpack(set)) end
  return f
end
`

// topKeep is how many applications each hour's top set keeps, and how many
// of one flush's applications are added to it: the overview's top ten over
// a day is exact unless an application was never among an hour's topKeep
// busiest, nor among the topKeep busiest of one replica's flush.
const topKeep = 200

// usageBuffer holds the overall counts not yet written: per application,
// tokens per Unix hour. It is bounded by the number of applications in
// use between two flushes.
type usageBuffer struct {
	mu      sync.Mutex
	pending map[string]map[int64]int64
}

func newUsageBuffer() *usageBuffer { return &usageBuffer{pending: map[string]map[int64]int64{}} }

func (u *usageBuffer) note(clientID string, at time.Time) {
	h := at.Unix() / 3600
	u.mu.Lock()
	defer u.mu.Unlock()
	p := u.pending[clientID]
	if p == nil {
		p = map[int64]int64{}
		u.pending[clientID] = p
	}
	p[h]++
}

// take hands over everything pending.
func (u *usageBuffer) take() map[string]map[int64]int64 {
	u.mu.Lock()
	defer u.mu.Unlock()
	out := u.pending
	u.pending = map[string]map[int64]int64{}
	return out
}

// all returns a copy of every application's pending hourly counts.
func (u *usageBuffer) all() map[string]map[int64]int64 {
	u.mu.Lock()
	defer u.mu.Unlock()
	out := make(map[string]map[int64]int64, len(u.pending))
	for id, p := range u.pending {
		out[id] = maps.Clone(p)
	}
	return out
}

// FlushUsage writes the overall counts made since the last flush (the
// applications' own counts are written with their tokens).
func (s *Store) FlushUsage(ctx context.Context) error {
	pending := s.usage.take()
	var list []issuedHour
	for id, hours := range pending {
		for h, n := range hours {
			list = append(list, issuedHour{id, h, n})
		}
	}
	return s.flushOverall(ctx, list)
}

type issuedHour struct {
	id   string
	hour int64 // Unix hour
	n    int64
}

func (s *Store) overallKey(day int64) string {
	return s.opts.Prefix + ":issued:" + strconv.FormatInt(day, 10)
}
func (s *Store) topKey(hour int64) string {
	return s.opts.Prefix + ":issued:top:" + strconv.FormatInt(hour, 10)
}

// flushOverall adds what a flush wrote to the counts of every application
// together: one HINCRBY per hour, and to each hour's top set the topKeep
// applications this flush counted most (the others could not rank in it
// by this flush's counts alone; see topKeep). They are advisory: a
// failure loses them (retrying would count the applications' own counts
// twice) and is reported.
func (s *Store) flushOverall(ctx context.Context, list []issuedHour) error {
	if len(list) == 0 {
		return nil
	}
	perHour := map[int64][]issuedHour{}
	for _, h := range list {
		perHour[h.hour] = append(perHour[h.hour], h)
	}
	_, err := s.rdb.Pipelined(ctx, func(p goredis.Pipeliner) error {
		for hour, apps := range perHour {
			day := hour / 24
			expire := time.UnixMilli((day+1)*24*3600*1000 + hourlyKeep.Milliseconds())
			var total int64
			for _, a := range apps {
				total += a.n
			}
			p.HIncrBy(ctx, s.overallKey(day), strconv.FormatInt(hour%24, 10), total)
			p.PExpireAt(ctx, s.overallKey(day), expire)
			if len(apps) > topKeep {
				slices.SortFunc(apps, func(a, b issuedHour) int { return cmp.Compare(b.n, a.n) })
				apps = apps[:topKeep]
			}
			for _, a := range apps {
				p.ZIncrBy(ctx, s.topKey(hour), float64(a.n), a.id)
			}
			p.PExpireAt(ctx, s.topKey(hour), expire)
			p.ZRemRangeByRank(ctx, s.topKey(hour), 0, -topKeep-1)
		}
		return nil
	})
	return s.wrap(err)
}

// IssuedOverall returns the tokens issued per hour by every application
// together, and the top applications of those hours, with what this
// process counted but has not flushed.
func (s *Store) IssuedOverall(ctx context.Context, hours, top int, now time.Time) (store.IssuedSummary, error) {
	hours = min(max(hours, 1), int(hourlyKeep/time.Hour))
	last := now.Unix() / 3600
	firstHour := last - int64(hours) + 1
	var days []*goredis.MapStringStringCmd
	var tops []*goredis.ZSliceCmd
	_, err := s.rdb.Pipelined(ctx, func(p goredis.Pipeliner) error {
		for d := firstHour / 24; d <= last/24; d++ {
			days = append(days, p.HGetAll(ctx, s.overallKey(d)))
		}
		for h := firstHour; h <= last; h++ {
			tops = append(tops, p.ZRangeWithScores(ctx, s.topKey(h), 0, -1))
		}
		return nil
	})
	if err != nil {
		return store.IssuedSummary{}, s.wrap(err)
	}
	out := store.IssuedSummary{PerHour: make([]int64, hours)}
	count := func(hour, n int64) {
		if i := hour - firstHour; i >= 0 && i < int64(hours) {
			out.PerHour[i] += n
		}
	}
	for i, c := range days {
		day := firstHour/24 + int64(i)
		for k, v := range c.Val() {
			h, err1 := strconv.ParseInt(k, 10, 64)
			n, err2 := strconv.ParseInt(v, 10, 64)
			if err1 == nil && err2 == nil {
				count(day*24+h, n)
			}
		}
	}
	byApp := map[string]int64{}
	for _, c := range tops {
		for _, z := range c.Val() {
			id, _ := z.Member.(string)
			byApp[id] += int64(z.Score)
		}
	}
	for id, hours := range s.usage.all() {
		for h, n := range hours {
			if h >= firstHour && h <= last {
				count(h, n)
				byApp[id] += n
			}
		}
	}
	for id, n := range byApp {
		out.Top = append(out.Top, store.AppIssued{ClientID: id, Issued: n})
	}
	slices.SortFunc(out.Top, func(a, b store.AppIssued) int {
		return cmp.Or(cmp.Compare(b.Issued, a.Issued), strings.Compare(a.ClientID, b.ClientID))
	})
	out.Top = out.Top[:min(len(out.Top), max(top, 0))]
	return out, nil
}

// GetUsage returns when the application and its secrets were last used.
func (s *Store) GetUsage(ctx context.Context, id string) (store.Usage, error) {
	m, err := s.GetUsages(ctx, []string{id})
	return m[id], err
}

// GetUsages returns the usage of several applications in one pipelined
// round trip: what every replica counted, at once. An application's last
// use, and each secret's, is the later of its usage hash's (the first
// token of the last hour with any, countLua) and its buckets' markers (the
// last token written to each, writeLua): to the millisecond while a bucket
// of it lives, to the hour after.
func (s *Store) GetUsages(ctx context.Context, ids []string) (map[string]store.Usage, error) {
	replies, err := s.evalEach(ctx, readUsage, len(ids), func(i int) ([]string, []any) {
		id := ids[i]
		return []string{s.usageKey(id), s.bucketIndexKey(id), s.appKey(id)}, []any{s.bucketKeyOf(id, "")}
	})
	if err != nil {
		return nil, err
	}
	out := make(map[string]store.Usage, len(ids))
	for i, id := range ids {
		u := store.Usage{SecretLastUsed: map[string]time.Time{}}
		v, _ := replies[i].([]any)
		var fields, secrets []any
		var marked int64
		if len(v) == 3 {
			fields, _ = v[0].([]any)
			marked, _ = v[1].(int64)
			secrets, _ = v[2].([]any)
		}
		for j := 0; j+1 < len(fields); j += 2 {
			k, _ := fields[j].(string)
			val, _ := fields[j+1].(string)
			n, _ := strconv.ParseInt(val, 10, 64)
			switch {
			case k == "app":
				u.LastUsed = fromMS(n)
			case k == "issued":
				u.Issued += n
			case strings.HasPrefix(k, "n:"):
				u.Issued += n // an hour not folded yet (countLua)
			case strings.HasPrefix(k, "secret:"):
				u.SecretLastUsed[strings.TrimPrefix(k, "secret:")] = fromMS(n)
			}
		}
		if at := fromMS(marked); at.After(u.LastUsed) {
			u.LastUsed = at
		}
		for j := 0; j+1 < len(secrets); j += 2 {
			sid, _ := secrets[j].(string)
			n, _ := secrets[j+1].(int64)
			if at := fromMS(n); at.After(u.SecretLastUsed[sid]) {
				u.SecretLastUsed[sid] = at
			}
		}
		out[id] = u
	}
	return out, nil
}

// readUsage reads an application's usage hash and the latest of its
// buckets' markers, the application's and each of its secrets' (writeLua):
// those of the buckets in the index (live ones and a few ended) and of its
// generation's never-expiring one.
// KEYS: usage, bucket index, application. ARGV: the bucket keys' prefix.
// Returns {the usage hash's fields and values, the latest marker (Unix
// ms; 0 for none), {secret id, latest marker of its field, ...}}.
var readUsage = goredis.NewScript(base36Lua + secretMarkLua + `
local buckets = {}
for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[2], 1, '+inf')) do buckets[#buckets + 1] = ARGV[1] .. id end
local sids, fields = {}, {'_'}
local app = redis.call('GET', KEYS[3])
if app then
  local ok, rec = pcall(cjson.decode, app)
  if ok and type(rec) == 'table' then
    buckets[#buckets + 1] = ARGV[1] .. 'n' .. base36(tonumber(rec.gen) or 0)
    if type(rec.secrets) == 'table' then
      for _, s in ipairs(rec.secrets) do
        if type(s) == 'table' and type(s.id) == 'string' then
          sids[#sids + 1] = s.id
          fields[#fields + 1] = secretMark(s.id)
        end
      end
    end
  end
end
local last, bySecret = 0, {}
for _, key in ipairs(buckets) do
  local m = redis.call('HMGET', key, unpack(fields))
  for i = 1, #fields do
    local t = tonumber(m[i] or '0') or 0
    if i == 1 then
      if t > last then last = t end
    elseif t > (bySecret[i - 1] or 0) then
      bySecret[i - 1] = t
    end
  end
end
local secrets = {}
for i, sid in ipairs(sids) do
  if (bySecret[i] or 0) > 0 then secrets[#secrets + 1], secrets[#secrets + 2] = sid, bySecret[i] end
end
return {redis.call('HGETALL', KEYS[1]), last, secrets}
`)

// evalEach runs script n times in one pipeline, call i with the keys and
// arguments of args(i), and returns each call's reply. A node without the
// script (SCRIPT FLUSH, a restart) has it loaded and the calls run again,
// once.
func (s *Store) evalEach(ctx context.Context, script *goredis.Script, n int, args func(i int) ([]string, []any)) ([]any, error) {
	for attempt := 0; ; attempt++ {
		cmds := make([]*goredis.Cmd, n)
		_, err := s.rdb.Pipelined(ctx, func(p goredis.Pipeliner) error {
			for i := range n {
				keys, argv := args(i)
				cmds[i] = script.EvalSha(ctx, p, keys, argv...)
			}
			return nil
		})
		if err != nil && attempt == 0 && goredis.HasErrorPrefix(err, "NOSCRIPT") {
			if err := script.Load(ctx, s.rdb).Err(); err != nil {
				return nil, s.wrap(err)
			}
			continue
		}
		if err != nil {
			return nil, s.wrap(err)
		}
		out := make([]any, n)
		for i, c := range cmds {
			out[i] = c.Val()
		}
		return out, nil
	}
}

// unfolded reads countLua's n:<Unix hour>:<secret> field name: its hour.
func unfolded(field string) (hour int64, ok bool) {
	rest, ok := strings.CutPrefix(field, "n:")
	if !ok {
		return 0, false
	}
	h, _, ok := strings.Cut(rest, ":")
	if !ok {
		return 0, false
	}
	hour, err := strconv.ParseInt(h, 10, 64)
	return hour, err == nil
}

// IssuedPerHour returns how many tokens the application was issued in each
// of the hours hours up to and including now's, oldest first (at most 48):
// the folded hours from the hourly keys, the others from the usage hash,
// in one round trip.
func (s *Store) IssuedPerHour(ctx context.Context, id string, hours int, now time.Time) ([]int64, error) {
	hours = min(max(hours, 1), int(hourlyKeep/time.Hour))
	last := now.Unix() / 3600
	firstHour := last - int64(hours) + 1
	days := []int64{}
	for d := firstHour / 24; d <= last/24; d++ {
		days = append(days, d)
	}
	cmds := make([]*goredis.MapStringStringCmd, len(days))
	var usage *goredis.MapStringStringCmd
	_, err := s.rdb.Pipelined(ctx, func(p goredis.Pipeliner) error {
		for i, d := range days {
			cmds[i] = p.HGetAll(ctx, s.hourlyKey(id, d))
		}
		usage = p.HGetAll(ctx, s.usageKey(id))
		return nil
	})
	if err != nil {
		return nil, s.wrap(err)
	}
	out := make([]int64, hours)
	add := func(hour int64, v string) {
		n, err := strconv.ParseInt(v, 10, 64)
		if idx := hour - firstHour; err == nil && idx >= 0 && idx < int64(hours) {
			out[idx] += n
		}
	}
	for i, d := range days {
		for k, v := range cmds[i].Val() {
			if h, err := strconv.ParseInt(k, 10, 64); err == nil {
				add(d*24+h, v)
			}
		}
	}
	for k, v := range usage.Val() {
		if h, ok := unfolded(k); ok {
			add(h, v)
		}
	}
	return out, nil
}

func (s *Store) hourlyKey(id string, day int64) string {
	return s.opts.Prefix + ":{" + id + "}:hourly:" + strconv.FormatInt(day, 10)
}
