package main

import (
	"context"
	"testing"
	"time"

	"golang.org/x/oauth2/clientcredentials"

	"github.com/oauthd/oauthd/cmd/internal/runtest"
	"github.com/oauthd/oauthd/server/apps"
	"github.com/oauthd/oauthd/store/redis/redistest"
)

// JWT access tokens at the SMS API, validated locally (SMSAPI_JWT_LOCAL)
// and by introspection: both accept a good token and refuse one meant for
// another service, a tampered one and an expired one; local validation
// refetches the JWKS after a key rotation.
func TestJWTAtTheResourceServer(t *testing.T) {
	auth := startAuthServer(t, redistest.Mini)
	rs := auth.create(t, "tokens:introspect", "")
	ctx := context.Background()
	app, secret, err := auth.apps.Create(ctx, apps.NewApplication{Name: "jwt", Scopes: []string{"sms"}, TokenLifetime: "1h",
		TokenFormat: "jwt", Audiences: []string{"https://sms.example", "https://voice.example"}})
	if err != nil {
		t.Fatal(err)
	}
	token := func(resource ...string) string {
		t.Helper()
		cfg := clientcredentials.Config{ClientID: app.ClientID, ClientSecret: secret, TokenURL: auth.issuer + "/oauth/token"}
		if len(resource) > 0 {
			cfg.EndpointParams = map[string][]string{"resource": resource}
		}
		tok, err := cfg.Token(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return tok.AccessToken
	}
	for _, local := range []string{"true", "false"} {
		t.Run("jwt_local="+local, func(t *testing.T) {
			api := runtest.Start(t, runTest, "sms-api listening", map[string]string{
				"SMSAPI_ISSUER": auth.issuer, "SMSAPI_CLIENT_ID": rs.id, "SMSAPI_CLIENT_SECRET": rs.secret,
				"SMSAPI_CACHE_TTL": "0s", "SMSAPI_AUDIENCE": "https://sms.example", "SMSAPI_JWT_LOCAL": local,
				"SMSAPI_JWKS_REFRESH_FLOOR": "100ms",
			}, "--http-addr", "127.0.0.1:0", "--log-format", "json")
			good := token()
			if code, m := call(t, "POST", api.URL+"/v1/sms", good, sendBody); code != 201 {
				t.Fatalf("a JWT for this service: %d %v", code, m)
			}
			if code, _ := call(t, "POST", api.URL+"/v1/sms", token("https://sms.example"), sendBody); code != 201 {
				t.Fatalf("a JWT narrowed to this service: %d", code)
			}
			if code, m := call(t, "POST", api.URL+"/v1/sms", token("https://voice.example"), sendBody); code != 401 || m["error"] != "invalid_token" {
				t.Fatalf("a JWT for another service: %d %v", code, m)
			}
			if code, _ := call(t, "POST", api.URL+"/v1/sms", good[:len(good)-4]+"AAAA", sendBody); code != 401 {
				t.Fatalf("a tampered JWT: %d", code)
			}
			// A rotation: the new key is published, then signs; local
			// validation fetches the JWKS again for its kid.
			if _, err := auth.apps.RotateSigningKey(ctx); err != nil {
				t.Fatal(err)
			}
			auth.clk.advance(time.Minute + time.Second)
			// An unknown kid refetches the JWKS, at most every 100ms here:
			// poll until the floor has passed.
			rotated := token()
			deadline := time.Now().Add(5 * time.Second)
			for {
				code, m := call(t, "POST", api.URL+"/v1/sms", rotated, sendBody)
				if code == 201 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("a JWT of the rotated-in key: %d %v", code, m)
				}
				time.Sleep(50 * time.Millisecond)
			}
			if code, _ := call(t, "POST", api.URL+"/v1/sms", good, sendBody); code != 201 {
				t.Fatalf("a JWT of the old key while it is still published: %d", code)
			}
		})
	}
}

// Key rotation under load refuses no valid token: daemons fetch JWTs and
// send them to two resource servers (one validating locally, one
// introspecting) while the key is rotated three times.
func TestJWTKeyRotationUnderLoad(t *testing.T) {
	auth := startAuthServer(t, redistest.Mini)
	rs := auth.create(t, "tokens:introspect", "")
	ctx := context.Background()
	app, secret, err := auth.apps.Create(ctx, apps.NewApplication{Name: "jwt", Scopes: []string{"sms"}, TokenLifetime: "1h", TokenFormat: "jwt"})
	if err != nil {
		t.Fatal(err)
	}
	var urls []string
	for _, local := range []string{"true", "false"} {
		api := runtest.Start(t, runTest, "sms-api listening", map[string]string{
			"SMSAPI_ISSUER": auth.issuer, "SMSAPI_CLIENT_ID": rs.id, "SMSAPI_CLIENT_SECRET": rs.secret,
			"SMSAPI_CACHE_TTL": "0s", "SMSAPI_JWT_LOCAL": local, "SMSAPI_JWKS_REFRESH_FLOOR": "1h",
		}, "--http-addr", "127.0.0.1:0", "--log-format", "json")
		urls = append(urls, api.URL)
	}
	cfg := clientcredentials.Config{ClientID: app.ClientID, ClientSecret: secret, TokenURL: auth.issuer + "/oauth/token"}
	stop := make(chan struct{})
	type result struct{ sent, refused int }
	results := make(chan result)
	for w := range 4 {
		go func() {
			var r result
			defer func() { results <- r }()
			for {
				select {
				case <-stop:
					return
				default:
				}
				tok, err := cfg.Token(ctx)
				if err != nil {
					t.Error(err)
					return
				}
				for _, u := range urls {
					r.sent++
					if code, m := call(t, "POST", u+"/v1/sms", tok.AccessToken, sendBody); code != 201 {
						r.refused++
						t.Errorf("worker %d: a valid JWT refused at %s: %d %v", w, u, code, m)
					}
				}
			}
		}()
	}
	for range 3 {
		if _, err := auth.apps.RotateSigningKey(ctx); err != nil {
			t.Fatal(err)
		}
		// The oauthd clock moves past the publish delay: the new key signs.
		auth.clk.advance(time.Minute + time.Second)
		time.Sleep(100 * time.Millisecond) // let the load run on the new key
	}
	close(stop)
	var total result
	for range 4 {
		r := <-results
		total.sent += r.sent
		total.refused += r.refused
	}
	t.Logf("jwt: %d requests across 3 rotations, %d refused", total.sent, total.refused)
	if total.sent < 20 || total.refused != 0 {
		t.Fatalf("%d of %d valid JWTs refused during rotations", total.refused, total.sent)
	}
}
