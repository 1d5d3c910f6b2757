// Package redistest starts a Redis for tests: either an in-process miniredis
// or a real redis-server process on a free loopback port, behind one shape,
// so one test body runs against both.
package redistest

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	goredis "github.com/redis/go-redis/v9"
)

// Kind names a Redis implementation.
type Kind string

const (
	Mini Kind = "miniredis"
	Real Kind = "redis-server"
)

// RequireEnv, when set to a non-empty value, turns "redis-server is not
// installed" from a skip into a failure. CI sets it.
const RequireEnv = "OAUTHD_REQUIRE_REDIS"

// Server is a running Redis for one test.
type Server struct {
	Kind Kind
	Addr string
	URL  string
	// Mini is the miniredis instance, nil for a real server.
	Mini *miniredis.Miniredis
	// Stop kills the server at once (to simulate an outage); it is also
	// called by t.Cleanup. Calling it twice is fine.
	Stop func()
}

// Client returns a go-redis client for the server, closed at test end.
func (s *Server) Client(t testing.TB) goredis.UniversalClient {
	c := goredis.NewClient(&goredis.Options{Addr: s.Addr})
	t.Cleanup(func() { c.Close() })
	return c
}

// Kinds lists the implementations to run a suite against.
var Kinds = []Kind{Mini, Real}

// Start starts a server of the given kind. For Real it skips the test when no
// redis-server is on PATH, unless OAUTHD_REQUIRE_REDIS is set, in which case
// it fails.
func Start(t testing.TB, kind Kind) *Server {
	t.Helper()
	switch kind {
	case Mini:
		m := miniredis.RunT(t)
		return &Server{Kind: Mini, Addr: m.Addr(), URL: "redis://" + m.Addr(), Mini: m, Stop: m.Close}
	case Real:
		return startReal(t)
	}
	t.Fatalf("redistest: unknown kind %q", kind)
	return nil
}

func startReal(t testing.TB) *Server {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv(RequireEnv) != "" {
			t.Fatalf("redis-server is not on PATH but %s is set: install it (apt-get install redis-server)", RequireEnv)
		}
		t.Skipf("redis-server is not on PATH: skipping the real-Redis run (set %s=1 to make this a failure)", RequireEnv)
	}
	// A port taken by another process between Close and redis-server's bind
	// makes the start fail; try a few ports before giving up.
	var lastErr error
	for range 5 {
		srv, err := tryStart(t, bin)
		if err == nil {
			return srv
		}
		lastErr = err
	}
	t.Fatalf("redistest: starting redis-server: %v", lastErr)
	return nil
}

func tryStart(t testing.TB, bin string) (*Server, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin,
		"--port", port, "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no",
		"--dir", t.TempDir(),
		"--loglevel", "notice",
	)
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	}
	// redis-server prints this line once it accepts connections: wait for
	// it instead of polling the port.
	ready := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(out)
		var log strings.Builder
		for sc.Scan() {
			line := sc.Text()
			log.WriteString(line + "\n")
			if strings.Contains(line, "Ready to accept connections") {
				ready <- nil
				_, _ = io.Copy(io.Discard, out)
				return
			}
		}
		ready <- fmt.Errorf("redis-server exited before it was ready:\n%s", log.String())
	}()
	select {
	case err := <-ready:
		if err != nil {
			stop()
			return nil, err
		}
	case <-time.After(30 * time.Second):
		stop()
		return nil, fmt.Errorf("redis-server did not become ready within 30s")
	}
	addr := "127.0.0.1:" + port
	t.Cleanup(stop)
	// FLUSHALL is not needed: every server is fresh. Ping once so a broken
	// server fails here with a clear message.
	c := goredis.NewClient(&goredis.Options{Addr: addr})
	defer c.Close()
	if err := c.Ping(context.Background()).Err(); err != nil {
		stop()
		return nil, fmt.Errorf("ping: %w", err)
	}
	return &Server{Kind: Real, Addr: addr, URL: "redis://" + addr, Stop: stop}, nil
}

func freePort() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	_, port, err := net.SplitHostPort(l.Addr().String())
	return port, err
}
