package main

import (
	"context"
	"net"
	"net/http"
	"strings"
	"testing"

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
	api := runtest.Start(t, run, "sms-api listening", map[string]string{
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
