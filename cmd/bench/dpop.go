package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"

	"github.com/oauthd/oauthd/server/oauthclient"
)

// The "DPoP middleware / bare" comparison of issue 19 (target 0.5x) needs
// a DPoP-bound token, which oauthd's token endpoint does not issue yet:
// binding is the token-endpoint half of issue 19, built later. Until then
// the harness asks oauthd for one, as a daemon would (server/oauthclient
// with a DPoP key), and says why the line is missing; the proof's cost is
// measured meanwhile by BenchmarkDPoPMiddleware (server/introspect).
//
// The plan for the line, once oauthd binds tokens: wrk's Lua cannot sign
// ES256, and a proof is good for one request within sms-api's 60 s
// window, so before each run the harness signs as many proofs as the
// run can use (the bare route's rate times the duration, with a margin;
// about 10 s of one core per 100,000 on the machines measured so far,
// which is why it cannot happen during the run on the same cores) into a
// file that a script like introspect.lua reads in init(), each thread
// taking every n-th proof, and request() sends each once. A run that
// outpaces its proofs replays them and shows as non-2xx answers.
func (r *rig) dpopStatus(ctx context.Context) string {
	const line = "dpop middleware / bare req/s: not measured: "
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return line + err.Error()
	}
	c, err := oauthclient.New(oauthclient.Config{TokenURL: r.oauthdURL + "/oauth/token", ClientID: r.daemon.ID,
		ClientSecret: r.daemon.Secret, DPoPKey: key, HTTPClient: r.http})
	if err != nil {
		return line + err.Error()
	}
	tok, err := c.Token(ctx)
	switch {
	case err != nil:
		return line + fmt.Sprintf("asking oauthd for a DPoP-bound token failed: %v", err)
	case tok.TokenType != "DPoP":
		return line + "oauthd answered a DPoP token request with token_type " + tok.TokenType +
			" (it does not bind tokens yet: issue 19's token-endpoint half); see BenchmarkDPoPMiddleware"
	}
	return line + "oauthd binds tokens now: add the comparison (cmd/bench/dpop.go says how)"
}
