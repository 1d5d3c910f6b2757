package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/oauthd/oauthd/cmd/internal/runtest"
	"github.com/oauthd/oauthd/server/apps"
	"github.com/oauthd/oauthd/server/oauthclient"
	"github.com/oauthd/oauthd/store/redis/redistest"
)

// Both halves of issue 19 together, with oauthd itself: a daemon asks
// oauthd for a DPoP-bound token (opaque, its binding learnt through
// introspection; or a JWT carrying cnf.jkt, checked locally) and uses it
// at the sms-api program; the same token as Bearer, or with another key's
// proof, is refused; once revoked it is refused with its own proof too.
func TestDPoPWithOAuthd(t *testing.T) {
	for _, format := range []string{"opaque", "jwt"} {
		t.Run(format, func(t *testing.T) {
			auth := startAuthServer(t, redistest.Mini)
			rs := auth.create(t, "tokens:introspect", "")
			app, secret, err := auth.apps.Create(context.Background(), apps.NewApplication{
				Name: "daemon", Scopes: []string{"sms"}, TokenLifetime: "1h", TokenFormat: format})
			if err != nil {
				t.Fatal(err)
			}
			api := runtest.Start(t, runTest, "sms-api listening", map[string]string{
				"SMSAPI_ISSUER": auth.issuer, "SMSAPI_CLIENT_ID": rs.id, "SMSAPI_CLIENT_SECRET": rs.secret,
				"SMSAPI_CACHE_TTL": "0s", "SMSAPI_JWT_LOCAL": map[string]string{"opaque": "false", "jwt": "true"}[format],
				"SMSAPI_FEED": "false",
			}, "--http-addr", "127.0.0.1:0", "--log-format", "json")
			daemon := func() *oauthclient.Client {
				key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
				c, err := oauthclient.New(oauthclient.Config{TokenURL: auth.issuer + "/oauth/token", ClientID: app.ClientID, ClientSecret: secret, DPoPKey: key})
				if err != nil {
					t.Fatal(err)
				}
				return c
			}
			d := daemon()
			tok, err := d.Token(context.Background())
			if err != nil || tok.TokenType != "DPoP" {
				t.Fatalf("token %+v, %v: want a DPoP-bound one from oauthd", tok, err)
			}
			if code, m, _ := send(t, d.HTTPClient(), "POST", api.URL+"/v1/sms", sendBody, nil); code != 201 {
				t.Fatalf("the daemon's request with its proof: %d %v", code, m)
			}
			if code, m, _ := send(t, http.DefaultClient, "POST", api.URL+"/v1/sms", sendBody, map[string]string{"Authorization": "Bearer " + tok.AccessToken}); code != 401 || m["error"] != "invalid_token" {
				t.Errorf("the token as Bearer: %d %v, want 401 invalid_token", code, m)
			}
			proof, err := daemon().DPoP().Proof("POST", api.URL+"/v1/sms", tok.AccessToken, "")
			if err != nil {
				t.Fatal(err)
			}
			if code, m, www := send(t, http.DefaultClient, "POST", api.URL+"/v1/sms", sendBody,
				map[string]string{"Authorization": "DPoP " + tok.AccessToken, "DPoP": proof}); code != 401 || len(www) == 0 || !strings.HasPrefix(www[0], "DPoP ") {
				t.Errorf("the token with another key's proof: %d %v %q, want 401 with a DPoP challenge", code, m, www)
			}
			if format == "opaque" {
				if code, m := auth.post(t, "/oauth/revoke", credentials{app.ClientID, secret}, url.Values{"token": {tok.AccessToken}}); code != 200 {
					t.Fatalf("revoke: %d %v", code, m)
				}
				if code, _, _ := send(t, d.HTTPClient(), "POST", api.URL+"/v1/sms", sendBody, nil); code != 401 {
					t.Errorf("the revoked token with its own proof: %d, want 401", code)
				}
			}
		})
	}
}
