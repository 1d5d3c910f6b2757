//go:build faults

package deploy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/textparse"
	"github.com/prometheus/prometheus/util/teststorage"
	goredis "github.com/redis/go-redis/v9"

	"github.com/oauthd/oauthd/scopes"
	"github.com/oauthd/oauthd/server"
	"github.com/oauthd/oauthd/server/apps"
	"github.com/oauthd/oauthd/server/introspect"
	"github.com/oauthd/oauthd/server/metrics"
	"github.com/oauthd/oauthd/store"
	"github.com/oauthd/oauthd/store/redis"
)

// The preview's data comes from a real oauthd: two replicas of the server
// package, wired as cmd/oauthd's serve wires them (metrics, limits,
// application cache, revocation feed), on one miniredis. Half an hour of
// traffic is simulated, not waited for: each 15-second step sends that
// step's requests at once, then scrapes both replicas' registries into a
// TSDB with the step's simulated timestamp, as Prometheus would have.
// Redis's clock (TIME, which the quota and failure counters read) follows
// the simulated one; token lifetimes and lock-out lengths run on the wall
// clock, so no token expires and a lock-out lasts the rest of the run.

const (
	previewScrape = 15 * time.Second
	previewRun    = 30 * time.Minute
	previewJob    = "oauthd"
)

// previewStart is where the simulated clock starts: fixed, so every run
// covers the same half hour.
var previewStart = time.Date(2026, time.June, 1, 9, 0, 0, 0, time.UTC)

// previewLimits are the abuse limits of the run, small enough for its
// half hour to reach them. Rates count on Redis's (simulated) clock.
var previewLimits = store.LimitsConfig{
	ClientFailures: store.Rate{N: 5, Per: 10 * time.Minute},
	AddrFailures:   store.Rate{N: 20, Per: 10 * time.Minute},
	Lockout:        15 * time.Minute,
	MaxLockout:     time.Hour,
	Issue:          store.Rate{N: 300, Per: time.Hour},
	Introspect:     store.Rate{N: 60, Per: time.Minute},
}

// previewData is what a run leaves: the scraped series and the window
// they cover.
type previewData struct {
	db         *teststorage.TestStorage
	start, end time.Time
}

type simReplica struct {
	instance string
	mx       *metrics.Metrics
	handler  http.Handler
	url      string // a real listener, for the feed's long connections
	feed     *redis.Feed
}

// simClient is an application the traffic uses: a daemon that gets tokens
// or a resource server that introspects them.
type simClient struct {
	name, id, secret string
	addr             string   // where its requests come from
	rate             float64  // its requests a second, before the story changes it
	token            string   // its current access token
	old              []string // tokens it revoked
}

type simulation struct {
	t        *testing.T
	ctx      context.Context
	mini     *miniredis.Miniredis
	apps     *apps.Service
	replicas []*simReplica
	db       *teststorage.TestStorage
	rng      *rand.Rand
	now      time.Time
	// daemons get tokens; servers (resource servers) introspect them.
	// Slices, not maps: the run draws its randomness in their order.
	daemons, servers []*simClient
	// followers are the resource servers' feed connections, by name;
	// cancelling one closes it.
	followers map[string]context.CancelFunc
	// attempts counts the credential-stuffing run's guesses.
	attempts int
}

// simulate runs the preview's traffic and returns what was scraped.
func simulate(t *testing.T) previewData {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	s := &simulation{
		t: t, ctx: ctx, db: teststorage.New(t), rng: rand.New(rand.NewPCG(21, 2026)), now: previewStart,
		followers: map[string]context.CancelFunc{},
	}
	s.mini = miniredis.RunT(t)
	// go-redis logs each failed dial during the Redis restart to stderr.
	redis.SetLibraryLogger(slog.New(slog.DiscardHandler))
	s.mini.SetTime(s.now)
	for i := range 2 {
		s.replicas = append(s.replicas, s.startReplica(fmt.Sprintf("oauthd-%d:9090", i)))
	}
	st := redis.New(s.redisClient(), redis.Options{Prefix: previewJob})
	s.apps = apps.New(st, scopes.Default(), apps.Options{})

	// Daemons get a token now and then (well-behaved ones reuse each for
	// a while) and call the resource servers with it.
	for i, d := range []struct {
		name   string
		rate   float64
		scopes []string
	}{
		{"sms-sender", 0.05, []string{"sms"}},
		{"billing-worker", 0.035, []string{"account", "reports"}},
		{"campaign-scheduler", 0.045, []string{"sms", "groups", "templates"}},
		{"crm-sync", 0.03, []string{"groups", "optouts"}},
		{"report-cron", 0.02, []string{"reports"}},
		{"nightly-import", 0.01, []string{"groups"}},
	} {
		c := s.createApp(d.name, d.scopes)
		c.addr, c.rate = fmt.Sprintf("192.0.2.%d", 10+i), d.rate
		s.daemons = append(s.daemons, c)
		s.getToken(c)
	}
	for i, r := range []struct {
		name string
		rate float64
	}{{"sms-api", 0.6}, {"groups-api", 0.3}, {"reports-api", 0.2}} {
		c := s.createApp(r.name, []string{scopes.Introspect})
		c.addr, c.rate = fmt.Sprintf("198.51.100.%d", 10+i), r.rate
		s.servers = append(s.servers, c)
	}
	s.follow("sms-api/a", "sms-api", 0)
	s.follow("sms-api/b", "sms-api", 1)
	s.follow("groups-api/a", "groups-api", 1)
	s.waitFollowers(3)

	s.scrape()
	for at := time.Duration(0); at < previewRun; at += previewScrape {
		s.now = previewStart.Add(at + previewScrape)
		s.mini.SetTime(s.now)
		s.traffic(at)
		s.waitFeeds()
		s.scrape()
	}
	return previewData{db: s.db, start: previewStart, end: s.now}
}

// traffic sends one step's requests; at is when the step starts, from the
// start of the run. The story: steady traffic that swells and ebbs, Redis
// down from 5m to 5m45s, an administrator's edit at 7m, a new resource
// server pod following the feed at 8m, credential stuffing from 9m to 11m,
// an address spraying client ids at 12m, a daemon that stops caching its
// token from 13m to 21m (its quota put in monitor mode at 19m, while a
// fix ships), report-cron disabled at 18m, a pod leaving at
// 22m, a resource server that stops caching answers from 22m to 28m, and
// every token of billing-worker revoked at 27m.
func (s *simulation) traffic(at time.Duration) {
	const m = time.Minute
	between := func(from, to time.Duration) bool { return at >= from && at < to }
	load := 1 + 0.3*math.Sin(2*math.Pi*at.Minutes()/20)

	switch at {
	case 5 * m:
		s.mini.Close()
	case 5*m + 45*time.Second:
		// Close cancels miniredis's context and Restart does not make a
		// new one, so its blocking commands (the feed's XREAD) would
		// return at once, unanswered, ever after. Nothing runs while it
		// is closed (Close waits for every connection to end).
		s.mini.Ctx, s.mini.CtxCancel = context.WithCancel(context.Background())
		if err := s.mini.Restart(); err != nil {
			s.t.Fatal(err)
		}
	case 7 * m:
		s.update("groups-api", apps.ApplicationPatch{Description: ptr("Contact groups API (eu-west)")})
	case 8 * m:
		s.follow("reports-api/a", "reports-api", 0)
		s.waitFollowers(4)
	case 18 * m:
		s.update("report-cron", apps.ApplicationPatch{Enabled: ptr(false)})
	case 19 * m:
		s.update("nightly-import", apps.ApplicationPatch{QuotaMode: ptr(store.QuotaMonitor)})
	case 22 * m:
		s.followers["sms-api/a"]()
		s.waitFollowers(3)
	case 27 * m:
		if err := s.apps.RevokeTokens(s.ctx, s.app("billing-worker").id); err != nil {
			s.t.Fatal(err)
		}
	}

	for _, d := range s.daemons {
		rate := d.rate * load
		if d.name == "nightly-import" && between(13*m, 21*m) {
			rate = 1.5 // a new token for every message
		}
		for range s.count(rate) {
			s.getToken(d)
		}
		// A daemon that stops revokes the token it held, now and then.
		if s.count(0.01) > 0 {
			s.revoke(d)
		}
	}
	for _, r := range s.servers {
		rate := r.rate * load
		if r.name == "reports-api" && between(22*m, 28*m) {
			rate = 3 // a release that dropped its answer cache
		}
		for range s.count(rate) {
			s.introspect(r, s.presented())
		}
	}
	// Background failures: a stale secret, a decommissioned client.
	for range s.count(0.03) {
		s.askToken(s.app("crm-sync").id, "stale-secret", "192.0.2.40")
	}
	for range s.count(0.01) {
		s.askToken("retired-cron", "secret", "192.0.2.41")
	}
	if between(9*m, 11*m) {
		// Credential stuffing: guesses at billing-worker's secret, six
		// from each address before moving to the next.
		for range s.count(2) {
			s.askToken(s.app("billing-worker").id, "guess", fmt.Sprintf("203.0.113.%d", 1+s.attempts/6))
			s.attempts++
		}
	}
	if between(12*m, 13*m) {
		// One address tries client ids that do not exist.
		for i := range s.count(1) {
			s.askToken(fmt.Sprintf("guessed-%d", i), "guess", "203.0.113.200")
		}
	}
}

// app is the daemon or resource server called name.
func (s *simulation) app(name string) *simClient {
	for _, c := range append(slices.Clip(s.daemons), s.servers...) {
		if c.name == name {
			return c
		}
	}
	s.t.Fatalf("no application %s", name)
	return nil
}

// presented is a token a resource server is shown: mostly a daemon's
// current one, now and then one its daemon revoked or a garbled one.
func (s *simulation) presented() string {
	d := s.daemons[s.rng.IntN(len(s.daemons))]
	switch n := s.rng.Float64(); {
	case n < 0.02:
		return "garbled-" + fmt.Sprint(s.rng.Int())
	case n < 0.04 && len(d.old) > 0:
		return d.old[s.rng.IntN(len(d.old))]
	}
	return d.token
}

// count is how many of something happening rate times a second happen in
// one step: a Poisson draw.
func (s *simulation) count(rate float64) int {
	mean := rate * previewScrape.Seconds()
	if mean > 30 {
		return max(0, int(math.Round(mean+math.Sqrt(mean)*s.rng.NormFloat64())))
	}
	n, p, l := 0, 1.0, math.Exp(-mean)
	for {
		p *= s.rng.Float64()
		if p <= l {
			return n
		}
		n++
	}
}

// redisClient opens a client as serve does, but for the outage: time
// there is simulated, so a command to the closed Redis fails at once
// (max_retries=-1: no wall-clock backoff and second dial) and the pool
// never stops dialling (a pool_size no outage reaches: after pool_size
// failed dials go-redis fails every command until a probe once a second
// of wall clock gets through, so the restarted Redis went unused for up to
// a second, seconds of the test's time).
func (s *simulation) redisClient() goredis.UniversalClient {
	s.t.Helper()
	rdb, err := redis.NewClient("redis://" + s.mini.Addr() + "?max_retries=-1&pool_size=10000")
	if err != nil {
		s.t.Fatal(err)
	}
	s.t.Cleanup(func() { rdb.Close() })
	return rdb
}

// startReplica builds one oauthd replica as cmd/oauthd's serve does, on
// its own Redis client.
func (s *simulation) startReplica(instance string) *simReplica {
	s.t.Helper()
	rdb := s.redisClient()
	mx := metrics.New(metrics.Build{Version: "preview", Revision: "preview", GoVersion: "go"})
	mx.InstrumentRedis(rdb)
	st := redis.New(rdb, redis.Options{Prefix: previewJob, KeepExpired: time.Hour})
	mx.InstrumentAppCache(func() metrics.CacheStats {
		c := st.CacheStats()
		return metrics.CacheStats{Hits: c.Hits, Misses: c.Misses, Invalidations: c.Invalidations, Drops: c.Drops}
	})
	feed := st.NewFeed(redis.FeedOptions{})
	mx.InstrumentFeed(func() metrics.FeedStats {
		f := feed.Stats()
		return metrics.FeedStats{Subscribers: f.Subscribers, Events: f.Events, Dropped: f.Dropped}
	})
	s.background(func(ctx context.Context) { st.Run(ctx) })
	s.background(func(ctx context.Context) { feed.Run(ctx) })
	// Subscribing waits for the reader to know where the stream ends (it
	// adds the first entry to an empty one), so every replica's reader
	// starts after that entry and waitFeeds can count on it.
	sub, err := feed.Subscribe(s.ctx, "")
	if err != nil {
		s.t.Fatal(err)
	}
	sub.Close()
	svc := apps.New(st, scopes.Default(), apps.Options{})
	srv, err := server.New(server.Config{
		Issuer: "https://oauthd.example", Catalogue: svc, Observer: mx,
		Audit:          svc,
		Limits:         redis.NewLimits(rdb, previewJob, previewLimits),
		Feed:           feed,
		InactiveReason: true, Tombstone: time.Hour,
	}, st)
	if err != nil {
		s.t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	s.t.Cleanup(ts.Close)
	return &simReplica{instance: instance, mx: mx, handler: srv.Handler(), url: ts.URL, feed: feed}
}

// background runs f until the test ends, and waits for it then.
func (s *simulation) background(f func(context.Context)) {
	ctx, cancel := context.WithCancel(s.ctx)
	done := make(chan struct{})
	go func() { defer close(done); f(ctx) }()
	s.t.Cleanup(func() { cancel(); <-done })
}

func (s *simulation) createApp(name string, scopes []string) *simClient {
	s.t.Helper()
	a, secret, err := s.apps.Create(s.ctx, apps.NewApplication{Name: name, Scopes: scopes})
	if err != nil {
		s.t.Fatalf("creating %s: %v", name, err)
	}
	return &simClient{name: name, id: a.ClientID, secret: secret}
}

func (s *simulation) update(name string, p apps.ApplicationPatch) {
	s.t.Helper()
	if _, err := s.apps.Update(s.ctx, s.app(name).id, p); err != nil {
		s.t.Fatalf("updating %s: %v", name, err)
	}
}

func ptr[T any](v T) *T { return &v }

// post sends a form to a replica the load balancer picks, authenticated
// with HTTP Basic as id and secret, from addr.
func (s *simulation) post(path string, form url.Values, id, secret, addr string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodPost, path, strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.SetBasicAuth(id, secret)
	r.RemoteAddr = addr + ":40000"
	w := httptest.NewRecorder()
	s.replicas[s.rng.IntN(len(s.replicas))].handler.ServeHTTP(w, r)
	return w
}

// askToken asks for a token with the client credentials id and secret.
func (s *simulation) askToken(id, secret, addr string) *httptest.ResponseRecorder {
	return s.post("/oauth/token", url.Values{"grant_type": {"client_credentials"}}, id, secret, addr)
}

// getToken asks for a token as d, which keeps it when one is issued.
func (s *simulation) getToken(d *simClient) {
	w := s.askToken(d.id, d.secret, d.addr)
	if w.Code != http.StatusOK {
		return // refused: a quota, a disabled application, Redis away
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(w.Body).Decode(&tok); err != nil || tok.AccessToken == "" {
		s.t.Fatalf("%s: token answer %q: %v", d.name, w.Body, err)
	}
	d.token = tok.AccessToken
}

// revoke revokes d's current token and gets another.
func (s *simulation) revoke(d *simClient) {
	w := s.post("/oauth/revoke", url.Values{"token": {d.token}}, d.id, d.secret, d.addr)
	if w.Code == http.StatusOK {
		d.old = append(d.old, d.token)
		s.getToken(d)
	}
}

func (s *simulation) introspect(r *simClient, token string) {
	s.post("/oauth/introspect", url.Values{"token": {token}}, r.id, r.secret, r.addr)
}

// follow starts a resource server's feed connection to a replica, with
// the SDK that resource servers use.
func (s *simulation) follow(name, app string, replica int) {
	s.t.Helper()
	c := s.app(app)
	rs, err := introspect.New(introspect.Config{
		Endpoint: s.replicas[replica].url + "/oauth/introspect", FeedEndpoint: s.replicas[replica].url + server.FeedPath,
		FollowFeed: true, ClientID: c.id, ClientSecret: c.secret, Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		s.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(s.ctx)
	done := make(chan struct{})
	go func() { defer close(done); _ = rs.Run(ctx) }()
	s.followers[name] = cancel
	s.t.Cleanup(func() { cancel(); <-done })
}

// waitFollowers waits until the replicas count n feed subscribers, so the
// next scrape sees them.
func (s *simulation) waitFollowers(n int) {
	s.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := 0
		for _, r := range s.replicas {
			got += r.feed.Stats().Subscribers
		}
		if got == n {
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("%d feed subscribers after 10s, want %d", got, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// waitFeeds waits until every replica's feed reader has fanned out every
// entry of the stream but the first (see startReplica). A reader that
// lost Redis retries after a backoff of up to seconds of wall clock: in
// real time it is back within the step, and so it is here.
func (s *simulation) waitFeeds() {
	s.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		entries, err := s.mini.Stream(previewJob + ":feed")
		if err != nil {
			s.t.Fatal(err)
		}
		behind := ""
		for _, r := range s.replicas {
			if n := r.feed.Stats().Events; n != uint64(len(entries)-1) {
				behind = fmt.Sprintf("%s's feed reader fanned out %d of %d events", r.instance, n, len(entries)-1)
			}
		}
		if behind == "" {
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("after 10s, %s", behind)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// scrape reads every replica's /metrics as Prometheus would, adding the
// job and instance labels, and stores the samples at the simulated now.
func (s *simulation) scrape() {
	s.t.Helper()
	app := s.db.Appender(s.ctx)
	ts := s.now.UnixMilli()
	for _, r := range s.replicas {
		w := httptest.NewRecorder()
		r.mx.Handler().ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/metrics", nil))
		p, err := textparse.New(w.Body.Bytes(), w.Header().Get("Content-Type"), nil, textparse.ParserOptions{})
		if err != nil {
			s.t.Fatalf("scrape of %s: %v", r.instance, err)
		}
		var lset labels.Labels
		for {
			entry, err := p.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				s.t.Fatalf("scrape of %s: %v", r.instance, err)
			}
			if entry != textparse.EntrySeries {
				continue
			}
			p.Labels(&lset)
			_, _, v := p.Series()
			b := labels.NewBuilder(lset)
			b.Set("job", previewJob)
			b.Set("instance", r.instance)
			if _, err := app.Append(0, b.Labels(), ts, v); err != nil {
				s.t.Fatalf("storing %s: %v", lset, err)
			}
		}
	}
	if err := app.Commit(); err != nil {
		s.t.Fatal(err)
	}
}
