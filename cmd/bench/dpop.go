package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"runtime"
	"strings"
	"time"

	"github.com/oauthd/oauthd/server/oauthclient"
)

// The "DPoP middleware / bare" comparison of issue 19 (target 0.5x):
// sms-api's GET /v1/groups, the route of the bearer middleware lines, with
// a DPoP-bound token (a cache hit, as theirs) and a proof of its own on
// every request. wrk's Lua cannot sign ES256, and sms-api accepts a proof
// once within its window (dpop.window, 60 s), so before each run the
// harness signs as many proofs as the run can use into a file that
// dpop.lua reads in init(), each thread taking every n-th line, and sends
// each once. Signing costs about as much as checking, so it cannot happen
// during the run on the same cores.
//
// What sms-api checks for each request is mostly one ES256 verification,
// and on a small machine that alone may put 0.5x out of reach: the
// harness times the verification in process and prints the ceiling it
// implies beside the measured line (dpopArithmetic), so a miss shows its
// cause.

// dpopMiddleware names the comparison, which the report's arithmetic
// finds among the others.
const dpopMiddleware = "DPoP middleware"

// proofCheck is what checking one DPoP proof's ES256 signature costs on
// this machine, timed in the harness before the load.
type proofCheck struct {
	cost  time.Duration // one ecdsa.VerifyASN1: the mean of the fastest batch
	cores int           // GOMAXPROCS, which sms-api, started with the same environment, gets too
}

// The verifications timed: the fastest of a few batches, as close to the
// cost on an idle core as a shared machine lets the harness see. The
// slower batches are other processes' doing, not the verification's.
const (
	checkBatches = 5
	checkBatch   = 400
)

// measureProofCheck times ES256 verifications as sms-api's middleware
// makes them (server/introspect verifies a proof's signature with
// ecdsa.VerifyASN1).
func measureProofCheck() (proofCheck, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return proofCheck{}, err
	}
	digest := sha256.Sum256([]byte("a DPoP proof's signing input"))
	sig, err := ecdsa.SignASN1(rand.Reader, key, digest[:])
	if err != nil {
		return proofCheck{}, err
	}
	best := time.Duration(math.MaxInt64)
	for range checkBatches {
		start := time.Now()
		for range checkBatch {
			if !ecdsa.VerifyASN1(&key.PublicKey, digest[:], sig) {
				return proofCheck{}, errors.New("an ES256 signature just made does not verify")
			}
		}
		best = min(best, time.Since(start)/checkBatch)
	}
	return proofCheck{cost: best, cores: runtime.GOMAXPROCS(0)}, nil
}

// perCore is the most proofs one core can check a second: signatures
// only, nothing else.
func (pc proofCheck) perCore() float64 { return float64(time.Second) / float64(pc.cost) }

// ceiling is the most DPoP requests a second sms-api could answer on all
// its cores if checking the signature were all it did: it also parses
// HTTP, runs the middleware, writes its access line and shares the cores
// with wrk, so it stays below.
func (pc proofCheck) ceiling() float64 { return pc.perCore() * float64(pc.cores) }

// maxProofRate bounds the proofs per second of a run the harness signs by
// itself: wrk holds each as a request of about 1 KB, so a fast machine's
// ceiling would cost gigabytes. Past it, -proofs gives more.
const maxProofRate = 200_000

// proofsPerRun is how many proofs a DPoP middleware run gets: -proofs, or
// for each second of the longer of a run and the warm-up, the ceiling
// with half as much again, in case the timing was slowed by other work
// (up to maxProofRate). A run that uses them up replays them, which
// sms-api refuses: they show as non-2xx answers.
func proofsPerRun(o options, pc proofCheck) int {
	if o.Proofs > 0 {
		return o.Proofs
	}
	rate := min(1.5*pc.ceiling(), maxProofRate)
	return int(math.Ceil(max(o.Duration, o.Warmup).Seconds() * rate))
}

// newDPoP is a proof maker with a fresh P-256 key (ES256, the algorithm
// daemons are told to prefer, and the one these lines measure).
func newDPoP() (*oauthclient.DPoP, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	return oauthclient.NewDPoP(key)
}

// boundToken asks oauthd for a token bound to a fresh key, as a daemon
// does (server/oauthclient with a DPoP key), and returns it with the
// key's proof maker.
func (r *rig) boundToken(ctx context.Context) (string, *oauthclient.DPoP, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", nil, err
	}
	c, err := oauthclient.New(oauthclient.Config{TokenURL: r.oauthdURL + "/oauth/token", ClientID: r.daemon.ID,
		ClientSecret: r.daemon.Secret, DPoPKey: key, HTTPClient: r.http})
	if err != nil {
		return "", nil, err
	}
	tok, err := c.Token(ctx)
	switch {
	case err != nil:
		return "", nil, fmt.Errorf("asking oauthd for a DPoP-bound token: %w", err)
	case tok.TokenType != "DPoP":
		return "", nil, fmt.Errorf("oauthd answered a token request with a DPoP proof with token_type %q, want DPoP", tok.TokenType)
	}
	return tok.AccessToken, c.DPoP(), nil
}

// expectDPoPResource checks, outside wrk, that uri answers 200 to token
// with a fresh proof, and refuses the same proof again as a replay: a run
// would measure nothing else. The first request also fills sms-api's
// introspection cache with the token, so the measured ones are cache
// hits. The proof is made as the file's are, for the same URL wrk is
// given: its htu is what sms-api, without a public_url, makes of the
// request (the connection's scheme and the Host header, which wrk and Go
// both send as the URL's host and port).
func expectDPoPResource(ctx context.Context, hc *http.Client, uri, token string, d *oauthclient.DPoP) error {
	proof, err := d.Proof(http.MethodGet, uri, token, "")
	if err != nil {
		return err
	}
	for i, want := range []int{http.StatusOK, http.StatusUnauthorized} {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, uri, nil)
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "DPoP "+token)
		req.Header.Set("DPoP", proof)
		resp, err := hc.Do(req)
		if err != nil {
			return err
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		challenge := resp.Header.Get("WWW-Authenticate")
		switch {
		case resp.StatusCode != want:
			return fmt.Errorf("GET %s with a DPoP-bound token and its proof (try %d): %d, want %d (%s)", uri, i+1, resp.StatusCode, want, challenge)
		case i == 1 && !strings.Contains(challenge, "invalid_dpop_proof"):
			return fmt.Errorf("GET %s with a proof used before: %q, want an invalid_dpop_proof challenge", uri, challenge)
		}
	}
	return nil
}

// dpopArithmetic prints, once, what the proof check costs here and what
// the DPoP middleware line's target asks of this machine: the bare
// route's rate at the target ratio, in cores of signature checks alone
// and in cores of sms-api's measured CPU per DPoP request, against the
// cores there are (which wrk shares).
func dpopArithmetic(w io.Writer, pc proofCheck, cmps []*comparison) {
	fmt.Fprintf(w, "dpop:     a proof check costs %.1fus here (one ES256 verification, ecdsa.VerifyASN1, the fastest of %d batches of %d in the harness): at most %.0f checks/s per core, %.0f on %d cores doing nothing else\n",
		us(pc.cost), checkBatches, checkBatch, pc.perCore(), pc.ceiling(), pc.cores)
	var c *comparison
	for _, x := range cmps {
		if x.name == dpopMiddleware {
			c = x
		}
	}
	if c == nil || len(c.baseRuns) == 0 || len(c.subjectRuns) == 0 {
		return
	}
	bare, got := c.baseRuns.rps(), c.subjectRuns.rps()
	want := c.minRatio * bare
	checks := func(rate float64) float64 { return rate * us(pc.cost) / 1e6 }
	cpu := runsCPU(c.subjectRuns).Proc // 0: CPU time unreadable (not Linux)
	verdict := "within reach in CPU"
	switch {
	case checks(want) > float64(pc.cores):
		verdict = "out of reach on this machine: the signatures alone need more cores than it has"
	case cpu > 0 && want*cpu/1e6 > float64(pc.cores):
		verdict = "out of reach on this machine at sms-api's CPU per DPoP request"
	}
	atCPU := ""
	if cpu > 0 {
		atCPU = fmt.Sprintf(", %.2f at sms-api's %.1fus of CPU a DPoP request (measured)", want*cpu/1e6, cpu)
	}
	fmt.Fprintf(w, "          %.2fx of the bare route's %.0f req/s is %.0f DPoP req/s: %.2f cores of signature checks alone%s, of %d (shared with wrk): %s\n",
		c.minRatio, bare, want, checks(want), atCPU, pc.cores, verdict)
	ratio, _ := pairRatios(c.baseRuns, c.subjectRuns)
	share := ""
	if cpu > 0 {
		share = fmt.Sprintf(" of sms-api's %.2f (the signature %.0f%% of its CPU a request)", got*cpu/1e6, 100*us(pc.cost)/cpu)
	}
	fmt.Fprintf(w, "          measured %.0f req/s (%.2fx): %.2f cores of signature checks%s\n", got, ratio, checks(got), share)
}

// us is d in microseconds.
func us(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }
