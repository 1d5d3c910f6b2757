package introspect

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"testing"
)

// A certificate-bound token (RFC 8705 §3) is accepted only from a client
// that presented its certificate: on the connection, or forwarded by a
// trusted proxy in ClientCertHeader. The certificate is compared by its
// SHA-256 alone, so any bytes stand for a DER certificate here.
func TestCertificateBound(t *testing.T) {
	mine, theirs := []byte("the client's DER certificate"), []byte("another DER certificate")
	sum := sha256.Sum256(mine)
	f := newFake(t)
	f.set("tok", boundAnswer("sms", Confirmation{X5tS256: b64u(sum[:])}))
	cfg := f.config()
	cfg.Realm = "test"
	cfg.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	cfg.ClientCertHeader = "client-cert"
	h := newClient(t, cfg).Require("sms")(okHandler())

	onConn := func(der []byte) func(r *http.Request) {
		return func(r *http.Request) {
			r.TLS = &tls.ConnectionState{PeerCertificates: []*x509.Certificate{{Raw: der}}}
		}
	}
	forwarded := func(peer, value string) func(r *http.Request) {
		return func(r *http.Request) {
			r.RemoteAddr = peer
			r.Header.Set("Client-Cert", value)
		}
	}
	rfc9440 := ":" + base64.StdEncoding.EncodeToString(mine) + ":"
	escapedPEM := url.PathEscape(string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: mine})))
	refused := []string{bearerChallenge("invalid_token", refusals[refCertMismatch].desc), bareDPoP}
	for _, tt := range []struct {
		name       string
		setup      func(r *http.Request)
		status     int
		challenges []string
	}{
		{"its certificate", onConn(mine), 200, nil},
		{"no certificate", func(*http.Request) {}, 401, refused},
		{"another certificate", onConn(theirs), 401, refused},
		{"forwarded by a trusted proxy (RFC 9440)", forwarded("10.0.0.2:1000", rfc9440), 200, nil},
		{"forwarded by a trusted proxy (escaped PEM)", forwarded("10.0.0.2:1000", escapedPEM), 200, nil},
		{"forwarded by anyone else", forwarded("203.0.113.9:1000", rfc9440), 401, refused},
		{"forwarded, another certificate", forwarded("10.0.0.2:1000", ":"+base64.StdEncoding.EncodeToString(theirs)+":"), 401, refused},
		{"forwarded, garbage", forwarded("10.0.0.2:1000", "not a certificate"), 401, refused},
		{"behind the proxy, the proxy's own certificate does not count", func(r *http.Request) {
			onConn(mine)(r)
			r.RemoteAddr = "10.0.0.2:1000"
		}, 401, refused},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", rsURL, nil)
			r.Header.Set("Authorization", "Bearer tok")
			tt.setup(r)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, r)
			checkAnswer(t, rec, tt.status, tt.challenges)
		})
	}
	if _, err := New(Config{Endpoint: "http://x", ClientID: "a", ClientSecret: "b", ClientCertHeader: "Client-Cert"}); err == nil {
		t.Fatal("ClientCertHeader without TrustedProxies accepted: anyone could claim a certificate")
	}
}
