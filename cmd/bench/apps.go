package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/oauthd/oauthd/server/credential"
	"github.com/oauthd/oauthd/store"
	"github.com/oauthd/oauthd/store/redis"
)

// The many-applications scenario (issue 23): token issue for applications
// asked uniformly, far more of them than oauthd's application cache
// holds (redis.app_cache_size, 10,000), against a thousand it holds
// every one of.

// fewApps is the comparison's base: applications the cache holds.
const fewApps = 1000

// oauthdPrefix is the key prefix of the oauthd the rig starts (its
// default redis.prefix).
const oauthdPrefix = "oauthd"

// appsScenario is the many-applications scenario's set-up: the
// applications and the files of their credentials wrk reads.
type appsScenario struct {
	few, many         []credentials
	fewFile, manyFile string
	cost              appsCost
	memory            appsMemory
}

// appsMemory is what applications cost Redis (the capacity model):
// used_memory around creating the scenario's applications, and around
// giving each of those that had none one token (its bucket, its place in
// the bucket index, the token).
type appsMemory struct {
	Apps                int
	Before, Created     int64
	Tokened             int // applications given their first token
	BeforeTok, AfterTok int64
}

// PerApp is Redis's bytes per application record.
func (m appsMemory) PerApp() float64 { return perEach(m.Created-m.Before, m.Apps) }

// PerFirstToken is Redis's bytes per application's first live token:
// the token and its application's bucket and index.
func (m appsMemory) PerFirstToken() float64 { return perEach(m.AfterTok-m.BeforeTok, m.Tokened) }

func perEach(bytes int64, n int) float64 {
	if n <= 0 {
		return 0
	}
	return float64(bytes) / float64(n)
}

// createApps makes n applications as the admin API makes them (scopes sms
// and groups, 24h tokens, one secret), straight into Redis through the
// store package and concurrently: through the admin API 100,000 would
// take minutes.
func createApps(ctx context.Context, rdb goredis.UniversalClient, name string, n int) ([]credentials, error) {
	st := redis.New(rdb, redis.Options{Prefix: oauthdPrefix})
	out := make([]credentials, n)
	now := time.Now().UTC()
	err := parallel(ctx, n, 4*clientConns, func(ctx context.Context, i int) error {
		c := credentials{ID: credential.NewClientID(), Secret: credential.NewSecret()}
		out[i] = c
		return st.CreateApplication(ctx, store.Application{
			ClientID: c.ID, Name: fmt.Sprintf("%s-%d", name, i), Scopes: []string{"sms", "groups"},
			TokenLifetime: 24 * time.Hour, Enabled: true, CreatedAt: now, UpdatedAt: now,
			Secrets: []store.Secret{{ID: credential.NewID(), Digest: store.Sum(c.Secret), CreatedAt: now}},
		})
	})
	if err != nil {
		return nil, fmt.Errorf("creating %d applications in Redis: %w", n, err)
	}
	return out, nil
}

// writeCredentials writes one Authorization value a line, for tokens.lua.
func writeCredentials(path string, apps []credentials) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	for _, a := range apps {
		fmt.Fprintln(w, a.basic())
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// issueCost is what issuing tokens, one per application given, cost.
type issueCost struct {
	Tokens int
	// RoundTrips is per token: the commands and pipelines oauthd's Redis
	// client sent (its oauthd_redis_command_duration_seconds counts),
	// with the little it sends meanwhile for other reasons (the feed's
	// XREAD a second).
	RoundTrips float64
	// Commands is per token, from INFO commandstats, the token's usage
	// count included (the token script's HINCRBY).
	Commands commandCost
}

// appsCost is the many-applications scenario's cost, counted before any
// load: First for tokens each its application's first (a new bucket, an
// application the cache has never seen, the first of its hour), Steady for
// tokens of the same applications once those are out of the cache again
// (their buckets live, the same hour). Steady is the figure the targets
// hold. Flush is the overall counts' write (the dashboard's overview), a
// cost per flush interval, not per token.
type appsCost struct {
	First, Steady issueCost
	Evicted       int // tokens issued between the two, to push the first ones out of the cache
	Flush         flushCost
}

// flushCost is one overall usage flush: its commands, for the
// applications it counted.
type flushCost struct {
	Commands commandCost // Total is the flush's, not per token
	Apps     int         // applications that got tokens since the flush before
}

// appsRounds is how many times appsCosts may count its rounds: a bucket
// or an hour boundary between them makes it count again.
const appsRounds = 3

// appsCosts measures appsCost on sample applications of many: the first
// sample, or the next for each time it counts again, so that the first
// round's tokens are always their applications' first. Used reports how
// many of many it gave tokens (the first ones).
func (r *rig) appsCosts(ctx context.Context, many []credentials, sample int) (c appsCost, used int, err error) {
	evict := many[appsRounds*sample : appsRounds*sample+redis.DefaultAppCacheSize+100]
	c.Evicted = len(evict)
	used = appsRounds*sample + len(evict)
	// A bucket or an hour boundary between the rounds would make the
	// second one start buckets, or count its tokens as its hour's first,
	// too: start again, with other applications, if one passed.
	period := func() string {
		now := time.Now()
		return fmt.Sprint(store.ExpiryBucket(now.Add(24*time.Hour), 24*time.Hour), now.Unix()/3600)
	}
	for round := range appsRounds {
		apps := many[round*sample : (round+1)*sample]
		at := period()
		if c.First, err = r.issueCost(ctx, apps); err != nil {
			return c, used, err
		}
		if err := parallel(ctx, len(evict), clientConns, func(ctx context.Context, i int) error {
			_, err := r.oauthd.issue(ctx, evict[i])
			return err
		}); err != nil {
			return c, used, fmt.Errorf("issuing tokens: %w", err)
		}
		if c.Steady, err = r.issueCost(ctx, apps); err != nil {
			return c, used, err
		}
		if period() == at {
			break
		}
	}
	c.Flush, err = r.flushCost(ctx, sample+len(evict))
	return c, used, err
}

// flushes is how many overall usage flushes commandstats show: each ends
// with one ZREMRANGEBYRANK per hour it wrote, and nothing else sends one.
func flushes(calls map[string]int64) int64 { return calls["zremrangebyrank"] }

// issueCost issues one token for each application and counts what that
// cost oauthd's Redis client and Redis. The overall usage flush (every
// 10 s, whatever the number of tokens: flushCost) is not a cost of these
// tokens: a count it fell into is made again, at most twice.
func (r *rig) issueCost(ctx context.Context, apps []credentials) (issueCost, error) {
	c := issueCost{Tokens: len(apps)}
	for attempt := 0; ; attempt++ {
		before, err := r.oauthdRoundTrips(ctx)
		if err != nil {
			return c, err
		}
		if err := r.rdb.ConfigResetStat(ctx).Err(); err != nil {
			return c, fmt.Errorf("redis CONFIG RESETSTAT: %w", err)
		}
		if err := parallel(ctx, len(apps), clientConns, func(ctx context.Context, i int) error {
			_, err := r.oauthd.issue(ctx, apps[i])
			return err
		}); err != nil {
			return c, fmt.Errorf("issuing tokens: %w", err)
		}
		stats, err := info(ctx, r.rdb, "commandstats")
		if err != nil {
			return c, err
		}
		after, err := r.oauthdRoundTrips(ctx)
		if err != nil {
			return c, err
		}
		calls, err := commandCalls(stats)
		if err != nil {
			return c, err
		}
		if flushes(calls) > 0 && attempt < 2 {
			continue
		}
		c.Commands = perToken(calls, len(apps))
		c.RoundTrips = (after - before) / float64(len(apps))
		return c, nil
	}
}

// flushCost waits for oauthd's next overall usage flush and counts its
// commands (nothing else is sent meanwhile but what notPerToken leaves
// out). It is bounded by two flush intervals and a
// margin.
func (r *rig) flushCost(ctx context.Context, apps int) (flushCost, error) {
	wait := 2*redis.DefaultUsageFlushEvery + 5*time.Second
	deadline := time.Now().Add(wait)
	if err := r.rdb.ConfigResetStat(ctx).Err(); err != nil {
		return flushCost{}, fmt.Errorf("redis CONFIG RESETSTAT: %w", err)
	}
	for {
		stats, err := info(ctx, r.rdb, "commandstats")
		if err != nil {
			return flushCost{}, err
		}
		calls, err := commandCalls(stats)
		if err != nil {
			return flushCost{}, err
		}
		if flushes(calls) > 0 {
			return flushCost{Commands: perToken(calls, 1), Apps: apps}, nil
		}
		if time.Now().After(deadline) {
			return flushCost{}, fmt.Errorf("oauthd wrote no overall usage counts in %s (no ZREMRANGEBYRANK in INFO commandstats)", wait)
		}
		select {
		case <-ctx.Done():
			return flushCost{}, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// oauthdRoundTrips reads, from oauthd's /metrics, how many commands and
// pipelines its Redis client has sent.
func (r *rig) oauthdRoundTrips(ctx context.Context) (float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.oauthdURL+"/metrics", nil)
	if err != nil {
		return 0, err
	}
	resp, err := r.http.Do(req)
	if err != nil {
		return 0, fmt.Errorf("oauthd /metrics: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("oauthd /metrics: status %d", resp.StatusCode)
	}
	return roundTripsMetric(resp.Body)
}

// roundTripsMetric sums the counts of oauthd_redis_command_duration_seconds,
// which has one series per command ("pipeline" for a pipeline), in the
// Prometheus text format.
func roundTripsMetric(r io.Reader) (float64, error) {
	const name = "oauthd_redis_command_duration_seconds_count{"
	var sum float64
	found := false
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name) {
			continue
		}
		v, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
		if err != nil {
			return 0, fmt.Errorf("oauthd /metrics: bad line %q", line)
		}
		sum, found = sum+v, true
	}
	if err := sc.Err(); err != nil {
		return 0, fmt.Errorf("oauthd /metrics: %w", err)
	}
	if !found {
		return 0, fmt.Errorf("oauthd /metrics has no %s...} series", strings.TrimSuffix(name, "{"))
	}
	return sum, nil
}

// manyApps sets the scenario up: the applications, their credentials'
// files, and what their tokens cost (appsCosts).
func (r *rig) manyApps(ctx context.Context, dir string, opts options, stdout io.Writer) (*appsScenario, error) {
	start := time.Now()
	s := &appsScenario{fewFile: filepath.Join(dir, "apps-few.txt"), manyFile: filepath.Join(dir, "apps-many.txt")}
	var err error
	if s.few, err = createApps(ctx, r.rdb, "bench-few", fewApps); err != nil {
		return nil, err
	}
	s.memory.Apps = opts.Apps
	if s.memory.Before, err = infoInt(ctx, r.rdb, "memory", "used_memory"); err != nil {
		return nil, err
	}
	if s.many, err = createApps(ctx, r.rdb, "bench-many", opts.Apps); err != nil {
		return nil, err
	}
	if s.memory.Created, err = infoInt(ctx, r.rdb, "memory", "used_memory"); err != nil {
		return nil, err
	}
	for path, apps := range map[string][]credentials{s.fewFile: s.few, s.manyFile: s.many} {
		if err := writeCredentials(path, apps); err != nil {
			return nil, err
		}
	}
	fmt.Fprintf(stdout, "apps:     %d and %d applications created in Redis in %.1fs\n", fewApps, opts.Apps, time.Since(start).Seconds())
	var used int
	if s.cost, used, err = r.appsCosts(ctx, s.many, opts.StatTokens); err != nil {
		return nil, err
	}
	st, first := s.cost.Steady, s.cost.First
	fmt.Fprintf(stdout, "redis:    %.2f round trips, %.2f commands per token of an application not cached, its bucket live (%d tokens counted); %.2f and %.2f for a bucket's and an hour's first token\n",
		st.RoundTrips, st.Commands.Total, st.Tokens, first.RoundTrips, first.Commands.Total)
	fmt.Fprintf(stdout, "redis:    the overall usage flush (every %s, for the dashboard's overview): %.0f commands in one round trip, %d applications counted since the one before\n",
		redis.DefaultUsageFlushEvery, s.cost.Flush.Commands.Total, s.cost.Flush.Apps)
	// The applications appsCosts did not give a token get one each now.
	rest := s.many[used:]
	if s.memory.BeforeTok, err = infoInt(ctx, r.rdb, "memory", "used_memory"); err != nil {
		return nil, err
	}
	if err := parallel(ctx, len(rest), clientConns, func(ctx context.Context, i int) error {
		_, err := r.oauthd.issue(ctx, rest[i])
		return err
	}); err != nil {
		return nil, fmt.Errorf("issuing tokens: %w", err)
	}
	if s.memory.AfterTok, err = infoInt(ctx, r.rdb, "memory", "used_memory"); err != nil {
		return nil, err
	}
	s.memory.Tokened = len(rest)
	fmt.Fprintf(stdout, "redis:    %.0f bytes per application (%d created), %.0f more for its first live token, bucket and index included (%d applications)\n",
		s.memory.PerApp(), s.memory.Apps, s.memory.PerFirstToken(), s.memory.Tokened)
	return s, nil
}
