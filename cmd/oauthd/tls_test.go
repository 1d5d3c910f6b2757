package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptrace"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/oauthd/oauthd/cmd/internal/tlsreload/tlstest"
)

// servedSerial opens a new TLS connection to addr and returns the serial
// number of the certificate the server presented.
func servedSerial(t *testing.T, addr string, roots *x509.CertPool) int64 {
	t.Helper()
	conn, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: roots})
	if err != nil {
		t.Fatalf("TLS dial: %v", err)
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0].SerialNumber.Int64()
}

// waitForSerial dials new connections until the server presents the
// certificate with serial want (the reload is the signal; the deadline
// bounds the wait).
func waitForSerial(t *testing.T, addr string, roots *x509.CertPool, want int64, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		got := servedSerial(t, addr, roots)
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("still serving certificate %d %v after the files changed, want %d", got, within, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestServeTLS runs oauthd with a certificate from the config: a token over
// https, TLS 1.1 refused, an https issuer, and a renewed certificate served
// to new connections while an open one keeps working.
func TestServeTLS(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	one, two := tlstest.New(t, 1), tlstest.New(t, 2)
	certFile, keyFile := one.Write(t, dir)
	p := startOAuthd(t, nil, "--tls-cert-file", certFile, "--tls-key-file", keyFile, "--admin-addr", "127.0.0.1:0")
	addr := strings.TrimPrefix(p.URL, "http://")
	base := "https://" + addr
	id, secret := demoCredentials(t, p)

	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: one.Pool}}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	cc := clientcredentials.Config{ClientID: id, ClientSecret: secret, TokenURL: base + "/oauth/token"}
	tok, err := cc.Token(context.WithValue(context.Background(), oauth2.HTTPClient, client))
	if err != nil || !strings.HasPrefix(tok.AccessToken, "oat_") {
		t.Fatalf("token over https: %v %+v", err, tok)
	}
	resp, err := client.Get(base + "/.well-known/oauth-authorization-server")
	if err != nil {
		t.Fatal(err)
	}
	if md := getJSON(t, resp); md["issuer"] != base {
		t.Fatalf("issuer %v, want the https default", md["issuer"])
	}
	// The admin listener serves the same certificate.
	var adminAddr string
	for _, line := range strings.Split(p.Logs.String(), "\n") {
		var rec struct{ Msg, Addr string }
		if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "oauthd admin listening" {
			adminAddr = rec.Addr
		}
	}
	if adminAddr == "" || servedSerial(t, adminAddr, one.Pool) != 1 {
		t.Fatalf("admin listener %q does not serve the certificate", adminAddr)
	}

	versions := []struct {
		name     string
		min, max uint16
		ok       bool
	}{
		{"TLS 1.0", tls.VersionTLS10, tls.VersionTLS10, false},
		{"TLS 1.1", tls.VersionTLS10, tls.VersionTLS11, false},
		{"TLS 1.2", tls.VersionTLS12, tls.VersionTLS12, true},
		{"TLS 1.3", tls.VersionTLS13, tls.VersionTLS13, true},
	}
	for _, v := range versions {
		conn, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: one.Pool, MinVersion: v.min, MaxVersion: v.max})
		if err == nil {
			conn.Close()
		}
		// "remote error": the server refused, not our own client.
		if (err == nil) != v.ok || (err != nil && !contains(err.Error(), "remote error: tls: protocol version not supported")) {
			t.Errorf("%s: handshake error %v, want accepted=%v", v.name, err, v.ok)
		}
	}

	// Renew the certificate in place: new connections get it; the open
	// keep-alive connection carries on.
	both := x509.NewCertPool()
	both.AppendCertsFromPEM(one.CertPEM)
	both.AppendCertsFromPEM(two.CertPEM)
	two.Write(t, dir)
	waitForSerial(t, addr, both, 2, 10*time.Second)
	if servedSerial(t, adminAddr, both) != 2 {
		t.Error("the admin listener still serves the old certificate")
	}
	var reused bool
	trace := &httptrace.ClientTrace{GotConn: func(i httptrace.GotConnInfo) { reused = i.Reused }}
	req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), http.MethodGet, base+"/health/alive", nil)
	resp, err = client.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("request on the connection opened before the renewal: %v", err)
	}
	resp.Body.Close()
	if !reused {
		t.Error("the request did not reuse the connection opened before the renewal")
	}

	// A broken file keeps the current certificate and says so.
	tlstest.WriteFile(t, certFile, []byte("-----BEGIN CERTIFICATE-----\ntruncated"))
	deadline := time.Now().Add(10 * time.Second)
	for !contains(p.Logs.String(), "TLS certificate not reloaded") {
		if time.Now().After(deadline) {
			t.Fatalf("no error logged for a broken certificate file:\n%s", p.Logs)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if got := servedSerial(t, addr, both); got != 2 {
		t.Fatalf("serving %d after a broken renewal, want 2 (the last good one)", got)
	}
	// The TLS 1.0 and 1.1 handshakes refused long before are debug lines
	// (scanners and TCP health checks make them all day); the log runs at
	// info.
	if contains(p.Logs.String(), "TLS handshake error") {
		t.Errorf("a refused handshake was logged above debug level:\n%s", p.Logs)
	}
}

// TestServeTLSReloadOnSIGHUP runs the binary and renews its certificate
// with SIGHUP, as cert-manager or a certbot deploy hook would.
func TestServeTLSReloadOnSIGHUP(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	one, two := tlstest.New(t, 1), tlstest.New(t, 2)
	certFile, keyFile := one.Write(t, dir)
	cmd := exec.Command(oauthdBinary(t), "serve", "--http-addr", "127.0.0.1:0", "--log-format", "json",
		"--tls-cert-file", certFile, "--tls-key-file", keyFile)
	cmd.Env = append(os.Environ(), oauthdMainEnv+"=1")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	type record struct{ Msg, Addr, Trigger, Serial string }
	records := make(chan record, 64)
	go func() {
		defer close(records)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			var r record
			if json.Unmarshal(sc.Bytes(), &r) == nil {
				records <- r
			}
		}
	}()
	waitFor := func(match func(record) bool) record {
		t.Helper()
		timeout := time.After(30 * time.Second)
		for {
			select {
			case r, ok := <-records:
				if !ok {
					t.Fatal("oauthd exited")
				}
				if match(r) {
					return r
				}
			case <-timeout:
				t.Fatal("log line not seen within 30s")
			}
		}
	}
	exited := false
	defer func() {
		if !exited {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	}()
	addr := waitFor(func(r record) bool { return r.Msg == "oauthd listening" }).Addr
	if servedSerial(t, addr, one.Pool) != 1 {
		t.Fatal("not serving the configured certificate")
	}
	two.Write(t, dir)
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitFor(func(r record) bool { return r.Msg == "TLS certificate reloaded" && r.Trigger == "hangup" })
	if got := servedSerial(t, addr, two.Pool); got != 2 {
		t.Fatalf("serving %d after SIGHUP, want 2", got)
	}
	// SIGHUP did not stop the process; SIGINT still shuts it down cleanly.
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	for range records {
	}
	exited = true
	if err := cmd.Wait(); err != nil {
		t.Fatalf("oauthd exited with %v after SIGINT", err)
	}
}

// A listener reachable from other machines without TLS gets one loud
// warning line at start-up; loopback and TLS listeners none.
func TestPlainHTTPWarning(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	certFile, keyFile := tlstest.New(t, 1).Write(t, dir)
	tests := []struct {
		name string
		args []string
		want []string // the settings warned about
	}{
		{"loopback", []string{"--admin-addr", "127.0.0.1:0"}, nil},
		{"public on every interface", []string{"--http-addr", "0.0.0.0:0"}, []string{"http.addr"}},
		{"admin on every interface", []string{"--admin-addr", "0.0.0.0:0"}, []string{"admin.addr"}},
		{"both on every interface", []string{"--http-addr", "0.0.0.0:0", "--admin-addr", "0.0.0.0:0"}, []string{"admin.addr", "http.addr"}},
		{"every interface with TLS", []string{"--http-addr", "0.0.0.0:0", "--admin-addr", "0.0.0.0:0", "--tls-cert-file", certFile, "--tls-key-file", keyFile}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := startOAuthd(t, nil, tt.args...)
			// Warnings are logged before "oauthd listening", which
			// startOAuthd waited for.
			var got []string
			for _, line := range strings.Split(p.Logs.String(), "\n") {
				var rec struct{ Level, Msg, Setting string }
				if json.Unmarshal([]byte(line), &rec) == nil && strings.HasPrefix(rec.Msg, "serving plain HTTP") {
					if rec.Level != "WARN" || !contains(rec.Msg, "tls.cert_file") {
						t.Errorf("warning %s %q: want WARN naming what to set", rec.Level, rec.Msg)
					}
					got = append(got, rec.Setting)
				}
			}
			if strings.Join(got, " ") != strings.Join(tt.want, " ") {
				t.Fatalf("warned about %v, want %v\n%s", got, tt.want, p.Logs)
			}
		})
	}
}

// asksForCertificate reports whether the TLS server at addr asked for a
// client certificate in the handshake; the client sends none, and the
// handshake must still succeed (asked, never required).
func asksForCertificate(t *testing.T, addr string, roots *x509.CertPool) bool {
	t.Helper()
	asked := false
	conn, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: roots, GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
		asked = true
		return &tls.Certificate{}, nil
	}})
	if err != nil {
		t.Fatalf("TLS handshake without a client certificate: %v", err)
	}
	// TLS 1.3 finishes the client's side before the server reads its
	// certificate: a round trip makes the server's verdict show.
	_, _ = conn.Write([]byte("GET /health/alive HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"))
	buf := make([]byte, 12)
	if _, err := io.ReadFull(conn, buf); err != nil || string(buf) != "HTTP/1.1 200" {
		t.Fatalf("request without a client certificate: %q, %v", buf, err)
	}
	conn.Close()
	return asked
}

// The public TLS listener asks every client for a certificate (the mTLS
// client authentication methods, issue 18) and requires none; the admin
// listener asks for none, so no browser offers one there. The metadata
// then lists the mTLS methods.
func TestServeTLSAsksForClientCertificate(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	one := tlstest.New(t, 1)
	certFile, keyFile := one.Write(t, dir)
	// Any PEM certificate will do as the client CA bundle here.
	p := startOAuthd(t, nil, "--tls-cert-file", certFile, "--tls-key-file", keyFile, "--admin-addr", "127.0.0.1:0",
		"--tls-client-ca-file", certFile)
	addr := strings.TrimPrefix(p.URL, "http://")
	if !asksForCertificate(t, addr, one.Pool) {
		t.Fatal("the public listener does not ask for a client certificate")
	}
	var adminAddr string
	for _, line := range strings.Split(p.Logs.String(), "\n") {
		var rec struct{ Msg, Addr string }
		if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "oauthd admin listening" {
			adminAddr = rec.Addr
		}
	}
	if adminAddr == "" {
		t.Fatal("no admin listener logged")
	}
	if asksForCertificate(t, adminAddr, one.Pool) {
		t.Fatal("the admin listener asks for a client certificate")
	}
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: one.Pool}}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Get("https://" + addr + "/.well-known/oauth-authorization-server")
	if err != nil {
		t.Fatal(err)
	}
	md := getJSON(t, resp)
	methods, _ := json.Marshal(md["token_endpoint_auth_methods_supported"])
	if !strings.Contains(string(methods), `"tls_client_auth"`) || !strings.Contains(string(methods), `"self_signed_tls_client_auth"`) {
		t.Fatalf("metadata methods over TLS: %s", methods)
	}
}
