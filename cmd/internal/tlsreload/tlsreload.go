// Package tlsreload serves a certificate and private key read from two PEM
// files, and takes up a renewed pair without a restart: when the files'
// contents change (checked every few seconds) or when asked (SIGHUP). The
// pair in use is swapped atomically and read by tls.Config.GetCertificate
// at each handshake, so connections already open keep going on the
// certificate they started with, and new ones get the new one. A pair that
// does not load (half-written, key and certificate not matching, expired
// file unreadable) leaves the previous one in place and is logged.
//
// It polls rather than watching with inotify: reading two files of a few
// KB every few seconds costs nothing, needs no dependency, and follows
// what inotify watchers get wrong, such as a Kubernetes Secret volume
// whose files are symbolic links swapped through a "..data" directory.
package tlsreload

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Reloader holds the current certificate of a cert_file/key_file pair.
type Reloader struct {
	certFile, keyFile string

	cert atomic.Pointer[tls.Certificate]

	mu sync.Mutex // serialises loads
	// seen is the contents last tried (loaded or refused), so an
	// unchanged pair is neither parsed again nor reported twice.
	seen []byte
	// lastErr is the last refusal reported, so a file that stays broken
	// is logged once, not at every poll.
	lastErr string
}

// New loads the pair once: a pair that does not load now is a
// configuration error.
func New(certFile, keyFile string) (*Reloader, error) {
	r := &Reloader{certFile: certFile, keyFile: keyFile}
	if _, err := r.Reload(true); err != nil {
		return nil, err
	}
	return r, nil
}

// Config is a server TLS configuration on the reloaded certificate,
// refusing anything older than TLS 1.2 (RFC 8996 deprecates 1.0 and 1.1;
// RFC 6749 §1.6 asks for TLS with current best practice).
func (r *Reloader) Config() *tls.Config {
	return &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: r.GetCertificate}
}

// GetCertificate returns the current certificate, whatever the client
// asked for (one pair serves every name it holds).
func (r *Reloader) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return r.cert.Load(), nil
}

// Leaf is the current certificate, parsed.
func (r *Reloader) Leaf() *x509.Certificate { return r.cert.Load().Leaf }

// Reload reads the files and, if they changed (or force is set), loads the
// pair. It reports whether a new certificate is now served; on an error
// the previous certificate stays.
func (r *Reloader) Reload(force bool) (bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	certPEM, err := os.ReadFile(r.certFile)
	if err != nil {
		return false, err
	}
	keyPEM, err := os.ReadFile(r.keyFile)
	if err != nil {
		return false, err
	}
	both := append(append(certPEM[:len(certPEM):len(certPEM)], 0), keyPEM...)
	if !force && bytes.Equal(both, r.seen) {
		return false, nil
	}
	r.seen = both
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return false, fmt.Errorf("%s and %s: %w", r.certFile, r.keyFile, err)
	}
	if cert.Leaf == nil {
		if cert.Leaf, err = x509.ParseCertificate(cert.Certificate[0]); err != nil {
			return false, fmt.Errorf("%s: %w", r.certFile, err)
		}
	}
	r.cert.Store(&cert)
	return true, nil
}

// Watch reloads the pair every interval if its files changed, and at once
// on each value from now (a SIGHUP), until ctx ends. Loads and refusals
// are logged; a refusal is logged again only when the reason changes.
func (r *Reloader) Watch(ctx context.Context, interval time.Duration, now <-chan os.Signal, log *slog.Logger) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		trigger, forced := "file change", false
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case sig, ok := <-now:
			if !ok {
				now = nil
				continue
			}
			trigger, forced = sig.String(), true
		}
		changed, err := r.Reload(forced)
		r.report(log, trigger, changed, err, forced)
	}
}

func (r *Reloader) report(log *slog.Logger, trigger string, changed bool, err error, forced bool) {
	r.mu.Lock()
	repeat := err != nil && err.Error() == r.lastErr && !forced
	if err != nil {
		r.lastErr = err.Error()
	} else if changed {
		r.lastErr = ""
	}
	r.mu.Unlock()
	switch {
	case err != nil && !repeat:
		log.Error("TLS certificate not reloaded: still serving the previous one; fix tls.cert_file and tls.key_file",
			"trigger", trigger, "cause", err.Error(), "serving_not_after", r.Leaf().NotAfter.UTC())
	case changed:
		LogLoaded(log, r.Leaf(), "TLS certificate reloaded", "trigger", trigger)
	}
}

// LogLoaded logs which certificate is served: subject, names, expiry. An
// expired certificate is logged as a warning (clients will refuse it).
func LogLoaded(log *slog.Logger, leaf *x509.Certificate, msg string, attrs ...any) {
	attrs = append(attrs, "subject", leaf.Subject.String(), "dns_names", strings.Join(leaf.DNSNames, ","),
		"not_after", leaf.NotAfter.UTC(), "serial", leaf.SerialNumber.Text(16))
	if time.Now().After(leaf.NotAfter) {
		log.Warn(msg+" (it has EXPIRED: clients will refuse it; renew it)", attrs...)
		return
	}
	log.Info(msg, attrs...)
}
