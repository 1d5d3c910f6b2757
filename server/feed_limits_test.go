package server

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/oauthd/oauthd/server/apps"
	"github.com/oauthd/oauthd/store/redis"
)

// newCappedFeedServer is newFeedServer with the feed's connection caps
// set and its log lines handed to the test.
func newCappedFeedServer(t *testing.T, max, perClient int) (*testEnv, *httptest.Server, logRecords) {
	t.Helper()
	env := newTestServer(t)
	f := env.store.NewFeed(redis.FeedOptions{Block: 50 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); f.Run(ctx) }()
	recs := make(logRecords, 256)
	srv, err := New(Config{Issuer: "http://oauthd.test", Catalogue: env.srv.cfg.Catalogue, Feed: f,
		FeedHeartbeat: 100 * time.Millisecond, FeedMaxSubscribers: max, FeedMaxPerClient: perClient, Logger: slog.New(recs)}, env.store)
	if err != nil {
		t.Fatal(err)
	}
	env.srv = srv
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(func() { cancel(); <-done; hs.Close() })
	return env, hs, recs
}

// One credential holding thousands of feed connections took the replica's
// memory (issue 17: 2,005 connections, 27 → 356 MB). Connections are
// capped per credential (429) and in total (503), both with Retry-After,
// and a closed connection gives its slot back.
func TestFeedConnectionCaps(t *testing.T) {
	env, hs, recs := newCappedFeedServer(t, 2, 1)
	introspector := func() apps.NewApplication { return apps.NewApplication{Scopes: []string{"tokens:introspect"}} }
	rs1, rs2, rs3 := env.createApp(introspector()), env.createApp(introspector()), env.createApp(introspector())

	first, feed1 := openFeed(t, hs, rs1.ClientID, rs1.Secret, "")
	if first.StatusCode != 200 {
		t.Fatalf("first connection: %d", first.StatusCode)
	}
	feed1.next(t) // reset: the handler holds its slot
	if resp, _ := openFeed(t, hs, rs1.ClientID, rs1.Secret, ""); resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "5" {
		t.Errorf("a second connection of one credential: %d Retry-After %q, want 429 5", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	if resp, feed2 := openFeed(t, hs, rs2.ClientID, rs2.Secret, ""); resp.StatusCode != 200 {
		t.Fatalf("another credential: %d", resp.StatusCode)
	} else {
		feed2.next(t)
	}
	if resp, _ := openFeed(t, hs, rs3.ClientID, rs3.Secret, ""); resp.StatusCode != 503 || resp.Header.Get("Retry-After") != "5" {
		t.Errorf("past the replica's cap: %d Retry-After %q, want 503 5", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	// Hang up; the handler's log line says it has returned its slot.
	first.Body.Close()
	deadline := time.After(10 * time.Second)
	for ended := false; !ended; {
		select {
		case r := <-recs:
			ended = r.Message == "http request" && recordAttrs(r)["feed_end"] != "" && recordAttrs(r)["status"] == "200"
		case <-deadline:
			t.Fatal("the closed feed connection was not logged within 10s")
		}
	}
	if resp, _ := openFeed(t, hs, rs1.ClientID, rs1.Secret, ""); resp.StatusCode != 200 {
		t.Errorf("after hanging up, the credential's slot is free again: got %d", resp.StatusCode)
	}
}

// A Last-Event-ID past Redis's 64-bit stream ids was a 503 and an ERROR
// line (issue 17); it is a reset, like any id the stream does not hold.
func TestFeedLastEventIDOutOfRange(t *testing.T) {
	env, hs, recs := newCappedFeedServer(t, 0, 0)
	rs := env.createApp(apps.NewApplication{Scopes: []string{"tokens:introspect"}})
	for _, id := range []string{"18446744073709551616-0", "1-18446744073709551616", "99999999999999999999-99999999999999999999"} {
		resp, feed := openFeed(t, hs, rs.ClientID, rs.Secret, id)
		if resp.StatusCode != 200 {
			t.Fatalf("Last-Event-ID %s: %d", id, resp.StatusCode)
		}
		if got := feed.next(t); got.event != "reset" {
			t.Fatalf("Last-Event-ID %s: first event %+v, want a reset", id, got)
		}
		resp.Body.Close()
	}
	for {
		select {
		case r := <-recs:
			if r.Level >= slog.LevelError {
				t.Fatalf("an ERROR line: %s %v", r.Message, recordAttrs(r))
			}
		default:
			return
		}
	}
}
