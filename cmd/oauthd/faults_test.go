//go:build faults

// Fault tests on real processes: Redis down at start-up, Redis killed and
// restarted under load, a Sentinel failover, a Redis Cluster. They start
// redis-server, redis-sentinel and redis-cli on loopback ports and kill
// them at the end. `make test-faults` runs them (-tags faults); each prints
// its figures, which docs/operations.md quotes.
package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/oauthd/oauthd/store/redis/redistest"
)

// figure prints a measured figure both through the test log and as a
// plain line, so it shows in `go test` output with or without -v.
func figure(t *testing.T, format string, args ...any) {
	t.Helper()
	line := fmt.Sprintf(format, args...)
	t.Log(line)
	fmt.Printf("FIGURE %s: %s\n", t.Name(), line)
}

// result is one token request made by the load.
type result struct {
	start, end time.Time
	status     int // 0: no HTTP answer
	token      string
}

// load sends token requests from several workers until stopped.
type load struct {
	stop chan struct{}
	wg   sync.WaitGroup
	mu   sync.Mutex
	res  []result
}

func startLoad(t *testing.T, base string, a app, workers int) *load {
	t.Helper()
	l := &load{stop: make(chan struct{})}
	client := &http.Client{Timeout: 3 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: workers}}
	for range workers {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			for {
				select {
				case <-l.stop:
					return
				default:
				}
				r := result{start: time.Now()}
				req, _ := http.NewRequest(http.MethodPost, base+"/oauth/token", strings.NewReader("grant_type=client_credentials"))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				req.SetBasicAuth(a.ClientID, a.ClientSecret)
				if resp, err := client.Do(req); err == nil {
					b, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					r.status = resp.StatusCode
					if i := strings.Index(string(b), `"access_token":"`); i >= 0 {
						rest := string(b)[i+len(`"access_token":"`):]
						r.token = rest[:strings.IndexByte(rest, '"')]
					}
				}
				r.end = time.Now()
				l.mu.Lock()
				l.res = append(l.res, r)
				l.mu.Unlock()
				if r.status != 200 {
					time.Sleep(10 * time.Millisecond) // a client backing off, not a busy loop
				}
			}
		}()
	}
	return l
}

func (l *load) Stop() []result {
	close(l.stop)
	l.wg.Wait()
	return l.res
}

// okAfter waits until the load has had n successes after since.
func (l *load) okAfter(t *testing.T, since time.Time, n int, within time.Duration) time.Time {
	t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		l.mu.Lock()
		count, first := 0, time.Time{}
		for _, r := range l.res {
			if r.status == 200 && r.start.After(since) {
				if count == 0 {
					first = r.end
				}
				count++
			}
		}
		l.mu.Unlock()
		if count >= n {
			return first
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("fewer than %d tokens issued within %v of %v", n, within, since.Format(time.TimeOnly))
	return time.Time{}
}

// outage summarises the results around a fault at kill: the requests
// that failed after it, how they failed, and when tokens came back.
type outage struct {
	total, failed int
	byStatus      map[int]int
	recovered     time.Duration // kill → the first success after the last failure
	acked         []string      // tokens answered before the kill
}

func summarise(res []result, kill time.Time) outage {
	o := outage{byStatus: map[int]int{}}
	var lastFail time.Time
	for _, r := range res {
		o.total++
		if r.status == 200 && r.end.Before(kill) {
			o.acked = append(o.acked, r.token)
		}
		if r.status != 200 && r.end.After(kill) {
			o.failed++
			o.byStatus[r.status]++
			if r.end.After(lastFail) {
				lastFail = r.end
			}
		}
	}
	first := time.Time{}
	for _, r := range res {
		if r.status == 200 && r.start.After(lastFail) && r.start.After(kill) && (first.IsZero() || r.end.Before(first)) {
			first = r.end
		}
	}
	if !first.IsZero() {
		o.recovered = first.Sub(kill)
	}
	return o
}

// faultUnderLoad loads p with token requests, injects fault once 200
// tokens were issued, and waits until 100 more came after it (and at least
// a second after the fault began, past any failure detection). Every
// failed request must be a 503. It returns the summary and how many of the
// tokens answered before the fault are still active.
func faultUnderLoad(t *testing.T, p *program, a, rs app, fault func()) (outage, int) {
	t.Helper()
	l := startLoad(t, p.URL, a, 4)
	l.okAfter(t, time.Now(), 200, 10*time.Second)
	start := time.Now()
	fault()
	since := time.Now()
	if s := start.Add(time.Second); s.After(since) {
		since = s
	}
	l.okAfter(t, since, 100, 30*time.Second)
	o := summarise(l.Stop(), start)
	for code, n := range o.byStatus {
		if code != 503 {
			t.Errorf("%d requests failed with %d (0: no answer); want only 503s", n, code)
		}
	}
	if o.failed == 0 {
		t.Error("no request failed: the fault did not happen")
	}
	return o, stillActive(t, p.URL, rs, o.acked)
}

// stillActive introspects tokens as rs and counts the active ones.
func stillActive(t *testing.T, base string, rs app, tokens []string) int {
	t.Helper()
	n := 0
	for _, tok := range tokens {
		resp := postForm(t, base+"/oauth/introspect", url.Values{"token": {tok}}.Encode(), basicAuth(rs.ClientID, rs.ClientSecret))
		body := getJSON(t, resp)
		if resp.StatusCode != 200 {
			t.Fatalf("introspection: %d %v", resp.StatusCode, body)
		}
		if body["active"] == true {
			n++
		}
	}
	return n
}

// waitReady polls /health/ready (bounded) until it answers 200.
func waitReady(t *testing.T, base string, within time.Duration) time.Time {
	t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		if resp, err := http.Get(base + "/health/ready"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return time.Now()
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s/health/ready not 200 within %v", base, within)
	return time.Time{}
}

func status(t *testing.T, u string) int {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// startRedis is a redis-server that writes every command to its AOF
// before answering (appendfsync always), so what it acknowledged survives
// a kill: the test measures oauthd, not Redis's durability window.
func startRedis(t *testing.T, extra ...string) *redistest.Process {
	return redistest.StartProcess(t, "redis-server", "Ready to accept connections",
		append([]string{"--save", "", "--appendonly", "yes", "--appendfsync", "always"}, extra...)...)
}

// TestFaultRedisDownAtStartup: oauthd starts before its Redis, serves
// 503s and reports not ready, then serves by itself once Redis is up.
func TestFaultRedisDownAtStartup(t *testing.T) {
	redistest.NeedBinaries(t, "redis-server")
	rp := startRedis(t)
	flags := []string{"--redis-url", "redis://" + rp.Addr()}
	a := createAppOn(t, flags, "--name", "early", "--scopes", "sms")
	rp.Kill()

	p := startOAuthd(t, nil, flags...)
	if code := status(t, p.URL+"/health/alive"); code != 200 {
		t.Fatalf("alive while Redis is down: %d", code)
	}
	if code := status(t, p.URL+"/health/ready"); code != 503 {
		t.Fatalf("ready while Redis is down: %d", code)
	}
	resp := postForm(t, p.URL+"/oauth/token", "grant_type=client_credentials", basicAuth(a.ClientID, a.ClientSecret))
	if resp.Body.Close(); resp.StatusCode != 503 {
		t.Fatalf("token while Redis is down: %d", resp.StatusCode)
	}
	// Let oauthd back off a few times (the log says so) before Redis comes.
	waitFor(t, 10*time.Second, "three waiting lines", func() bool {
		return strings.Count(p.Logs.String(), `"msg":"waiting for Redis"`) >= 3
	})
	rp.Restart()
	up := time.Now()
	ready := waitReady(t, p.URL, 15*time.Second)
	resp = postForm(t, p.URL+"/oauth/token", "grant_type=client_credentials", basicAuth(a.ClientID, a.ClientSecret))
	if resp.Body.Close(); resp.StatusCode != 200 {
		t.Fatalf("token after Redis came up: %d", resp.StatusCode)
	}
	waitFor(t, 10*time.Second, "the reachable line", func() bool { return contains(p.Logs.String(), `"msg":"redis reachable"`) })
	figure(t, "oauthd started with Redis down: alive 200, ready 503, token 503; Redis up → ready and issuing in %.2fs (readiness asks Redis itself; the start-up log line follows within the backoff, at most 5s)", ready.Sub(up).Seconds())
}

// TestFaultRedisRestartUnderLoad: Redis is killed under load and started
// again 2s later. While it is down every failed request is a 503; tokens
// come back by themselves, and the tokens answered before still work.
func TestFaultRedisRestartUnderLoad(t *testing.T) {
	redistest.NeedBinaries(t, "redis-server")
	rp := startRedis(t)
	flags := []string{"--redis-url", "redis://" + rp.Addr()}
	a := createAppOn(t, flags, "--name", "daemon", "--scopes", "sms")
	rs := createAppOn(t, flags, "--name", "rs", "--scopes", "tokens:introspect", "--lifetime", "never")
	p := startOAuthd(t, nil, flags...)

	var down time.Duration
	o, active := faultUnderLoad(t, p, a, rs, func() {
		kill := time.Now()
		rp.Kill()
		time.Sleep(2 * time.Second) // the outage being measured, not a synchronisation
		rp.Restart()
		down = time.Since(kill)
	})
	if active != len(o.acked) {
		t.Errorf("%d of %d tokens answered before the kill are still active", active, len(o.acked))
	}
	figure(t, "%d requests, %d failed during the outage, all 503: %v; Redis down 2s, tokens issued again %.2fs after the kill (%.2fs after Redis restarted); %d/%d tokens answered before the kill still active",
		o.total, o.failed, o.byStatus, o.recovered.Seconds(), (o.recovered - down).Seconds(), active, len(o.acked))
}

// TestFaultSentinelFailover: a primary, a replica and three sentinels;
// the primary is killed under load and the sentinels promote the replica.
func TestFaultSentinelFailover(t *testing.T) {
	redistest.NeedBinaries(t, "redis-server", "redis-sentinel")
	primary := startRedis(t)
	replica := startRedis(t, "--replicaof", "127.0.0.1", primary.Port)
	waitFor(t, 15*time.Second, "replica in sync", func() bool {
		return strings.Contains(info(replica.Addr(), "replication"), "master_link_status:up")
	})
	var sentinels []*redistest.Process
	var addrs []string
	for range 3 {
		dir := t.TempDir()
		conf := filepath.Join(dir, "sentinel.conf")
		body := fmt.Sprintf("sentinel monitor mymaster 127.0.0.1 %s 2\nsentinel down-after-milliseconds mymaster 1000\nsentinel failover-timeout mymaster 10000\nsentinel parallel-syncs mymaster 1\n", primary.Port)
		if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		s := redistest.StartProcess(t, "redis-sentinel", "+monitor master mymaster", conf)
		sentinels = append(sentinels, s)
		addrs = append(addrs, s.Addr())
	}
	// Every sentinel must know the other two before a failover can be
	// agreed: they find each other through the primary, every 2s.
	for _, s := range sentinels {
		waitFor(t, 30*time.Second, "sentinels know each other", func() bool {
			c := goredis.NewSentinelClient(&goredis.Options{Addr: s.Addr()})
			defer c.Close()
			m, err := c.Master(context.Background(), "mymaster").Result()
			return err == nil && m["num-other-sentinels"] == "2"
		})
	}
	flags := []string{"--redis-sentinel-master", "mymaster", "--redis-sentinel-addrs", strings.Join(addrs, ",")}
	a := createAppOn(t, flags, "--name", "daemon", "--scopes", "sms")
	rs := createAppOn(t, flags, "--name", "rs", "--scopes", "tokens:introspect", "--lifetime", "never")
	p := startOAuthd(t, nil, flags...)

	o, active := faultUnderLoad(t, p, a, rs, primary.Kill)
	if !strings.Contains(info(replica.Addr(), "replication"), "role:master") {
		t.Fatal("the replica was not promoted")
	}
	figure(t, "%d requests; %d failed during the failover (%v); tokens issued again %.2fs after the primary was killed (sentinel down-after 1s); %d/%d tokens acknowledged before the kill still active (asynchronous replication: the last writes before a crash can be lost)",
		o.total, o.failed, o.byStatus, o.recovered.Seconds(), active, len(o.acked))
	if active < len(o.acked)*9/10 {
		t.Errorf("only %d of %d acknowledged tokens survived the failover", active, len(o.acked))
	}
}

// startCluster starts six cluster-enabled redis-servers and joins them as
// three primaries with one replica each.
func startCluster(t *testing.T) (nodes []*redistest.Process, addrs []string) {
	t.Helper()
	redistest.NeedBinaries(t, "redis-server", "redis-cli")
	for range 6 {
		n := redistest.StartProcess(t, "redis-server", "Ready to accept connections",
			"--cluster-enabled", "yes", "--cluster-config-file", "{dir}/nodes.conf", "--cluster-node-timeout", "1000",
			"--save", "", "--appendonly", "yes", "--appendfsync", "always")
		nodes = append(nodes, n)
		addrs = append(addrs, n.Addr())
	}
	cmd := exec.Command("redis-cli", append(append([]string{"--cluster", "create"}, addrs...), "--cluster-replicas", "1", "--cluster-yes")...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("redis-cli --cluster create: %v\n%s", err, out)
	}
	for _, n := range nodes {
		waitFor(t, 30*time.Second, "cluster_state:ok on "+n.Addr(), func() bool {
			return strings.Contains(clusterInfo(n.Addr()), "cluster_state:ok")
		})
		// A replica that never synced refuses to fail over ("disconnected
		// from master for longer than allowed"): wait for every link.
		waitFor(t, 30*time.Second, "replication link on "+n.Addr(), func() bool {
			r := info(n.Addr(), "replication")
			return strings.Contains(r, "role:master") || strings.Contains(r, "master_link_status:up")
		})
	}
	return nodes, addrs
}

// TestFaultClusterEndToEnd runs the whole end-to-end suite on a
// three-primary Redis Cluster with replicas.
func TestFaultClusterEndToEnd(t *testing.T) {
	nodes, addrs := startCluster(t)
	endToEnd(t, []string{"--redis-cluster-addrs", strings.Join(addrs, ",")}, func() {
		for _, n := range nodes {
			n.Kill()
		}
	})
}

// TestFaultClusterPrimaryKilled kills the primary that holds the loaded
// application's slot; its replica is promoted.
func TestFaultClusterPrimaryKilled(t *testing.T) {
	nodes, addrs := startCluster(t)
	flags := []string{"--redis-cluster-addrs", strings.Join(addrs, ",")}
	a := createAppOn(t, flags, "--name", "daemon", "--scopes", "sms")
	rs := createAppOn(t, flags, "--name", "rs", "--scopes", "tokens:introspect", "--lifetime", "never")
	p := startOAuthd(t, nil, flags...)

	// The primary serving the daemon's {client_id} slot.
	cc := goredis.NewClusterClient(&goredis.ClusterOptions{Addrs: addrs})
	defer cc.Close()
	ctx := context.Background()
	key := "oauthd:{" + a.ClientID + "}:app"
	slot, err := cc.ClusterKeySlot(ctx, key).Result()
	if err != nil {
		t.Fatal(err)
	}
	var owner string
	slots, err := cc.ClusterSlots(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range slots {
		if int64(s.Start) <= slot && slot <= int64(s.End) {
			owner = s.Nodes[0].Addr
		}
	}
	var victim *redistest.Process
	for _, n := range nodes {
		if n.Addr() == owner {
			victim = n
		}
	}
	if victim == nil {
		t.Fatalf("no node owns slot %d (%v)", slot, slots)
	}

	t.Cleanup(func() {
		if t.Failed() {
			for _, n := range nodes {
				if n != victim {
					c := goredis.NewClient(&goredis.Options{Addr: n.Addr()})
					out, _ := c.ClusterNodes(ctx).Result()
					c.Close()
					t.Logf("cluster nodes seen from %s:\n%s", n.Addr(), out)
					break
				}
			}
			logs := p.Logs.String()
			for _, line := range strings.Split(logs, "\n") {
				if !strings.Contains(line, "http request") {
					t.Log(line)
				}
			}
		}
	})
	o, active := faultUnderLoad(t, p, a, rs, victim.Kill)
	figure(t, "%d requests; %d failed while the slot's primary was down (%v); tokens issued again %.2fs after the kill (cluster-node-timeout 1s); %d/%d tokens acknowledged before still active",
		o.total, o.failed, o.byStatus, o.recovered.Seconds(), active, len(o.acked))
	if active < len(o.acked)*9/10 {
		t.Errorf("only %d of %d acknowledged tokens survived the failover", active, len(o.acked))
	}
}

func info(addr, section string) string {
	c := goredis.NewClient(&goredis.Options{Addr: addr})
	defer c.Close()
	s, _ := c.Info(context.Background(), section).Result()
	return s
}

func clusterInfo(addr string) string {
	c := goredis.NewClient(&goredis.Options{Addr: addr})
	defer c.Close()
	s, _ := c.ClusterInfo(context.Background()).Result()
	return s
}

// TestFaultBackupRestore is the documented backup: SAVE on the running
// Redis, copy dump.rdb, start a fresh Redis on the copy. Applications and
// tokens issued before the backup work against the restored one.
func TestFaultBackupRestore(t *testing.T) {
	redistest.NeedBinaries(t, "redis-server")
	src := redistest.StartProcess(t, "redis-server", "Ready to accept connections", "--save", "", "--appendonly", "no")
	flags := []string{"--redis-url", "redis://" + src.Addr()}
	a := createAppOn(t, flags, "--name", "daemon", "--scopes", "sms")
	rs := createAppOn(t, flags, "--name", "rs", "--scopes", "tokens:introspect", "--lifetime", "never")
	p := startOAuthd(t, nil, flags...)
	var tokens []string
	for range 50 {
		resp := postForm(t, p.URL+"/oauth/token", "grant_type=client_credentials", basicAuth(a.ClientID, a.ClientSecret))
		tokens = append(tokens, getJSON(t, resp)["access_token"].(string))
	}
	// The backup, as docs/operations.md gives it.
	c := goredis.NewClient(&goredis.Options{Addr: src.Addr()})
	defer c.Close()
	if err := c.Save(context.Background()).Err(); err != nil {
		t.Fatal(err)
	}
	dump, err := os.ReadFile(filepath.Join(src.Dir, "dump.rdb"))
	if err != nil {
		t.Fatal(err)
	}
	src.Kill()

	dst := redistest.StartProcess(t, "redis-server", "Ready to accept connections", "--save", "", "--appendonly", "no",
		"--dbfilename", "restored.rdb")
	dst.Kill()
	if err := os.WriteFile(filepath.Join(dst.Dir, "restored.rdb"), dump, 0o600); err != nil {
		t.Fatal(err)
	}
	dst.Restart()
	q := startOAuthd(t, nil, "--redis-url", "redis://"+dst.Addr())
	active := stillActive(t, q.URL, rs, tokens)
	if active != len(tokens) {
		t.Errorf("%d of %d tokens active after the restore", active, len(tokens))
	}
	resp := postForm(t, q.URL+"/oauth/token", "grant_type=client_credentials", basicAuth(a.ClientID, a.ClientSecret))
	if resp.Body.Close(); resp.StatusCode != 200 {
		t.Errorf("token from the restored Redis: %d", resp.StatusCode)
	}
	figure(t, "backup with SAVE (%d bytes of dump.rdb), restored into a fresh redis-server: %d/%d tokens active, the application gets new tokens", len(dump), active, len(tokens))
}
