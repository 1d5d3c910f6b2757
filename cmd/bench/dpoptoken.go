package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/oauthd/oauthd/server/oauthclient"
)

// The "token (DPoP) / baseline" comparison of issue 19 (target 0.6x): each
// token request carries an ES256 DPoP proof of its own, from a file
// written just before the run (proofs are good for dpop.max_age, 60 s by
// default, and for one request each), as the private_key_jwt runs take
// their assertions. dpop.lua sends them with the daemon's secret.

// writeProofs writes n DPoP proofs by d for a request of method to uri,
// one a line, signing on every core. accessToken is the token the
// request presents (its hash is the proof's ath), or "" for a token
// request.
func writeProofs(path string, d *oauthclient.DPoP, method, uri, accessToken string, n int) error {
	return writeSigned(path, n, func() (string, error) { return d.Proof(method, uri, accessToken, "") })
}

// expectDPoPToken checks, outside wrk, that a token request with a fresh
// proof gets a DPoP-bound token and that the same proof again is refused:
// the run would measure nothing else.
func expectDPoPToken(ctx context.Context, hc *http.Client, tokenURL, basic string) error {
	d, err := newDPoP()
	if err != nil {
		return err
	}
	proof, err := d.Proof(http.MethodPost, tokenURL, "", "")
	if err != nil {
		return err
	}
	for i, want := range []int{http.StatusOK, http.StatusBadRequest} {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, tokenURL, strings.NewReader("grant_type=client_credentials"))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Authorization", basic)
		req.Header.Set("DPoP", proof)
		resp, err := hc.Do(req)
		if err != nil {
			return err
		}
		var body struct {
			TokenType string `json:"token_type"`
		}
		json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		switch {
		case resp.StatusCode != want:
			return fmt.Errorf("DPoP token request %d: %d, want %d", i+1, resp.StatusCode, want)
		case i == 0 && body.TokenType != "DPoP":
			return fmt.Errorf("DPoP token request: token_type %q, want DPoP (oauthd does not bind tokens?)", body.TokenType)
		}
	}
	return nil
}
