package main

import (
	"context"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/oauthd/oauthd/cmd/internal/runtest"
	"github.com/oauthd/oauthd/server/apps"
	"github.com/oauthd/oauthd/store/redis/redistest"
)

// from is an HTTP client whose connections leave from a given loopback
// address, as two hosts would.
func from(addr string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(addr)}}
	return &http.Client{Transport: &http.Transport{DialContext: d.DialContext}}
}

// The attack of issue 8, item 4, replayed: a token issued to 127.0.0.2 and
// presented to the SMS API from 127.0.0.3 is refused, and once the
// application's allowlist changes, it is refused from 127.0.0.2 too. The
// API bills the token's owner.
func TestStolenTokenRefusedElsewhere(t *testing.T) {
	auth := startAuthServer(t, redistest.Mini)
	rs := auth.create(t, "tokens:introspect", "")
	api := runtest.Start(t, runTest, "sms-api listening", map[string]string{
		"SMSAPI_ISSUER":        auth.issuer,
		"SMSAPI_CLIENT_ID":     rs.id,
		"SMSAPI_CLIENT_SECRET": rs.secret,
		"SMSAPI_CACHE_TTL":     "0s",
	}, "--http-addr", "127.0.0.1:0", "--log-format", "json")
	ctx := context.Background()
	app, secret, err := auth.apps.Create(ctx, apps.NewApplication{
		Name: "billing", Scopes: []string{"sms"}, Owner: "acct_9", IPAllowlist: []string{"127.0.0.2"},
	})
	if err != nil {
		t.Fatal(err)
	}
	cfg := clientcredentials.Config{ClientID: app.ClientID, ClientSecret: secret, TokenURL: auth.issuer + "/oauth/token"}
	tok, err := cfg.Token(context.WithValue(ctx, oauth2.HTTPClient, from("127.0.0.2")))
	if err != nil {
		t.Fatal(err)
	}
	send := func(addr string) (int, map[string]any) {
		req, _ := http.NewRequest("POST", api.URL+"/v1/sms", strings.NewReader(sendBody))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
		return doWith(t, from(addr), req)
	}
	if code, m := send("127.0.0.2"); code != 201 || m["account"] != "acct_9" {
		t.Fatalf("from the allowed address: %d %v (want 201 billed to acct_9)", code, m)
	}
	if code, m := send("127.0.0.3"); code != 401 || m["error"] != "invalid_token" {
		t.Fatalf("the same token from 127.0.0.3: %d %v", code, m)
	}
	list := []string{"10.0.0.0/8"}
	if _, err := auth.apps.Update(ctx, app.ClientID, apps.ApplicationPatch{IPAllowlist: &list}); err != nil {
		t.Fatal(err)
	}
	if code, m := send("127.0.0.2"); code != 401 {
		t.Fatalf("from 127.0.0.2 after the allowlist became 10.0.0.0/8: %d %v", code, m)
	}
}

// The attack of issue 17, item 3, replayed: a JWT of an application
// allowlisted to 127.0.0.1/32, validated locally at the SMS API
// (SMSAPI_JWT_LOCAL), was accepted from 127.0.0.9; its opaque tokens were
// not. The token carries the allowlist and the package holds it to it;
// when the allowlist changes, the feed sends tokens issued before to
// oauthd, which checks the new one.
func TestJWTAllowlistAtTheResourceServer(t *testing.T) {
	auth := startAuthServer(t, redistest.Mini)
	rs := auth.create(t, "tokens:introspect", "")
	ctx := context.Background()
	app, secret, err := auth.apps.Create(ctx, apps.NewApplication{Name: "fenced", Scopes: []string{"sms"}, TokenLifetime: "1h",
		TokenFormat: "jwt", IPAllowlist: []string{"127.0.0.1/32"}})
	if err != nil {
		t.Fatal(err)
	}
	api := runtest.Start(t, runTest, "sms-api listening", map[string]string{
		"SMSAPI_ISSUER": auth.issuer, "SMSAPI_CLIENT_ID": rs.id, "SMSAPI_CLIENT_SECRET": rs.secret,
		"SMSAPI_JWT_LOCAL": "true", "SMSAPI_FEED": "true",
	}, "--http-addr", "127.0.0.1:0", "--log-format", "json")
	// Until the feed is followed every JWT goes to oauthd: wait for it,
	// so what follows is the package's own decision.
	waitLog(t, api, "revocation feed followed")
	cfg := clientcredentials.Config{ClientID: app.ClientID, ClientSecret: secret, TokenURL: auth.issuer + "/oauth/token"}
	tok, err := cfg.Token(context.WithValue(ctx, oauth2.HTTPClient, from("127.0.0.1")))
	if err != nil {
		t.Fatal(err)
	}
	send := func(addr string) (int, map[string]any) {
		req, _ := http.NewRequest("POST", api.URL+"/v1/sms", strings.NewReader(sendBody))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
		return doWith(t, from(addr), req)
	}
	if code, m := send("127.0.0.1"); code != 201 {
		t.Fatalf("from the allowed address: %d %v", code, m)
	}
	if code, m := send("127.0.0.9"); code != 401 || m["error"] != "invalid_token" {
		t.Fatalf("the JWT from 127.0.0.9: %d %v, want 401 invalid_token", code, m)
	}
	// The allowlist moves to 127.0.0.9: the feed's event makes the API
	// ask oauthd about this older token, which now answers the other way.
	list := []string{"127.0.0.9"}
	if _, err := auth.apps.Update(ctx, app.ClientID, apps.ApplicationPatch{IPAllowlist: &list}); err != nil {
		t.Fatal(err)
	}
	// The feed carries the change asynchronously; and the refusal from
	// 127.0.0.9 above is cached for the inactive lifetime (1 s): poll,
	// bounded.
	until(t, "refused from 127.0.0.1 after the allowlist left it", func() bool { code, _ := send("127.0.0.1"); return code == 401 })
	until(t, "accepted from the newly allowed 127.0.0.9", func() bool { code, _ := send("127.0.0.9"); return code == 201 })
}

// until polls cond, bounded (10 s), for effects that cross the feed.
func until(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("not within 10s: %s", what)
		}
	}
}

// waitLog waits, bounded, for a log line of p holding msg.
func waitLog(t *testing.T, p *runtest.Program, msg string) {
	t.Helper()
	until(t, "a log line "+msg, func() bool { return strings.Contains(p.Logs.String(), msg) })
}
