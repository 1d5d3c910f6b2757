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

// Usage (when an application and each secret last got a token, how many
// tokens it was issued, and how many per hour) is counted in memory and
// written to Redis by FlushUsage, which Run calls every
// Options.UsageFlushEvery and once more at shutdown. Token issue itself
// writes nothing for it. A crash loses at most one interval of counting,
// never a token.
//
//	<prefix>:{<client_id>}:usage           hash: app, secret:<id> (Unix ms), issued
//	<prefix>:{<client_id>}:hourly:<day>    hash: <hour of day> → tokens; expires after 2 days
//	<prefix>:issued:<day>                  hash: <hour of day> → tokens of every application; 2 days
//	<prefix>:issued:top:<Unix hour>        sorted set: client_id → tokens that hour, the
//	                                       topKeep busiest only; expires after 2 days
//
// The last two feed the dashboard's overview (IssuedOverall) without
// reading every application: they are global keys, written by the same
// flush right after the applications' own counts.
const DefaultUsageFlushEvery = 10 * time.Second

const hourlyKeep = 48 * time.Hour

// topKeep is how many applications each hour's top set keeps, and how many
// of one flush's applications are added to it: the overview's top ten over
// a day is exact unless an application was never among an hour's topKeep
// busiest, nor among the topKeep busiest of one replica's flush.
const topKeep = 200

type appUsage struct {
	issued  int64
	last    time.Time
	secrets map[string]time.Time
	hours   map[int64]int64 // Unix hour → tokens
}

// usageBuffer holds the counts not yet written. It is bounded by the number
// of applications and secrets in use between two flushes.
type usageBuffer struct {
	mu      sync.Mutex
	pending map[string]*appUsage
}

func newUsageBuffer() *usageBuffer { return &usageBuffer{pending: map[string]*appUsage{}} }

func (u *usageBuffer) note(clientID, secretID string, at time.Time) {
	at = at.UTC().Truncate(time.Millisecond) // what Redis keeps, so both views agree
	u.mu.Lock()
	defer u.mu.Unlock()
	p := u.pending[clientID]
	if p == nil {
		p = &appUsage{hours: map[int64]int64{}}
		u.pending[clientID] = p
	}
	p.issued++
	p.hours[at.Unix()/3600]++
	if at.After(p.last) {
		p.last = at
	}
	if secretID != "" {
		if p.secrets == nil {
			p.secrets = map[string]time.Time{}
		}
		if at.After(p.secrets[secretID]) {
			p.secrets[secretID] = at
		}
	}
}

// take hands over everything pending.
func (u *usageBuffer) take() map[string]*appUsage {
	u.mu.Lock()
	defer u.mu.Unlock()
	out := u.pending
	u.pending = map[string]*appUsage{}
	return out
}

// putBack returns counts whose write failed, merged with what came since.
func (u *usageBuffer) putBack(m map[string]*appUsage) {
	u.mu.Lock()
	defer u.mu.Unlock()
	for id, old := range m {
		p := u.pending[id]
		if p == nil {
			u.pending[id] = old
			continue
		}
		p.issued += old.issued
		for h, n := range old.hours {
			p.hours[h] += n
		}
		if old.last.After(p.last) {
			p.last = old.last
		}
		for sid, at := range old.secrets {
			if p.secrets == nil {
				p.secrets = map[string]time.Time{}
			}
			if at.After(p.secrets[sid]) {
				p.secrets[sid] = at
			}
		}
	}
}

// all returns a copy of every application's pending hourly counts.
func (u *usageBuffer) all() map[string]appUsage {
	u.mu.Lock()
	defer u.mu.Unlock()
	out := make(map[string]appUsage, len(u.pending))
	for id, p := range u.pending {
		out[id] = appUsage{hours: maps.Clone(p.hours)}
	}
	return out
}

// peek returns a copy of one application's pending counts.
func (u *usageBuffer) peek(id string) (appUsage, bool) {
	u.mu.Lock()
	defer u.mu.Unlock()
	p := u.pending[id]
	if p == nil {
		return appUsage{}, false
	}
	return appUsage{issued: p.issued, last: p.last, secrets: maps.Clone(p.secrets), hours: maps.Clone(p.hours)}, true
}

// flushUsage writes one application's counts of one day, only while the
// application exists: a flush racing its deletion must not leave its keys
// behind. It is run for many applications in one pipeline (FlushUsage), so
// its cost is what it asks of Redis: once an application has been counted,
// five commands (this EVALSHA, two HINCRBY, one HMGET and one HSET).
// The existence check is made only when the usage hash may just have been
// created (its count is all it holds: HINCRBY returned what it added), and
// the hourly key's expiry only when its hour's field is new; neither then
// costs a command a flush in steady state.
// KEYS: app, usage, hourly key of the day. ARGV: issued (0 for a second
// day's call), last use (Unix ms; 0 for none), hourly expiry (Unix ms),
// the number of hour/count pairs, the number of field/ms pairs of last use
// (secret:<id>), then the pairs.
var flushUsage = goredis.NewScript(`
local issued = tonumber(ARGV[1])
if issued > 0 then
  if redis.call('HINCRBY', KEYS[2], 'issued', issued) == issued and redis.call('EXISTS', KEYS[1]) == 0 then
    redis.call('DEL', KEYS[2])
    return 0
  end
elseif redis.call('EXISTS', KEYS[1]) == 0 then
  return 0
end
local i = 6
for _ = 1, tonumber(ARGV[4]) do
  local n = tonumber(ARGV[i+1])
  if redis.call('HINCRBY', KEYS[3], ARGV[i], n) == n then redis.call('PEXPIREAT', KEYS[3], ARGV[3]) end
  i = i + 2
end
-- Last use: the later of what is stored and what is written, so replicas
-- flushing in any order agree.
local fields, at = {}, {}
if tonumber(ARGV[2]) > 0 then fields[1], at[1] = 'app', tonumber(ARGV[2]) end
for _ = 1, tonumber(ARGV[5]) do
  fields[#fields + 1], at[#at + 1] = ARGV[i], tonumber(ARGV[i+1])
  i = i + 2
end
if #fields == 0 then return 1 end
local prev, set = redis.call('HMGET', KEYS[2], unpack(fields)), {}
for j, f in ipairs(fields) do
  if at[j] > (tonumber(prev[j] or '0') or 0) then
    set[#set + 1], set[#set + 2] = f, at[j]
  end
end
if #set > 0 then redis.call('HSET', KEYS[2], unpack(set)) end
return 1
`)

// flushBatch is how many applications' counts one pipeline carries: one
// round trip for them all, small enough that a flush never holds a
// connection long.
const flushBatch = 256

func (s *Store) hourlyKey(id string, day int64) string {
	return s.opts.Prefix + ":{" + id + "}:hourly:" + strconv.FormatInt(day, 10)
}

// usageCall is one flushUsage call: an application's counts of one day.
type usageCall struct {
	id    string
	day   int64
	first bool // carries the totals and last-use times
	hours map[int64]int64
	keys  []string
	args  []any
}

// FlushUsage writes the usage counted since the last flush, in pipelines
// of flushBatch applications. Counts whose write fails stay buffered for
// the next one.
func (s *Store) FlushUsage(ctx context.Context) error {
	pending := s.usage.take()
	if len(pending) == 0 {
		return nil
	}
	calls := make([]usageCall, 0, len(pending))
	for id, p := range pending {
		// One call per day the hours fall in (almost always one).
		byDay := map[int64]map[int64]int64{}
		for h, n := range p.hours {
			day := h / 24
			if byDay[day] == nil {
				byDay[day] = map[int64]int64{}
			}
			byDay[day][h%24] = n
		}
		first := true
		for day, hours := range byDay {
			args := []any{0, 0, (day+1)*24*3600*1000 + hourlyKeep.Milliseconds(), len(hours), 0}
			for h, n := range hours {
				args = append(args, h, n)
			}
			if first {
				// The totals and last-use times go with the first call.
				args[0], args[1], args[4] = p.issued, ms(p.last), len(p.secrets)
				for sid, at := range p.secrets {
					args = append(args, "secret:"+sid, ms(at))
				}
			}
			calls = append(calls, usageCall{id: id, day: day, first: first, hours: hours,
				keys: []string{s.appKey(id), s.usageKey(id), s.hourlyKey(id, day)}, args: args})
			first = false
		}
	}
	failed := map[string]*appUsage{}
	var firstErr error
	var overall []issuedHour
	for batch := range slices.Chunk(calls, flushBatch) {
		written, errs := s.runUsageCalls(ctx, batch)
		for i, c := range batch {
			if errs[i] != nil {
				if firstErr == nil {
					firstErr = s.wrap(errs[i])
				}
				f := failed[c.id]
				if f == nil {
					f = &appUsage{hours: map[int64]int64{}}
					failed[c.id] = f
				}
				for h, n := range c.hours {
					f.hours[c.day*24+h] += n
				}
				if c.first {
					p := pending[c.id]
					f.issued, f.last, f.secrets = p.issued, p.last, p.secrets
				}
				continue
			}
			if written[i] {
				for h, n := range c.hours {
					overall = append(overall, issuedHour{c.id, c.day*24 + h, n})
				}
			}
		}
	}
	if len(failed) > 0 {
		s.usage.putBack(failed)
	}
	if err := s.flushOverall(ctx, overall); err != nil && firstErr == nil {
		firstErr = err
	}
	return firstErr
}

// runUsageCalls runs calls in one pipeline by EVALSHA, loading the script
// and running again the calls Redis answered NOSCRIPT (a restarted or new
// node: those ran nothing). It reports, per call, whether it wrote (the
// application exists) or the error it met.
func (s *Store) runUsageCalls(ctx context.Context, calls []usageCall) ([]bool, []error) {
	written, errs := make([]bool, len(calls)), make([]error, len(calls))
	todo := make([]int, len(calls))
	for i := range calls {
		todo[i] = i
	}
	for attempt := 0; len(todo) > 0; attempt++ {
		cmds := make([]*goredis.Cmd, len(todo))
		_, _ = s.rdb.Pipelined(ctx, func(p goredis.Pipeliner) error {
			for j, i := range todo {
				cmds[j] = flushUsage.EvalSha(ctx, p, calls[i].keys, calls[i].args...)
			}
			return nil
		})
		var again []int
		for j, i := range todo {
			n, err := cmds[j].Int()
			if err != nil && attempt == 0 && goredis.HasErrorPrefix(err, "NOSCRIPT") {
				again = append(again, i)
				continue
			}
			written[i], errs[i] = err == nil && n == 1, err
		}
		if len(again) > 0 {
			if err := flushUsage.Load(ctx, s.rdb).Err(); err != nil {
				for _, i := range again {
					errs[i] = err
				}
				again = nil
			}
		}
		todo = again
	}
	return written, errs
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
	for id, p := range s.usage.all() {
		for h, n := range p.hours {
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
// round trip, including what this process has counted but not yet
// flushed (other replicas' unflushed counts show after their next flush).
func (s *Store) GetUsages(ctx context.Context, ids []string) (map[string]store.Usage, error) {
	cmds := make([]*goredis.MapStringStringCmd, len(ids))
	_, err := s.rdb.Pipelined(ctx, func(p goredis.Pipeliner) error {
		for i, id := range ids {
			cmds[i] = p.HGetAll(ctx, s.usageKey(id))
		}
		return nil
	})
	if err != nil {
		return nil, s.wrap(err)
	}
	out := make(map[string]store.Usage, len(ids))
	for i, id := range ids {
		u := store.Usage{SecretLastUsed: map[string]time.Time{}}
		for k, v := range cmds[i].Val() {
			n, _ := strconv.ParseInt(v, 10, 64)
			switch {
			case k == "app":
				u.LastUsed = fromMS(n)
			case k == "issued":
				u.Issued = n
			case strings.HasPrefix(k, "secret:"):
				u.SecretLastUsed[strings.TrimPrefix(k, "secret:")] = fromMS(n)
			}
		}
		if p, ok := s.usage.peek(id); ok {
			u.Issued += p.issued
			if p.last.After(u.LastUsed) {
				u.LastUsed = p.last.UTC()
			}
			for sid, at := range p.secrets {
				if at.After(u.SecretLastUsed[sid]) {
					u.SecretLastUsed[sid] = at.UTC()
				}
			}
		}
		out[id] = u
	}
	return out, nil
}

// IssuedPerHour returns how many tokens the application was issued in each
// of the hours hours up to and including now's, oldest first (at most 48).
func (s *Store) IssuedPerHour(ctx context.Context, id string, hours int, now time.Time) ([]int64, error) {
	hours = min(max(hours, 1), int(hourlyKeep/time.Hour))
	last := now.Unix() / 3600
	firstHour := last - int64(hours) + 1
	days := []int64{}
	for d := firstHour / 24; d <= last/24; d++ {
		days = append(days, d)
	}
	cmds := make([]*goredis.MapStringStringCmd, len(days))
	_, err := s.rdb.Pipelined(ctx, func(p goredis.Pipeliner) error {
		for i, d := range days {
			cmds[i] = p.HGetAll(ctx, s.hourlyKey(id, d))
		}
		return nil
	})
	if err != nil {
		return nil, s.wrap(err)
	}
	out := make([]int64, hours)
	for i, d := range days {
		for k, v := range cmds[i].Val() {
			h, err1 := strconv.ParseInt(k, 10, 64)
			n, err2 := strconv.ParseInt(v, 10, 64)
			if idx := d*24 + h - firstHour; err1 == nil && err2 == nil && idx >= 0 && idx < int64(hours) {
				out[idx] += n
			}
		}
	}
	if p, ok := s.usage.peek(id); ok {
		for h, n := range p.hours {
			if idx := h - firstHour; idx >= 0 && idx < int64(hours) {
				out[idx] += n
			}
		}
	}
	return out, nil
}
