package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/oauthd/oauthd/server/oauthclient"
	"github.com/oauthd/oauthd/store/redis/redistest"
)

// The whole program with dpop.require_nonce: a daemon on the oauthclient
// package gets a DPoP-bound token through the nonce flow, two replicas
// sharing the sealing key accept each other's nonces, a request without
// the nonce is told to use one, and the metadata lists the algorithms.
func TestDPoPWholeProgram(t *testing.T) {
	t.Parallel()
	rs := redistest.Start(t, redistest.Mini)
	env := map[string]string{"OAUTHD_JWT_SEALING_KEY": newSealingKey(t), "OAUTHD_DPOP_REQUIRE_NONCE": "true"}
	one := startOAuthd(t, env, "--redis-url", rs.URL)
	two := startOAuthd(t, env, "--redis-url", rs.URL)
	a := createApp(t, rs.URL, "--name", "daemon", "--scopes", "sms", "--dpop-bound")

	res, err := http.Post(one.URL+"/oauth/token", "application/x-www-form-urlencoded",
		strings.NewReader("grant_type=client_credentials&client_id="+a.ClientID+"&client_secret="+a.ClientSecret))
	if err != nil {
		t.Fatal(err)
	}
	var refusal struct{ Error string }
	json.NewDecoder(res.Body).Decode(&refusal)
	res.Body.Close()
	nonce := res.Header.Get("DPoP-Nonce")
	if res.StatusCode != 400 || refusal.Error != "invalid_dpop_proof" || nonce == "" {
		t.Fatalf("a DPoP-bound application without a proof: %d %+v, DPoP-Nonce %q", res.StatusCode, refusal, nonce)
	}

	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	for _, p := range []*struct{ URL string }{{one.URL}, {two.URL}} {
		c, err := oauthclient.New(oauthclient.Config{TokenURL: p.URL + "/oauth/token", ClientID: a.ClientID, ClientSecret: a.ClientSecret, DPoPKey: key})
		if err != nil {
			t.Fatal(err)
		}
		tok, err := c.Token(context.Background())
		if err != nil || tok.TokenType != "DPoP" {
			t.Fatalf("oauthclient through the nonce flow at %s: %+v, %v", p.URL, tok, err)
		}
	}
	// The first replica's nonce, at the second.
	d, _ := oauthclient.NewDPoP(key)
	proof, err := d.Proof("POST", two.URL+"/oauth/token", "", nonce)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("POST", two.URL+"/oauth/token", strings.NewReader("grant_type=client_credentials"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(a.ClientID, a.ClientSecret)
	req.Header.Set("DPoP", proof)
	res, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var tok struct {
		TokenType string `json:"token_type"`
	}
	json.NewDecoder(res.Body).Decode(&tok)
	res.Body.Close()
	if res.StatusCode != 200 || tok.TokenType != "DPoP" {
		t.Errorf("replica one's nonce at replica two: %d %+v", res.StatusCode, tok)
	}
	var m struct {
		Algs []string `json:"dpop_signing_alg_values_supported"`
	}
	mr, err := http.Get(two.URL + "/.well-known/oauth-authorization-server")
	if err != nil {
		t.Fatal(err)
	}
	json.NewDecoder(mr.Body).Decode(&m)
	mr.Body.Close()
	if strings.Join(m.Algs, " ") != "EdDSA Ed25519 ES256 PS256 RS256" {
		t.Errorf("dpop_signing_alg_values_supported = %v", m.Algs)
	}
}
