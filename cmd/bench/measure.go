package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// target is one URL wrk drives, and how.
type target struct {
	name   string
	url    string
	script string   // path of the wrk script
	args   []string // the script's arguments
	// pids are the processes that serve it, whose CPU time each run
	// reads (several for the replicas).
	pids []int
	// urls, when more than one, are driven at once, one wrk each with
	// its share of the connections, and their counts summed (the
	// replicas; url is the first).
	urls []string
	// role names the target in the capacity model ("" for none).
	role string
}

// The targets the capacity model reads.
const (
	roleBaselineToken = "baseline token"
	roleTokenCached   = "token, application cached"
	roleTokenUncached = "token, application not cached"
	roleIntrospect    = "introspection"
)

// meter reads CPU time around each measured run.
type meter struct {
	proc  func(pid int) time.Duration
	redis func(ctx context.Context) (time.Duration, error)
}

// run drives t once and reads, around it, the CPU time of t's processes
// and of redis-server.
func (m meter) run(ctx context.Context, l load, t target) (runResult, error) {
	cpu := func() time.Duration {
		var d time.Duration
		for _, pid := range t.pids {
			d += m.proc(pid)
		}
		return d
	}
	redisBefore, err := m.redis(ctx)
	if err != nil {
		return runResult{}, err
	}
	before := cpu()
	res, err := runTarget(ctx, l, t)
	if err != nil {
		return res, err
	}
	res.CPU = cpu() - before
	redisAfter, err := m.redis(ctx)
	if err != nil {
		return res, err
	}
	res.RedisCPU = redisAfter - redisBefore
	return res, nil
}

// runTarget runs wrk on t: once, or once per URL at the same time.
func runTarget(ctx context.Context, l load, t target) (runResult, error) {
	if len(t.urls) <= 1 {
		return runWrk(ctx, l, t.script, t.url, t.args...)
	}
	n := len(t.urls)
	each := l
	each.Threads, each.Connections = max(1, l.Threads/n), max(1, l.Connections/n)
	results := make([]runResult, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i, u := range t.urls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = runWrk(ctx, each, t.script, u, t.args...)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return runResult{}, err
	}
	return sumRuns(results), nil
}

// sumRuns adds wrk runs made at the same time: requests, throughput and
// failures add up; the latencies are the worst run's, as a client spread
// over the replicas would see them.
func sumRuns(rs []runResult) runResult {
	var s runResult
	for _, r := range rs {
		s.Requests += r.Requests
		s.RPS += r.RPS
		s.P50 = max(s.P50, r.P50)
		s.P99 = max(s.P99, r.P99)
		s.Non2xx += r.Non2xx
		s.SocketErrors += r.SocketErrors
	}
	return s
}

// comparison is a target measured in pairs against a baseline target.
type comparison struct {
	name          string // "token", "introspection", "middleware"
	baseName      string // "baseline" or "bare", for the ratio's name
	base, subject target
	minRatio      float64 // subject req/s over base req/s must reach this
	checkP99      bool    // and the subject's p99 must not exceed the base's
	replicas      bool    // the multi-replica comparison (-replicas)
	baseRuns      series
	subjectRuns   series
	// prepare, when set, runs before each run of the subject, outside
	// the measured time (the private_key_jwt runs' fresh assertions).
	prepare func() error
}

// comparisons prepares the comparisons of issues 9, 12, 18, 19 and 23, after
// checking once, outside wrk, that each target answers 200 as it should.
//
// pc, the proof check's cost, sizes the DPoP middleware runs' proof files.
func (r *rig) comparisons(ctx context.Context, dir string, opts options, apps *appsScenario, pc proofCheck) ([]*comparison, error) {
	scripts, err := writeScripts(dir)
	if err != nil {
		return nil, err
	}

	// Live tokens for the introspection runs, each checked active.
	tokens := make([]string, opts.IntrospectTokens)
	if err := parallel(ctx, len(tokens), clientConns, func(ctx context.Context, i int) error {
		t, err := r.oauthd.issue(ctx, r.daemon)
		tokens[i] = t
		return err
	}); err != nil {
		return nil, fmt.Errorf("issuing tokens: %w", err)
	}
	if err := parallel(ctx, len(tokens), clientConns, func(ctx context.Context, i int) error {
		ok, err := r.oauthd.active(ctx, r.resourceServer, tokens[i])
		if err == nil && !ok {
			err = fmt.Errorf("a token just issued is not active")
		}
		return err
	}); err != nil {
		return nil, err
	}
	tokenFile := filepath.Join(dir, "tokens.txt")
	if err := os.WriteFile(tokenFile, []byte(strings.Join(tokens, "\n")+"\n"), 0o600); err != nil {
		return nil, err
	}

	// One token for sms-api; its first request fills the introspection
	// cache, so the measured ones are cache hits.
	bearer, err := r.oauthd.issue(ctx, r.daemon)
	if err != nil {
		return nil, err
	}
	form := "Content-Type: application/x-www-form-urlencoded"
	grant := "grant_type=client_credentials"
	daemonAuth := "Authorization: " + r.daemon.basic()
	bearerAuth := "Authorization: Bearer " + bearer
	if _, err := fetchToken(ctx, r.http, r.baselineURL+"/token", r.daemon); err != nil {
		return nil, err
	}
	if err := expectOK(ctx, r.http, "GET", r.baselineURL+"/bare", ""); err != nil {
		return nil, err
	}
	if err := expectOK(ctx, r.http, "GET", r.smsURL+"/v1/groups", "", bearerAuth); err != nil {
		return nil, err
	}
	if err := expectOK(ctx, r.http, "GET", r.echoURL+"/bare", "", bearerAuth); err != nil {
		return nil, err
	}
	if err := expectOK(ctx, r.http, "GET", r.echoURL+"/v1/groups", "", bearerAuth); err != nil {
		return nil, err
	}

	jwtBearer, err := r.oauthd.issue(ctx, r.jwtDaemon)
	if err != nil {
		return nil, err
	}
	jwtAuth := "Authorization: Bearer " + jwtBearer
	if err := expectOK(ctx, r.http, "GET", r.smsJWTURL+"/v1/groups", "", jwtAuth); err != nil {
		return nil, err
	}
	jwtDaemonAuth := "Authorization: " + r.jwtDaemon.basic()

	for _, a := range []credentials{apps.few[0], apps.many[len(apps.many)-1]} {
		if _, err := r.oauthd.issue(ctx, a); err != nil {
			return nil, err
		}
	}

	// private_key_jwt (issue 18): each request its own assertion, from a
	// file written afresh before each run, each line used once.
	assertionFile := filepath.Join(dir, "assertions.txt")
	nAssertions := assertionsPerRun(opts)
	writeAssertions := func() error { return r.keyDaemon.writeAssertions(assertionFile, r.oauthdURL, nAssertions) }
	if err := expectAssertionToken(ctx, r.http, r.oauthdURL+"/oauth/token", r.keyDaemon); err != nil {
		return nil, err
	}

	// DPoP (issue 19): each request its own proof, from a file written
	// afresh before each run, each line used once. At the token endpoint,
	// as many as assertions.
	tokenDPoP, err := newDPoP()
	if err != nil {
		return nil, err
	}
	proofFile := filepath.Join(dir, "proofs.txt")
	writeDPoPProofs := func() error {
		return writeProofs(proofFile, tokenDPoP, http.MethodPost, r.oauthdURL+"/oauth/token", "", nAssertions)
	}
	if err := expectDPoPToken(ctx, r.http, r.oauthdURL+"/oauth/token", r.daemon.basic()); err != nil {
		return nil, err
	}
	// At sms-api, a DPoP-bound token and proofs of its key for the URL
	// wrk is given, with the token's hash: as many as the run could use
	// (proofsPerRun). The check also fills sms-api's cache.
	groupsURL := r.smsURL + "/v1/groups"
	boundToken, boundDPoP, err := r.boundToken(ctx)
	if err != nil {
		return nil, err
	}
	apiProofFile := filepath.Join(dir, "api-proofs.txt")
	nProofs := proofsPerRun(opts, pc)
	writeAPIProofs := func() error {
		return writeProofs(apiProofFile, boundDPoP, http.MethodGet, groupsURL, boundToken, nProofs)
	}
	if err := expectDPoPResource(ctx, r.http, groupsURL, boundToken, boundDPoP); err != nil {
		return nil, err
	}

	fixed, rotate, many, signed, proofs := scripts["fixed.lua"], scripts["introspect.lua"], scripts["tokens.lua"], scripts["assertions.lua"], scripts["dpop.lua"]
	// Each target names the processes serving it, whose CPU time each
	// run reads.
	tgt := func(name, url, script string, pid int, role string, args ...string) target {
		return target{name: name, url: url, script: script, args: args, pids: []int{pid}, role: role}
	}
	baseToken := tgt("baseline POST /token", r.baselineURL+"/token", fixed, r.baselinePID, roleBaselineToken, "POST", grant, daemonAuth, form)
	bareGET := tgt("baseline GET /bare", r.baselineURL+"/bare", fixed, r.baselinePID, "", "GET", "")
	smsJWT := tgt("sms-api GET /v1/groups (jwt, local)", r.smsJWTURL+"/v1/groups", fixed, r.smsJWTPID, "", "GET", "", jwtAuth)
	cmps := []*comparison{
		{
			name: "token", baseName: "baseline", base: baseToken, minRatio: 1.1, checkP99: true,
			subject: tgt("oauthd POST /oauth/token", r.oauthdURL+"/oauth/token", fixed, r.oauthdPID, roleTokenCached, "POST", grant, daemonAuth, form),
		},
		{
			name: "introspection", baseName: "baseline", base: baseToken, minRatio: 1.3, checkP99: true,
			subject: tgt("oauthd POST /oauth/introspect", r.oauthdURL+"/oauth/introspect", rotate, r.oauthdPID, roleIntrospect,
				tokenFile, "Authorization: "+r.resourceServer.basic()),
		},
		{
			// Issue 23: the middleware against the same framework's
			// route without it, in one process that logs nothing, both
			// sent the same request, the token included: the ratio is
			// the middleware's own cost, not also net/http's reading of
			// a header the bare route would receive as well.
			name: "middleware (echo)", baseName: "same route bare", minRatio: 0.95,
			base:    tgt("echoapi GET /bare (same header)", r.echoURL+"/bare", fixed, r.echoPID, "", "GET", "", bearerAuth),
			subject: tgt("echoapi GET /v1/groups (cache hit)", r.echoURL+"/v1/groups", fixed, r.echoPID, "", "GET", "", bearerAuth),
		},
		{
			// For information: sms-api (echo, the middleware, its access
			// line) against a bare net/http route.
			name: "middleware (sms-api)", baseName: "net/http bare",
			base:    bareGET,
			subject: tgt("sms-api GET /v1/groups (cache hit)", r.smsURL+"/v1/groups", fixed, r.smsPID, "", "GET", "", bearerAuth),
		},
		{
			// Issue 12 asks for the figure, not a target: signing costs an
			// Ed25519 signature per token.
			name: "token (jwt)", baseName: "baseline", base: baseToken,
			subject: tgt("oauthd POST /oauth/token (jwt)", r.oauthdURL+"/oauth/token", fixed, r.oauthdPID, "", "POST", grant, jwtDaemonAuth, form),
		},
		{
			// Issue 18: the signature check dominates; target 0.6x.
			name: "token (private_key_jwt)", baseName: "baseline", base: baseToken, minRatio: 0.6,
			subject: tgt("oauthd POST /oauth/token (private_key_jwt)", r.oauthdURL+"/oauth/token", signed, r.oauthdPID, "",
				assertionFile, fmt.Sprint(opts.Threads)),
			prepare: writeAssertions,
		},
		{
			// Issue 19: one proof's signature check and jti per request;
			// target 0.6x.
			name: "token (DPoP)", baseName: "baseline", base: baseToken, minRatio: 0.6,
			subject: tgt("oauthd POST /oauth/token (DPoP)", r.oauthdURL+"/oauth/token", proofs, r.oauthdPID, "",
				proofFile, fmt.Sprint(opts.Threads), "POST", grant, daemonAuth, form),
			prepare: writeDPoPProofs,
		},
		{
			// Issue 19: sms-api checking a proof (its signature, above
			// all) and remembering its jti on every request, the token a
			// cache hit as in the bearer lines; target 0.5x.
			// dpopArithmetic prints what the signature alone allows.
			name: dpopMiddleware, baseName: "bare", minRatio: 0.5,
			base: bareGET,
			subject: tgt("sms-api GET /v1/groups (DPoP, cache hit)", groupsURL, proofs, r.smsPID, "",
				apiProofFile, fmt.Sprint(opts.Threads), "GET", "", "Authorization: DPoP "+boundToken),
			prepare: writeAPIProofs,
		},
		{
			name: "jwt middleware", baseName: "bare", minRatio: 0.8,
			base: bareGET, subject: smsJWT,
		},
		{
			// For information: the same comparison with the bare route
			// sent the same request, JWT included. The ratio then leaves
			// out what the token's 500 bytes cost any server that is sent
			// them (net/http reads and checks every header byte), which
			// is not the middleware's doing.
			name: "jwt middleware (same request)", baseName: "bare",
			base:    tgt("baseline GET /bare (with the jwt)", r.baselineURL+"/bare", fixed, r.baselinePID, "", "GET", "", jwtAuth),
			subject: smsJWT,
		},
		{
			// Issue 23: applications far past the cache cost what a few do.
			name: fmt.Sprintf("token (%d apps)", len(apps.many)), baseName: fmt.Sprintf("%d apps", fewApps), minRatio: 0.95,
			base:    tgt(fmt.Sprintf("oauthd POST /oauth/token (%d apps)", fewApps), r.oauthdURL+"/oauth/token", many, r.oauthdPID, "", apps.fewFile),
			subject: tgt(fmt.Sprintf("oauthd POST /oauth/token (%d apps)", len(apps.many)), r.oauthdURL+"/oauth/token", many, r.oauthdPID, roleTokenUncached, apps.manyFile),
		},
	}
	if len(r.replicas) > 1 {
		// The capacity model's linearity: the same token request spread
		// over every replica at once, against one replica alone. What
		// each token costs (oauthd's CPU, all replicas summed, and
		// Redis's) should not change.
		all := target{name: fmt.Sprintf("oauthd POST /oauth/token (%d replicas)", len(r.replicas)), script: fixed,
			args: []string{"POST", grant, daemonAuth, form}}
		for _, rp := range r.replicas {
			all.urls = append(all.urls, rp.url+"/oauth/token")
			all.pids = append(all.pids, rp.pid)
		}
		all.url = all.urls[0]
		cmps = append(cmps, &comparison{
			name: fmt.Sprintf("token (%d replicas)", len(r.replicas)), baseName: "1 replica", replicas: true,
			base:    tgt("oauthd POST /oauth/token (1 replica)", r.oauthdURL+"/oauth/token", fixed, r.oauthdPID, "", "POST", grant, daemonAuth, form),
			subject: all,
		})
	}
	return cmps, nil
}

// measure warms each target up, then runs the pairs: round by round, each
// comparison's base and subject back to back, the order swapped every
// other round so neither always runs first.
func measure(ctx context.Context, ps *procs, m meter, l load, warmup time.Duration, repeat int, cmps []*comparison, w io.Writer) error {
	if warmup > 0 {
		wl := l
		wl.Duration = warmup
		seen := map[string]bool{}
		var names []string
		for _, c := range cmps {
			for i, t := range []target{c.base, c.subject} {
				if seen[t.name] {
					continue
				}
				seen[t.name] = true
				if i == 1 && c.prepare != nil {
					if err := c.prepare(); err != nil {
						return err
					}
				}
				if _, err := runTarget(ctx, wl, t); err != nil {
					return err
				}
				names = append(names, t.name)
			}
		}
		if err := ps.check(); err != nil {
			return err
		}
		fmt.Fprintf(w, "warm-up:  %s each: %s\n", warmup, strings.Join(names, ", "))
	}

	total := len(cmps) * 2 * repeat
	n := 0
	fmt.Fprintf(w, "\nruns (%d, %s each)\n", total, l.Duration)
	for round := range repeat {
		for _, c := range cmps {
			order := []bool{false, true} // false: the base
			if round%2 == 1 {
				order = []bool{true, false}
			}
			for _, subject := range order {
				t := c.base
				if subject {
					t = c.subject
				}
				if subject && c.prepare != nil {
					if err := c.prepare(); err != nil {
						return err
					}
				}
				res, err := m.run(ctx, l, t)
				if err != nil {
					return err
				}
				if err := ps.check(); err != nil {
					return err
				}
				if subject {
					c.subjectRuns = append(c.subjectRuns, res)
				} else {
					c.baseRuns = append(c.baseRuns, res)
				}
				n++
				fmt.Fprintf(w, "  [%2d/%d] %-40s %8.0f req/s  p50 %8s  p99 %8s  CPU/req %6.1fus, redis %5.1fus%s\n",
					n, total, t.name, res.RPS, ms(res.P50), ms(res.P99),
					perRequest(res.CPU, res.Requests), perRequest(res.RedisCPU, res.Requests), loud(res))
			}
		}
	}
	return nil
}

// loud flags a run with failed requests, so nobody reads its throughput
// as real.
func loud(r runResult) string {
	s := ""
	if r.Non2xx > 0 {
		s += fmt.Sprintf("  !! %d non-2xx answers", r.Non2xx)
	}
	if r.SocketErrors > 0 {
		s += fmt.Sprintf("  !! %d socket errors", r.SocketErrors)
	}
	return s
}

// ms formats a latency in milliseconds with two decimals.
func ms(d time.Duration) string {
	return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond))
}
