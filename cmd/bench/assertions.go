package main

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"golang.org/x/sync/errgroup"
)

// keyCredentials are a private_key_jwt application's client_id and the
// Ed25519 key it signs its client assertions with.
type keyCredentials struct {
	ID  string
	kid string
	key ed25519.PrivateKey
}

// createKeyApp creates a private_key_jwt application through the admin
// API, registering a fresh Ed25519 public key as its jwks (issue 18): it
// has no secret.
func (c *oauthdClient) createKeyApp(ctx context.Context, name string, scopes []string) (keyCredentials, error) {
	pub, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return keyCredentials{}, err
	}
	k := keyCredentials{kid: "bench-" + rand.Text()[:8], key: key}
	set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: pub, KeyID: k.kid, Algorithm: "EdDSA", Use: "sig"}}}
	body, _ := json.Marshal(map[string]any{"name": name, "scopes": scopes, "token_lifetime": "24h",
		"token_endpoint_auth_method": "private_key_jwt", "jwks": set})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+"/admin/v1/applications", strings.NewReader(string(body)))
	if err != nil {
		return k, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+c.adminKey)
	var app credentials
	if err := doJSON(c.http, req, http.StatusCreated, &app); err != nil {
		return k, fmt.Errorf("creating private_key_jwt application %s: %w", name, err)
	}
	if app.ID == "" {
		return k, fmt.Errorf("creating private_key_jwt application %s: the answer has no client_id", name)
	}
	k.ID = app.ID
	return k, nil
}

// assertionLife is how long the assertions of a run live: under oauthd's
// default client_auth.assertion_max_lifetime (5m), and longer than the
// file takes to write plus a run.
const assertionLife = 4 * time.Minute

// tokenBody is a token request's body with a fresh client assertion for
// aud (oauthd's issuer).
func (k keyCredentials) tokenBody(signer jose.Signer, aud string, now time.Time) (string, error) {
	claims, _ := json.Marshal(map[string]any{"iss": k.ID, "sub": k.ID, "aud": aud, "jti": rand.Text(),
		"iat": now.Unix(), "exp": now.Add(assertionLife).Unix()})
	obj, err := signer.Sign(claims)
	if err != nil {
		return "", err
	}
	raw, err := obj.CompactSerialize()
	if err != nil {
		return "", err
	}
	return "grant_type=client_credentials&client_assertion_type=" +
		url.QueryEscape("urn:ietf:params:oauth:client-assertion-type:jwt-bearer") + "&client_assertion=" + raw, nil
}

// writeAssertions writes n token request bodies, each with an assertion
// of its own, one a line, signing on every core.
func (k keyCredentials) writeAssertions(path, aud string, n int) error {
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.EdDSA, Key: k.key}, (&jose.SignerOptions{}).WithHeader("kid", k.kid))
	if err != nil {
		return err
	}
	now := time.Now()
	return writeSigned(path, n, func() (string, error) { return k.tokenBody(signer, aud, now) })
}

// writeSigned writes n lines made by sign, one-use credentials each, to a
// new file at path, signing on every core: signing costs about what the
// server's check does, so the files are made before a run, not during it.
func writeSigned(path string, n int, sign func() (string, error)) error {
	lines := make([]string, n)
	workers := runtime.GOMAXPROCS(0)
	var g errgroup.Group
	for w := range workers {
		g.Go(func() error {
			for i := w; i < n; i += workers {
				l, err := sign()
				if err != nil {
					return err
				}
				lines[i] = l
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	return writeLines(path, lines)
}

// writeLines writes lines to a new file at path, one a line: the files of
// one-use credentials the wrk scripts read (assertions.lua, dpop.lua).
func writeLines(path string, lines []string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	for _, l := range lines {
		w.WriteString(l)
		w.WriteByte('\n')
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// assertionsPerRun is how many assertions a private_key_jwt run gets:
// -assertions, or 20,000 a second of the longer of a run and the warm-up,
// about twice the token endpoint's rate on the reference machine.
func assertionsPerRun(o options) int {
	if o.Assertions > 0 {
		return o.Assertions
	}
	return int(max(o.Duration, o.Warmup)/time.Second) * 20_000
}

// expectAssertionToken checks, outside wrk, that a fresh assertion gets
// a token and that sending it again is refused (a replay): the run would
// measure nothing else.
func expectAssertionToken(ctx context.Context, hc *http.Client, tokenURL string, k keyCredentials) error {
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.EdDSA, Key: k.key}, (&jose.SignerOptions{}).WithHeader("kid", k.kid))
	if err != nil {
		return err
	}
	body, err := k.tokenBody(signer, strings.TrimSuffix(tokenURL, "/oauth/token"), time.Now())
	if err != nil {
		return err
	}
	for i, want := range []int{http.StatusOK, http.StatusUnauthorized} {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, tokenURL, strings.NewReader(body))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, err := hc.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			return fmt.Errorf("POST %s with a client assertion (try %d): %d, want %d", tokenURL, i+1, resp.StatusCode, want)
		}
	}
	return nil
}
