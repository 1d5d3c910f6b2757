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
	// XREAD a second, usage every 10 s).
	RoundTrips float64
	// Commands is per token, from INFO commandstats.
	Commands commandCost
}

// appsCost is the many-applications scenario's cost, counted before any
// load: First for tokens each its application's first (a new bucket, an
// application the cache has never seen), Steady for tokens of the same
// applications once those are out of the cache again (their buckets
// live). Steady is the figure the targets hold.
type appsCost struct {
	First, Steady issueCost
	Evicted       int // tokens issued between the two, to push the first ones out of the cache
}

// appsCosts measures appsCost on the first opts.StatTokens of many.
func (r *rig) appsCosts(ctx context.Context, many []credentials, sample int) (appsCost, error) {
	var c appsCost
	evict := many[sample : sample+redis.DefaultAppCacheSize+100]
	c.Evicted = len(evict)
	// A bucket boundary between the rounds would make the second one
	// start buckets too: start again once if one passed.
	for range 2 {
		bucket := store.ExpiryBucket(time.Now().Add(24*time.Hour), 24*time.Hour)
		var err error
		if c.First, err = r.issueCost(ctx, many[:sample]); err != nil {
			return c, err
		}
		// The tokens that push the first ones out of the cache are
		// flushed before the next count, so it holds its own only.
		if err := r.rdb.ConfigResetStat(ctx).Err(); err != nil {
			return c, fmt.Errorf("redis CONFIG RESETSTAT: %w", err)
		}
		if err := parallel(ctx, len(evict), clientConns, func(ctx context.Context, i int) error {
			_, err := r.oauthd.issue(ctx, evict[i])
			return err
		}); err != nil {
			return c, fmt.Errorf("issuing tokens: %w", err)
		}
		if err := r.awaitUsageFlush(ctx, len(evict)); err != nil {
			return c, err
		}
		if c.Steady, err = r.issueCost(ctx, many[:sample]); err != nil {
			return c, err
		}
		if store.ExpiryBucket(time.Now().Add(24*time.Hour), 24*time.Hour) == bucket {
			break
		}
	}
	return c, nil
}

// issueCost issues one token for each application and counts what that
// cost oauthd's Redis client and Redis, the usage flush that writes those
// applications' counts included: with applications asking about once a
// flush interval, as many do among 100,000 asking uniformly, the flush is
// a cost per token. One token an application is the worst case (each
// flushed for one token); a busier one shares its flush among its tokens.
func (r *rig) issueCost(ctx context.Context, apps []credentials) (issueCost, error) {
	c := issueCost{Tokens: len(apps)}
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
	if err := r.awaitUsageFlush(ctx, len(apps)); err != nil {
		return c, err
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
	c.Commands = perToken(calls, len(apps))
	c.RoundTrips = (after - before) / float64(len(apps))
	return c, nil
}

// awaitUsageFlush waits until oauthd's usage flush has written the counts
// of apps applications since the last CONFIG RESETSTAT: the flush script
// is the only user of HMGET, one per application. It is bounded by two
// flush intervals and a margin.
func (r *rig) awaitUsageFlush(ctx context.Context, apps int) error {
	deadline := time.Now().Add(2*redis.DefaultUsageFlushEvery + 5*time.Second)
	for {
		stats, err := info(ctx, r.rdb, "commandstats")
		if err != nil {
			return err
		}
		calls, err := commandCalls(stats)
		if err != nil {
			return err
		}
		if calls["hmget"] >= int64(apps) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("oauthd's usage flush wrote %d of %d applications' counts in %s (HMGET in INFO commandstats)",
				calls["hmget"], apps, 2*redis.DefaultUsageFlushEvery+5*time.Second)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
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
	if s.cost, err = r.appsCosts(ctx, s.many, opts.StatTokens); err != nil {
		return nil, err
	}
	st, first := s.cost.Steady, s.cost.First
	fmt.Fprintf(stdout, "redis:    %.2f round trips, %.2f commands per token of an application not cached, its bucket live (%d tokens counted); %.2f and %.2f for a bucket's first token\n",
		st.RoundTrips, st.Commands.Total, st.Tokens, first.RoundTrips, first.Commands.Total)
	// The applications appsCosts did not give a token get one each now.
	rest := s.many[opts.StatTokens+s.cost.Evicted:]
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
