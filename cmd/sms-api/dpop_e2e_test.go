package main

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/oauthd/oauthd/cmd/internal/runtest"
	"github.com/oauthd/oauthd/cmd/internal/tlsreload/tlstest"
	"github.com/oauthd/oauthd/server/oauthclient"
	"github.com/oauthd/oauthd/store/redis/redistest"
)

// bindingAuthServer stands in for oauthd's side of issue 19 (oauthd itself
// is run by TestDPoPWithOAuthd): a token endpoint that binds a token to the key of the DPoP
// proof it comes with (cnf.jkt, token_type DPoP), and an introspection
// endpoint that answers the binding, as RFC 9449 §5 and §6.2 say. Tokens
// bound to a certificate are added by the tests (bindCert).
type bindingAuthServer struct {
	srv *httptest.Server

	mu  sync.Mutex
	cnf map[string]map[string]string // token → cnf
}

func startBindingAuthServer(t *testing.T) *bindingAuthServer {
	t.Helper()
	a := &bindingAuthServer{cnf: map[string]map[string]string{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/oauth-authorization-server", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]string{"issuer": a.srv.URL, "token_endpoint": a.srv.URL + "/oauth/token",
			"introspection_endpoint": a.srv.URL + "/oauth/introspect"})
	})
	mux.HandleFunc("POST /oauth/token", func(w http.ResponseWriter, r *http.Request) {
		if id, secret, ok := r.BasicAuth(); !ok || id != "daemon" || secret != "daemon-secret" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		tok, typ := "oat_"+randomToken(), "Bearer"
		if proof := r.Header.Get("DPoP"); proof != "" {
			jws, err := jose.ParseSigned(proof, []jose.SignatureAlgorithm{jose.ES256, jose.EdDSA})
			if err != nil || jws.Signatures[0].Header.JSONWebKey == nil {
				http.Error(w, `{"error":"invalid_dpop_proof"}`, http.StatusBadRequest)
				return
			}
			jwk := jws.Signatures[0].Header.JSONWebKey
			if _, err := jws.Verify(jwk); err != nil {
				http.Error(w, `{"error":"invalid_dpop_proof"}`, http.StatusBadRequest)
				return
			}
			sum, _ := jwk.Thumbprint(crypto.SHA256)
			a.bind(tok, map[string]string{"jkt": base64.RawURLEncoding.EncodeToString(sum)})
			typ = "DPoP"
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"access_token": tok, "token_type": typ, "expires_in": 3600, "scope": "sms reports groups"})
	})
	mux.HandleFunc("POST /oauth/introspect", func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		a.mu.Lock()
		cnf, ok := a.cnf[r.PostForm.Get("token")]
		a.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if !ok {
			fmt.Fprint(w, `{"active":false}`)
			return
		}
		answer := map[string]any{"active": true, "client_id": "daemon", "scope": "sms reports groups", "token_type": "Bearer"}
		if len(cnf) > 0 {
			answer["cnf"] = cnf
		}
		if cnf["jkt"] != "" {
			answer["token_type"] = "DPoP"
		}
		json.NewEncoder(w).Encode(answer)
	})
	a.srv = httptest.NewServer(mux)
	t.Cleanup(a.srv.Close)
	return a
}

func (a *bindingAuthServer) bind(token string, cnf map[string]string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.cnf[token] = cnf
}

func randomToken() string {
	b := make([]byte, 24)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func (a *bindingAuthServer) env(extra map[string]string) map[string]string {
	env := map[string]string{"SMSAPI_ISSUER": a.srv.URL, "SMSAPI_CLIENT_ID": "rs", "SMSAPI_CLIENT_SECRET": "rs-secret", "SMSAPI_FEED": "false"}
	for k, v := range extra {
		env[k] = v
	}
	return env
}

// daemon is a client of the oauthclient package asking for DPoP-bound
// tokens from a.
func (a *bindingAuthServer) daemon(t *testing.T) *oauthclient.Client {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	c, err := oauthclient.New(oauthclient.Config{TokenURL: a.srv.URL + "/oauth/token", ClientID: "daemon", ClientSecret: "daemon-secret", DPoPKey: key})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// send makes a request with the given headers and returns its status,
// its JSON body and its challenges.
func send(t *testing.T, hc *http.Client, method, url, body string, header map[string]string) (int, map[string]any, []string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	code, m := doWith(t, hc, req)
	return code, m, m["_www_all"].([]string)
}

// The two halves of issue 19 that exist, together: a daemon on the
// oauthclient package gets a DPoP-bound token and uses it at the sms-api
// program; the same token stolen is refused, as a bearer token and with
// another key's proof; with SMSAPI_DPOP_NONCE the daemon follows the
// nonce flow unaided.
func TestDPoPEndToEnd(t *testing.T) {
	auth := startBindingAuthServer(t)
	for _, nonce := range []string{"false", "true"} {
		t.Run("nonce="+nonce, func(t *testing.T) {
			api := runtest.Start(t, runTest, "sms-api listening", auth.env(map[string]string{"SMSAPI_DPOP_NONCE": nonce}),
				"--http-addr", "127.0.0.1:0", "--log-format", "json")
			d := auth.daemon(t)
			hc := d.HTTPClient()
			code, m, _ := send(t, hc, "POST", api.URL+"/v1/sms", sendBody, nil)
			if code != 201 || m["client_id"] != "daemon" {
				t.Fatalf("the daemon's request: %d %v", code, m)
			}
			if code, _, _ := send(t, hc, "GET", api.URL+"/v1/sms/"+m["id"].(string), "", nil); code != 200 {
				t.Fatalf("the daemon's second request: %d", code)
			}
			tok, err := d.Token(context.Background())
			if err != nil || tok.TokenType != "DPoP" {
				t.Fatalf("token %+v, %v: want a DPoP-bound one", tok, err)
			}

			code, m, www := send(t, http.DefaultClient, "POST", api.URL+"/v1/sms", sendBody, map[string]string{"Authorization": "Bearer " + tok.AccessToken})
			if code != 401 || m["error"] != "invalid_token" || len(www) != 2 ||
				!strings.HasPrefix(www[0], `Bearer realm="sms-api", error="invalid_token", error_description="the token is DPoP-bound`) ||
				!strings.HasPrefix(www[1], `DPoP realm="sms-api", algs="ES256 EdDSA Ed25519 RS256 PS256"`) {
				t.Fatalf("the stolen token as Bearer: %d %v %q", code, m, www)
			}
			thief := auth.daemon(t)
			proof, err := thief.DPoP().Proof("POST", api.URL+"/v1/sms", tok.AccessToken, "")
			if err != nil {
				t.Fatal(err)
			}
			code, m, www = send(t, http.DefaultClient, "POST", api.URL+"/v1/sms", sendBody, map[string]string{"Authorization": "DPoP " + tok.AccessToken, "DPoP": proof})
			want := `error="invalid_token", error_description="invalid DPoP key binding`
			if nonce == "true" {
				want = `error="use_dpop_nonce"` // the thief has no nonce yet; with one, the binding fails as above
			}
			if code != 401 || len(www) == 0 || !strings.HasPrefix(www[0], "DPoP ") || !strings.Contains(www[0], want) {
				t.Fatalf("the stolen token with another key's proof: %d %v %q", code, m, www)
			}
		})
	}
}

// Two sms-api processes sharing the Redis replay cache, with one public
// URL (as behind one load balancer): a proof accepted by one is refused
// by the other.
func TestDPoPReplayAcrossReplicas(t *testing.T) {
	auth := startBindingAuthServer(t)
	rs := redistest.Start(t, redistest.Mini)
	const public = "https://sms.example.com"
	env := auth.env(map[string]string{"SMSAPI_DPOP_REPLAY_REDIS_URL": rs.URL, "SMSAPI_PUBLIC_URL": public})
	a := runtest.Start(t, runTest, "sms-api listening", env, "--http-addr", "127.0.0.1:0", "--log-format", "json")
	b := runtest.Start(t, runTest, "sms-api listening", env, "--http-addr", "127.0.0.1:0", "--log-format", "json")
	d := auth.daemon(t)
	tok, err := d.Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	proof, err := d.DPoP().Proof("GET", public+"/v1/groups", tok.AccessToken, "")
	if err != nil {
		t.Fatal(err)
	}
	h := map[string]string{"Authorization": "DPoP " + tok.AccessToken, "DPoP": proof}
	if code, m, _ := send(t, http.DefaultClient, "GET", a.URL+"/v1/groups", "", h); code != 200 {
		t.Fatalf("replica a: %d %v", code, m)
	}
	code, m, www := send(t, http.DefaultClient, "GET", b.URL+"/v1/groups", "", h)
	if code != 401 || m["error"] != "invalid_dpop_proof" || !strings.Contains(www[0], "was used before") {
		t.Fatalf("the replay at replica b: %d %v %q", code, m, www)
	}
}

// The HTTPS listener asks for a client certificate, and a token bound to
// one (RFC 8705) is accepted only over a connection that presented it.
func TestCertificateBoundToken(t *testing.T) {
	auth := startBindingAuthServer(t)
	server := tlstest.New(t, 1)
	certFile, keyFile := server.Write(t, t.TempDir())
	api := runtest.Start(t, runTest, "sms-api listening", auth.env(map[string]string{
		"SMSAPI_TLS_ADDR": "127.0.0.1:0", "SMSAPI_TLS_CERT_FILE": certFile, "SMSAPI_TLS_KEY_FILE": keyFile,
	}), "--http-addr", "127.0.0.1:0", "--log-format", "json")
	m := regexp.MustCompile(`"msg":"sms-api TLS listening","addr":"([^"]+)"`).FindStringSubmatch(api.Logs.String())
	if m == nil {
		t.Fatalf("no TLS listener in the logs:\n%s", api.Logs)
	}
	tlsURL := "https://" + m[1]

	clientCert := func(serial int64) (tls.Certificate, string) {
		c := tlstest.New(t, serial)
		pair, err := tls.X509KeyPair(c.CertPEM, c.KeyPEM)
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(pair.Certificate[0])
		return pair, base64.RawURLEncoding.EncodeToString(sum[:])
	}
	mine, x5t := clientCert(2)
	theirs, _ := clientCert(3)
	tok := "oat_cert_bound"
	auth.bind(tok, map[string]string{"x5t#S256": x5t})
	over := func(certs ...tls.Certificate) *http.Client {
		return &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: server.Pool, Certificates: certs}}}
	}
	h := map[string]string{"Authorization": "Bearer " + tok}
	if code, m, _ := send(t, over(mine), "GET", tlsURL+"/v1/groups", "", h); code != 200 {
		t.Fatalf("with its certificate: %d %v", code, m)
	}
	for name, hc := range map[string]*http.Client{"no certificate": over(), "another certificate": over(theirs), "plain HTTP": http.DefaultClient} {
		url := tlsURL
		if name == "plain HTTP" {
			url = api.URL
		}
		code, m, www := send(t, hc, "GET", url+"/v1/groups", "", h)
		if code != 401 || m["error"] != "invalid_token" || !strings.Contains(www[0], "client certificate") {
			t.Errorf("%s: %d %v %q", name, code, m, www)
		}
	}
}
