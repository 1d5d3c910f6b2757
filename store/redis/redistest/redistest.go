// Package redistest starts a Redis for tests: either an in-process miniredis
// or a real redis-server process on a free loopback port, behind one shape,
// so one test body runs against both.
package redistest

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	goredis "github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
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
	// Maintenance notifications off, as store/redis opens its clients
	// (tighten): go-redis's auto mode races with itself across
	// connections made at once.
	c := goredis.NewClient(&goredis.Options{Addr: s.Addr,
		MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}})
	t.Cleanup(func() { c.Close() })
	return c
}

// FastForward lets d pass for the server's TTLs: miniredis's clock is
// moved at once; a real server's is the wall clock, so it waits. (Neither
// moves the TIME command's clock: miniredis needs SetTime for that.)
func (s *Server) FastForward(d time.Duration) {
	if s.Mini != nil {
		s.Mini.FastForward(d)
		return
	}
	time.Sleep(d)
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
	NeedBinaries(t, "redis-server")
	p := StartProcess(t, "redis-server", "Ready to accept connections",
		"--save", "", "--appendonly", "no", "--loglevel", "notice")
	// FLUSHALL is not needed: every server is fresh. Ping once so a broken
	// server fails here with a clear message.
	c := goredis.NewClient(&goredis.Options{Addr: p.Addr()})
	defer c.Close()
	if err := c.Ping(context.Background()).Err(); err != nil {
		t.Fatalf("redistest: redis-server on %s: ping: %v", p.Addr(), err)
	}
	return &Server{Kind: Real, Addr: p.Addr(), URL: "redis://" + p.Addr(), Stop: p.Kill}
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
