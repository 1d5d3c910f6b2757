package introspect

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

// fakeFeed serves a revocation feed: each connection is handed the
// channel its events are written from, and the Last-Event-ID it sent.
type fakeFeed struct {
	srv   *httptest.Server
	conns chan feedConn
}

type feedConn struct {
	lastID string
	send   chan string // raw SSE text; close to end the response
}

func newFakeFeed(t *testing.T) *fakeFeed {
	f := &fakeFeed{conns: make(chan feedConn, 4)}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(200)
		w.(http.Flusher).Flush()
		c := feedConn{lastID: r.Header.Get("Last-Event-ID"), send: make(chan string, 16)}
		f.conns <- c
		for {
			select {
			case s, ok := <-c.send:
				if !ok {
					return
				}
				fmt.Fprint(w, s)
				w.(http.Flusher).Flush()
			case <-r.Context().Done():
				return
			}
		}
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeFeed) accept(t *testing.T) feedConn {
	t.Helper()
	select {
	case c := <-f.conns:
		return c
	case <-time.After(5 * time.Second):
		t.Fatal("the client did not connect to the feed")
	}
	return feedConn{}
}

func answerFor(clientID, jti string) answer {
	b, _ := json.Marshal(Response{Active: true, Scope: "sms", ClientID: clientID, TokenType: "Bearer", Sub: clientID, Jti: jti})
	return answer{http.StatusOK, string(b)}
}

// The cache follows the feed: a revoked token's answer goes by its jti, an
// application's answers by its client_id, everything on a reset; answers
// live CacheTTL while the feed is followed and FallbackCacheTTL otherwise;
// a reconnection resumes after the last event applied.
func TestFollowFeed(t *testing.T) {
	fake := newFake(t)
	feed := newFakeFeed(t)
	clk := newClock()
	cfg := fake.config()
	cfg.FollowFeed, cfg.FeedEndpoint, cfg.Now = true, feed.srv.URL, clk.Now
	cfg.FallbackCacheTTL = 5 * time.Second
	c := newClient(t, cfg)
	if c.activeTTL != DefaultFeedCacheTTL {
		t.Errorf("CacheTTL default with the feed: %v, want %v", c.activeTTL, DefaultFeedCacheTTL)
	}
	events := make(chan string, 16)
	c.testHookEvent = func(kind string) { events <- kind }
	await := func(kind string) {
		t.Helper()
		select {
		case k := <-events:
			if k != kind {
				t.Fatalf("handled %q, want %q", k, kind)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%q not handled within 5s", kind)
		}
	}
	fake.set("A", answerFor("X", "ja"))
	fake.set("B", answerFor("X", "jb"))
	fake.set("C", answerFor("Y", "jc"))
	ctx := context.Background()
	// requests introspects each token and returns how many reached oauthd.
	requests := func(tokens ...string) int64 {
		t.Helper()
		before := fake.introspections.Load()
		for _, tok := range tokens {
			if r, err := c.Introspect(ctx, tok); err != nil || !r.Active {
				t.Fatalf("%s: %+v %v", tok, r, err)
			}
		}
		return fake.introspections.Load() - before
	}

	// Not following yet: the fallback lifetime.
	if n := requests("A", "A"); n != 1 {
		t.Fatalf("%d requests, want 1", n)
	}
	clk.Advance(6 * time.Second)
	if n := requests("A"); n != 1 {
		t.Fatalf("past the fallback lifetime: %d requests, want 1", n)
	}

	rctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- c.Run(rctx) }()
	defer func() { stop(); <-done }()
	conn := feed.accept(t)
	if conn.lastID != "" {
		t.Errorf("first connection sent Last-Event-ID %q", conn.lastID)
	}
	conn.send <- "retry: 1000\n\nid: 1-0\nevent: reset\ndata: {\"kind\":\"reset\"}\n\n"
	await("reset")
	conn.send <- "event: ready\ndata: {}\n\n: heartbeat\n\n"
	await("ready")
	if !c.FeedFollowing() {
		t.Fatal("not following after ready")
	}
	if n := requests("A", "B", "C"); n != 3 {
		t.Fatalf("after the reset: %d requests, want 3 (the reset emptied the cache)", n)
	}
	clk.Advance(6 * time.Minute)
	if n := requests("A", "B", "C"); n != 0 {
		t.Fatalf("following, 6 minutes on: %d requests, want 0", n)
	}

	conn.send <- "id: 2-0\nevent: token.revoked\ndata: {\"kind\":\"token.revoked\",\"client_id\":\"X\",\"jti\":\"ja\"}\n\n"
	await("token.revoked")
	if n := requests("B", "C"); n != 0 {
		t.Fatalf("a revocation of A evicted others: %d requests", n)
	}
	if n := requests("A"); n != 1 {
		t.Fatalf("A after its revocation: %d requests, want 1", n)
	}
	conn.send <- "id: 3-0\nevent: application.disabled\ndata: {\"kind\":\"application.disabled\",\"client_id\":\"X\"}\n\n"
	await("application.disabled")
	if n := requests("C"); n != 0 {
		t.Fatalf("X's change evicted Y's token: %d requests", n)
	}
	if n := requests("A", "B"); n != 2 {
		t.Fatalf("X's tokens after X changed: %d requests, want 2", n)
	}

	// The connection breaks: fallback lifetime until caught up again,
	// and the reconnection resumes after 3-0.
	close(conn.send)
	conn = feed.accept(t)
	if conn.lastID != "3-0" {
		t.Errorf("reconnected with Last-Event-ID %q, want 3-0", conn.lastID)
	}
	if c.FeedFollowing() {
		t.Error("following before the backlog is read")
	}
	clk.Advance(6 * time.Second)
	if n := requests("C"); n != 1 {
		t.Fatalf("while catching up, past the fallback lifetime: %d requests, want 1", n)
	}
	conn.send <- "id: 4-0\nevent: application.deleted\ndata: {\"kind\":\"application.deleted\",\"client_id\":\"Y\"}\n\n"
	await("application.deleted")
	conn.send <- "event: ready\ndata: {}\n\n"
	await("ready")
	if n := requests("C"); n != 1 {
		t.Fatalf("C after its application was deleted in the backlog: %d requests, want 1", n)
	}
	// A kind this version does not know, with a client_id: evict it.
	conn.send <- "id: 5-0\nevent: application.renamed\ndata: {\"kind\":\"application.renamed\",\"client_id\":\"Y\"}\n\n"
	await("application.renamed")
	if n := requests("C"); n != 1 {
		t.Fatalf("after an unknown kind naming Y: %d requests, want 1", n)
	}
	// The index follows the cache: nothing left once it is empty.
	c.purge()
	c.idx.mu.Lock()
	left := len(c.idx.byID)
	c.idx.mu.Unlock()
	if left != 0 {
		t.Errorf("index holds %d names after a purge", left)
	}
}

// An answer fetched while an eviction happened is not cached: it may
// predate the change.
func TestFeedEvictionRace(t *testing.T) {
	fake := newFake(t)
	cfg := fake.config()
	cfg.FollowFeed, cfg.FeedEndpoint = true, "http://127.0.0.1:1/feed"
	c := newClient(t, cfg)
	c.live.Store(true)
	fake.set("A", answerFor("X", "ja"))
	gate := make(chan struct{})
	fake.hold(gate)
	done := make(chan struct{})
	go func() { defer close(done); _, _ = c.Introspect(context.Background(), "A") }()
	// The fake holds the request at its gate; wait, bounded, until it
	// has arrived there.
	for deadline := time.Now().Add(5 * time.Second); fake.introspections.Load() == 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the introspection did not reach oauthd within 5s")
		}
	}
	c.evict(jtiName("ja"))
	close(gate)
	<-done
	fake.hold(nil)
	before := fake.introspections.Load()
	_, _ = c.Introspect(context.Background(), "A")
	if fake.introspections.Load() == before {
		t.Fatal("an answer fetched across an eviction was cached")
	}
}

// Without FeedEndpoint the feed is found in the metadata; a metadata
// document without one leaves the client on the fallback lifetime, saying
// why.
func TestFeedDiscovery(t *testing.T) {
	feed := newFakeFeed(t)
	var withFeed atomic.Bool
	var md *httptest.Server
	md = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		extra := ""
		if withFeed.Load() {
			extra = fmt.Sprintf(`,"revocation_feed_endpoint":%q`, feed.srv.URL)
		}
		fmt.Fprintf(w, `{"issuer":%q,"introspection_endpoint":"%s/oauth/introspect"%s}`, md.URL, md.URL, extra)
	}))
	defer md.Close()
	for _, tt := range []struct {
		name    string
		feed    bool
		connect bool
	}{{"advertised", true, true}, {"absent", false, false}} {
		t.Run(tt.name, func(t *testing.T) {
			withFeed.Store(tt.feed)
			c := newClient(t, Config{Issuer: md.URL, ClientID: "rs", ClientSecret: "s", FollowFeed: true})
			ctx, stop := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- c.Run(ctx) }()
			defer func() { stop(); <-done }()
			select {
			case conn := <-feed.conns:
				if !tt.connect {
					t.Fatal("connected to a feed the metadata does not name")
				}
				close(conn.send)
			case <-time.After(time.Second):
				if tt.connect {
					t.Fatal("did not connect to the advertised feed")
				}
			}
		})
	}
	if err := (&Client{}).Run(context.Background()); err == nil {
		t.Error("Run without FollowFeed returned nil")
	}
}

// A feed connection that carries nothing, not even a heartbeat, for
// FeedIdleTimeout is dropped and made again, resuming.
func TestFeedIdleTimeout(t *testing.T) {
	fake := newFake(t)
	feed := newFakeFeed(t)
	cfg := fake.config()
	cfg.FollowFeed, cfg.FeedEndpoint, cfg.FeedIdleTimeout = true, feed.srv.URL, 200*time.Millisecond
	c := newClient(t, cfg)
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	defer func() { stop(); <-done }()
	conn := feed.accept(t)
	conn.send <- "id: 7-0\nevent: reset\ndata: {}\n\nevent: ready\ndata: {}\n\n"
	again := feed.accept(t) // the silent connection was given up
	if again.lastID != "7-0" {
		t.Errorf("reconnected with Last-Event-ID %q, want 7-0", again.lastID)
	}
	if c.FeedFollowing() {
		t.Error("still following after the connection went silent")
	}
}
