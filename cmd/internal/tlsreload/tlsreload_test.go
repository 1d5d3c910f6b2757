package tlsreload_test

import (
	"context"
	"crypto/tls"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/oauthd/oauthd/cmd/internal/tlsreload"
	"github.com/oauthd/oauthd/cmd/internal/tlsreload/tlstest"
)

func serial(t *testing.T, r *tlsreload.Reloader) int64 {
	t.Helper()
	c, err := r.GetCertificate(&tls.ClientHelloInfo{})
	if err != nil {
		t.Fatal(err)
	}
	return c.Leaf.SerialNumber.Int64()
}

func TestNewRefusesABadPair(t *testing.T) {
	dir := t.TempDir()
	one, two := tlstest.New(t, 1), tlstest.New(t, 2)
	cert, key := one.Write(t, dir)
	otherKey := filepath.Join(dir, "other.key")
	tlstest.WriteFile(t, otherKey, two.KeyPEM)
	tests := []struct {
		name, cert, key, want string
	}{
		{"missing certificate", filepath.Join(dir, "nope.pem"), key, "no such file"},
		{"missing key", cert, filepath.Join(dir, "nope.key"), "no such file"},
		{"key of another certificate", cert, otherKey, "private key does not match"},
		{"key file given as certificate", key, key, "PEM"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tlsreload.New(tt.cert, tt.key)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one saying %q", err, tt.want)
			}
		})
	}
	r, err := tlsreload.New(cert, key)
	if err != nil {
		t.Fatal(err)
	}
	if serial(t, r) != 1 || r.Config().MinVersion != tls.VersionTLS12 {
		t.Fatalf("serial %d, min version %x", serial(t, r), r.Config().MinVersion)
	}
}

// A changed pair is taken up; a broken one leaves the previous certificate
// in place; unchanged files are not loaded again.
func TestReload(t *testing.T) {
	dir := t.TempDir()
	cert, key := tlstest.New(t, 1).Write(t, dir)
	r, err := tlsreload.New(cert, key)
	if err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		name    string
		write   func()
		changed bool
		err     bool
		serial  int64
	}{
		{"unchanged", func() {}, false, false, 1},
		{"renewed", func() { tlstest.New(t, 2).Write(t, dir) }, true, false, 2},
		{"certificate garbled", func() { tlstest.WriteFile(t, cert, []byte("not PEM")) }, false, true, 2},
		{"still garbled: not reported again", func() {}, false, false, 2},
		{"key missing", func() { os.Remove(key) }, false, true, 2},
		{"repaired", func() { tlstest.New(t, 3).Write(t, dir) }, true, false, 3},
	}
	for _, s := range steps {
		s.write()
		changed, err := r.Reload(false)
		if changed != s.changed || (err != nil) != s.err || serial(t, r) != s.serial {
			t.Fatalf("%s: changed %v, error %v, serving serial %d; want %v, error %v, serial %d",
				s.name, changed, err, serial(t, r), s.changed, s.err, s.serial)
		}
	}
}

// records is a slog handler that hands each record to the test.
type records chan slog.Record

func (c records) Enabled(context.Context, slog.Level) bool      { return true }
func (c records) Handle(_ context.Context, r slog.Record) error { c <- r; return nil }
func (c records) WithAttrs([]slog.Attr) slog.Handler            { return c }
func (c records) WithGroup(string) slog.Handler                 { return c }

func attr(r slog.Record, key string) string {
	var v string
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == key {
			v = a.Value.String()
		}
		return true
	})
	return v
}

func next(t *testing.T, recs records) slog.Record {
	t.Helper()
	select {
	case r := <-recs:
		return r
	case <-time.After(10 * time.Second):
		t.Fatal("no log record within 10s")
		return slog.Record{}
	}
}

// Watch reloads on a signal even when nothing changed, picks up changed
// files by itself, and reports a broken pair once.
func TestWatch(t *testing.T) {
	dir := t.TempDir()
	cert, key := tlstest.New(t, 1).Write(t, dir)
	r, err := tlsreload.New(cert, key)
	if err != nil {
		t.Fatal(err)
	}
	recs := make(records, 16)
	hup := make(chan os.Signal, 1)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); r.Watch(ctx, 5*time.Millisecond, hup, slog.New(recs)) }()
	defer func() { cancel(); <-done }()

	hup <- syscall.SIGHUP
	if rec := next(t, recs); rec.Message != "TLS certificate reloaded" || attr(rec, "trigger") != "hangup" || attr(rec, "serial") != "1" {
		t.Fatalf("after SIGHUP: %s %v", rec.Message, rec)
	}
	tlstest.WriteFile(t, cert, []byte("garbage"))
	if rec := next(t, recs); rec.Level != slog.LevelError || !strings.Contains(rec.Message, "still serving the previous one") {
		t.Fatalf("after a garbled certificate: %s", rec.Message)
	}
	tlstest.New(t, 2).Write(t, dir)
	rec := next(t, recs)
	if rec.Message != "TLS certificate reloaded" || attr(rec, "trigger") != "file change" || attr(rec, "serial") != "2" {
		t.Fatalf("after the repair (one error line expected before it): %s %v", rec.Message, rec)
	}
	if serial(t, r) != 2 {
		t.Fatalf("serving serial %d", serial(t, r))
	}
}
