package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/oauthd/oauthd/store/redis/redistest"
)

// TestRedisTLSAndACL runs oauthd against a TLS-only redis-server that
// demands a client certificate (tls-auth-clients) and an ACL user whose
// password comes from a file: the settings an operator of a hardened Redis
// needs, and a password that never sits in a URL.
func TestRedisTLSAndACL(t *testing.T) {
	t.Parallel()
	redistest.NeedBinaries(t, "redis-server")
	dir := t.TempDir()
	ca, caKey := newCert(t, dir, "ca", nil, nil)
	newCert(t, dir, "server", ca, caKey)
	newCert(t, dir, "client", ca, caKey)
	pw := filepath.Join(dir, "pw")
	if err := os.WriteFile(pw, []byte("s3cret-acl-password\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	rp := redistest.StartProcess(t, "redis-server", "Ready to accept connections",
		"--save", "", "--appendonly", "no", "--tls-port", "{port}",
		"--tls-cert-file", filepath.Join(dir, "server.pem"), "--tls-key-file", filepath.Join(dir, "server.key"),
		"--tls-ca-cert-file", filepath.Join(dir, "ca.pem"), "--tls-auth-clients", "yes",
		"--user", "default", "off", "--user", "oauthd", "on", ">s3cret-acl-password", "~*", "&*", "+@all")

	flags := []string{"--redis-url", "rediss://" + rp.Addr(), "--redis-username", "oauthd", "--redis-password-file", pw,
		"--redis-tls-ca-file", filepath.Join(dir, "ca.pem"),
		"--redis-tls-cert-file", filepath.Join(dir, "client.pem"), "--redis-tls-key-file", filepath.Join(dir, "client.key")}
	a := createAppOn(t, flags, "--name", "tls", "--scopes", "sms")
	p := startOAuthd(t, nil, flags...)
	resp := postForm(t, p.URL+"/oauth/token", "grant_type=client_credentials", basicAuth(a.ClientID, a.ClientSecret))
	if body := getJSON(t, resp); resp.StatusCode != 200 {
		t.Fatalf("token over TLS with a client certificate: %d %v", resp.StatusCode, body)
	}
	if contains(p.Logs.String(), "s3cret-acl-password") {
		t.Fatal("the Redis password reached the log")
	}
	// Without the client certificate, or with a wrong password, Redis refuses.
	for name, bad := range map[string][]string{
		"no client certificate": flags[:len(flags)-4],
		"wrong password":        append([]string{"--redis-url", "rediss://oauthd:wrong@" + rp.Addr()}, flags[6:]...),
	} {
		if _, err := runCLI(t, nil, append([]string{"apps", "list"}, bad...)...); err == nil || !strings.Contains(err.Error(), "cannot reach Redis") {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// newCert writes name.pem and name.key: a CA when parent is nil, else a
// loopback server and client certificate signed by parent.
func newCert(t *testing.T, dir, name string, parent *x509.Certificate, parentKey *ecdsa.PrivateKey) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: "oauthd test " + name},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		KeyUsage:     x509.KeyUsageDigitalSignature,
	}
	signer, signerKey := tmpl, key
	if parent == nil {
		tmpl.IsCA, tmpl.BasicConstraintsValid = true, true
		tmpl.KeyUsage |= x509.KeyUsageCertSign
	} else {
		signer, signerKey = parent, parentKey
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, signer, &key.PublicKey, signerKey)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	write := func(file, typ string, b []byte) {
		if err := os.WriteFile(filepath.Join(dir, file), pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: b}), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(name+".pem", "CERTIFICATE", der)
	write(name+".key", "EC PRIVATE KEY", kb)
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert, key
}
