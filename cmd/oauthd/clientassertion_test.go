package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/oauthd/oauthd/server/admin/adminapi"
	"github.com/oauthd/oauthd/server/oauthclient"
	"github.com/oauthd/oauthd/store/redis/redistest"
)

// assertionBody is a token request body authenticating clientID with a
// fresh assertion signed by key (alg), aud the issuer. The assertion is
// registered with the leak scan: it must appear in no log line and no
// audit event.
func assertionBody(t *testing.T, clientID, issuer string, key any, alg jose.SignatureAlgorithm) string {
	t.Helper()
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, nil)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	claims, _ := json.Marshal(map[string]any{"iss": clientID, "sub": clientID, "aud": issuer, "jti": rand.Text(),
		"iat": now.Unix(), "exp": now.Add(time.Minute).Unix()})
	obj, err := s.Sign(claims)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := obj.CompactSerialize()
	leaks.register("client assertion", a)
	return url.Values{"grant_type": {"client_credentials"}, "client_assertion": {a},
		"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}}.Encode()
}

// The whole program with keys instead of shared secrets (issue 18): an
// application made with the CLI from a PEM public key gets a token with
// private_key_jwt, once per assertion; one made for client_secret_jwt gets
// one with an HS256 assertion of its secret, sealed in Redis with the
// deployment's key, and its bare secret is refused; the assertions reach
// no log line and no audit event (the leak scan).
func TestClientAssertionWholeProgram(t *testing.T) {
	t.Parallel()
	rs := startScannedRedis(t, redistest.Mini)
	sealing := newSealingKey(t)
	key, digest := newAdminKey(t)
	p := startOAuthd(t, map[string]string{"OAUTHD_ADMIN_KEY_SHA256": digest, "OAUTHD_JWT_SEALING_KEY": sealing}, "--redis-url", rs.URL)
	cli := cliOK(t, map[string]string{"OAUTHD_ENDPOINT": p.URL, "OAUTHD_ADMIN_KEY": key})
	pub, _, privFile := writePEM(t)
	raw, _ := os.ReadFile(privFile)
	block, _ := pem.Decode(raw)
	priv, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(p.URL + "/.well-known/oauth-authorization-server")
	if err != nil {
		t.Fatal(err)
	}
	issuer, _ := getJSON(t, resp)["issuer"].(string)

	var keyApp, hmacApp adminapi.Application
	if err := json.Unmarshal([]byte(cli("apps", "create", "--json", "--name", "billing", "--scopes", "sms",
		"--auth-method", "private_key_jwt", "--public-key-file", pub)), &keyApp); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(cli("apps", "create", "--json", "--name", "hmac", "--scopes", "sms",
		"--auth-method", "client_secret_jwt")), &hmacApp); err != nil {
		t.Fatal(err)
	}
	token := func(body, auth string) int {
		t.Helper()
		resp := postForm(t, p.URL+"/oauth/token", body, auth)
		defer resp.Body.Close()
		return resp.StatusCode
	}
	es := assertionBody(t, keyApp.ClientID, issuer, priv.(*ecdsa.PrivateKey), jose.ES256)
	hs := assertionBody(t, hmacApp.ClientID, issuer, []byte(hmacApp.ClientSecret), jose.HS256)
	for _, tt := range []struct {
		name, body, auth string
		want             int
	}{
		{"private_key_jwt", es, "", 200},
		{"the same assertion again", es, "", 401},
		{"client_secret_jwt", hs, "", 200},
		{"client_secret_jwt's secret sent as it is", "grant_type=client_credentials", basicAuth(hmacApp.ClientID, hmacApp.ClientSecret), 401},
		{"a made-up secret for the key application", "grant_type=client_credentials", basicAuth(keyApp.ClientID, "ocs_"+strings.Repeat("a", 43)), 401},
	} {
		if got := token(tt.body, tt.auth); got != tt.want {
			t.Errorf("%s: %d, want %d", tt.name, got, tt.want)
		}
	}
	// The Go package for daemons (README) authenticates with the same key,
	// a fresh assertion per token request.
	c, err := oauthclient.New(oauthclient.Config{TokenURL: p.URL + "/oauth/token", ClientID: keyApp.ClientID, Key: priv.(*ecdsa.PrivateKey)})
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		c.Forget()
		if tok, err := c.Token(context.Background()); err != nil || !strings.HasPrefix(tok.AccessToken, "oat_") {
			t.Fatalf("oauthclient with private_key_jwt: %v %+v", err, tok)
		}
	}
	// 4xx lines are batched (log.buffer): the line comes within it.
	waitFor(t, 5*time.Second, "the replay's log line", func() bool { return strings.Contains(p.Logs.String(), "client assertion replayed") })
}
