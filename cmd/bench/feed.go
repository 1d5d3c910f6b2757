package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// The fan-out benchmark of issue 11 (make bench ARGS="-feed 1000"): the
// token endpoint's p99 with and without N resource servers following the
// revocation feed of the same oauthd, while application changes publish
// events at -feed-rate per second in both runs. Pairs alternate the order,
// as the other comparisons do; the subscribers connect before each "with"
// run and leave after it.

// feedSubscribers holds N open feed connections, counting what they read.
type feedSubscribers struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup
	events atomic.Int64
	failed atomic.Int64
}

// subscribe opens n feed connections as caller and returns once each has
// read its "ready" event.
func subscribe(ctx context.Context, url string, caller credentials, n int) (*feedSubscribers, error) {
	ctx, cancel := context.WithCancel(ctx)
	s := &feedSubscribers{cancel: cancel}
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: -1, DisableCompression: true}}
	ready := make(chan error, n)
	for range n {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
			req.Header.Set("Authorization", caller.basic())
			req.Header.Set("Accept", "text/event-stream")
			resp, err := hc.Do(req)
			if err != nil {
				ready <- err
				return
			}
			defer resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				ready <- fmt.Errorf("feed answered %s", resp.Status)
				return
			}
			sc := bufio.NewScanner(resp.Body)
			signalled := false
			for sc.Scan() {
				line := sc.Text()
				switch {
				case line == "event: ready" && !signalled:
					signalled = true
					ready <- nil
				case strings.HasPrefix(line, "event: application."):
					s.events.Add(1)
				}
			}
			if ctx.Err() == nil {
				s.failed.Add(1)
			}
			if !signalled {
				ready <- fmt.Errorf("feed connection ended before ready: %v", sc.Err())
			}
		}()
	}
	deadline := time.After(60 * time.Second)
	for range n {
		select {
		case err := <-ready:
			if err != nil {
				s.close()
				return nil, err
			}
		case <-deadline:
			s.close()
			return nil, fmt.Errorf("feed subscribers not ready within 60s")
		}
	}
	return s, nil
}

func (s *feedSubscribers) close() { s.cancel(); s.wg.Wait() }

// churn publishes feed events at rate per second by flipping the scopes of
// app through the admin API, until ctx is done; it returns how many.
func (c *oauthdClient) churn(ctx context.Context, id string, rate int) (int64, error) {
	var n int64
	if rate == 0 {
		<-ctx.Done()
		return 0, nil
	}
	t := time.NewTicker(time.Second / time.Duration(rate))
	defer t.Stop()
	scopes := [][]string{{"sms"}, {"sms", "groups"}}
	for {
		select {
		case <-ctx.Done():
			return n, nil
		case <-t.C:
		}
		body, _ := json.Marshal(map[string]any{"scopes": scopes[n%2]})
		req, err := http.NewRequestWithContext(ctx, http.MethodPatch, c.base+"/admin/v1/applications/"+id, strings.NewReader(string(body)))
		if err != nil {
			return n, err
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+c.adminKey)
		resp, err := c.http.Do(req)
		if err != nil {
			if ctx.Err() != nil {
				return n, nil
			}
			return n, err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return n, fmt.Errorf("admin PATCH answered %s", resp.Status)
		}
		n++
	}
}

// feedBench runs the fan-out comparison and prints its verdict.
func (r *rig) feedBench(ctx context.Context, ps *procs, dir string, opts options, w io.Writer) error {
	scripts, err := writeScripts(dir)
	if err != nil {
		return err
	}
	churned, err := r.oauthd.createApp(ctx, "bench-churn", []string{"sms"})
	if err != nil {
		return err
	}
	feedURL := r.oauthdURL + "/oauth/revocation-feed"
	tok := target{name: "oauthd POST /oauth/token", url: r.oauthdURL + "/oauth/token", script: scripts["fixed.lua"],
		args: []string{"POST", "grant_type=client_credentials", "Authorization: " + r.daemon.basic(), "Content-Type: application/x-www-form-urlencoded"}}
	l := load{Threads: opts.Threads, Connections: opts.Connections, Duration: opts.Duration}

	cctx, stopChurn := context.WithCancel(ctx)
	churnDone := make(chan error, 1)
	var published int64
	go func() { n, err := r.oauthd.churn(cctx, churned.ID, opts.FeedRate); published = n; churnDone <- err }()
	defer func() { stopChurn(); <-churnDone }()

	fmt.Fprintf(w, "feed:     %d subscribers on one oauthd, %d feed events/s published (admin scope changes) during every run\n", opts.Feed, opts.FeedRate)
	if opts.Warmup > 0 {
		wl := l
		wl.Duration = opts.Warmup
		if _, err := runWrk(ctx, wl, tok.script, tok.url, tok.args...); err != nil {
			return err
		}
	}
	var without, with series
	var delivered, failed int64
	var connectTook []time.Duration
	xreadBefore, err := xreadCalls(ctx, r)
	if err != nil {
		return err
	}
	var withTime time.Duration
	for round := range opts.Repeat {
		order := []bool{false, true}
		if round%2 == 1 {
			order = []bool{true, false}
		}
		for _, subs := range order {
			name := "token, no subscribers"
			var fs *feedSubscribers
			if subs {
				start := time.Now()
				if fs, err = subscribe(ctx, feedURL, r.resourceServer, opts.Feed); err != nil {
					return err
				}
				connectTook = append(connectTook, time.Since(start))
				name = fmt.Sprintf("token, %d subscribers", opts.Feed)
			}
			before := int64(0)
			if fs != nil {
				before = fs.events.Load()
			}
			start := time.Now()
			oauthdCPU, harnessCPU := r.procCPU(r.oauthdPID), selfCPU()
			res, err := runWrk(ctx, l, tok.script, tok.url, tok.args...)
			oauthdCPU, harnessCPU = r.procCPU(r.oauthdPID)-oauthdCPU, selfCPU()-harnessCPU
			if fs != nil {
				withTime += time.Since(start)
				delivered += fs.events.Load() - before
				failed += fs.failed.Load()
				fs.close()
			}
			if err != nil {
				return err
			}
			if err := ps.check(); err != nil {
				return err
			}
			if subs {
				with = append(with, res)
			} else {
				without = append(without, res)
			}
			fmt.Fprintf(w, "  %-36s %8.0f req/s  p50 %8s  p99 %8s  CPU: oauthd %.2fs, subscribers %.2fs%s\n",
				name, res.RPS, ms(res.P50), ms(res.P99), oauthdCPU.Seconds(), harnessCPU.Seconds(), loud(res))
		}
	}
	xreadAfter, err := xreadCalls(ctx, r)
	if err != nil {
		return err
	}
	stopChurn()
	if err := <-churnDone; err != nil {
		return err
	}
	churnDone <- nil
	_, ratio := pairRatios(without, with)
	fmt.Fprintf(w, "\nfeed fan-out: token p99 %s without, %s with %d subscribers: x%.3f (target <= x1.10: %s)\n",
		ms(without.p99()), ms(with.p99()), opts.Feed, ratio, map[bool]string{true: "met", false: "NOT met"}[ratio <= 1.10])
	fmt.Fprintf(w, "feed fan-out: %d events published; %d deliveries to subscribers during the measured runs (%.0f/s); %d subscribers cut off; connecting %d took %v (median)\n",
		published, delivered, float64(delivered)/withTime.Seconds(), failed, opts.Feed, medianDuration(connectTook).Round(time.Millisecond))
	fmt.Fprintf(w, "feed fan-out: Redis XREAD calls during the whole comparison: %d (one reader per replica, whatever the number of subscribers)\n", xreadAfter-xreadBefore)
	return nil
}

func xreadCalls(ctx context.Context, r *rig) (int64, error) {
	m, err := info(ctx, r.rdb, "commandstats")
	if err != nil {
		return 0, err
	}
	calls, err := commandCalls(m)
	return calls["xread"], err
}

func medianDuration(d []time.Duration) time.Duration {
	xs := make([]float64, len(d))
	for i, v := range d {
		xs[i] = float64(v)
	}
	return time.Duration(median(xs))
}

// selfCPU is the harness's own CPU time: the subscribers' reading.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
