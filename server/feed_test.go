package server

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/oauthd/oauthd/server/apps"
	"github.com/oauthd/oauthd/server/credential"
	"github.com/oauthd/oauthd/store"
	"github.com/oauthd/oauthd/store/redis"
)

// newFeedServer is newTestServer with the revocation feed on, served by a
// real HTTP server (the feed is a stream).
func newFeedServer(t *testing.T) (*testEnv, *httptest.Server) {
	t.Helper()
	env := newTestServer(t)
	f := env.store.NewFeed(redis.FeedOptions{Block: 50 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); f.Run(ctx) }()
	srv, err := New(Config{Issuer: "http://oauthd.test", Catalogue: env.srv.cfg.Catalogue, Feed: f, FeedHeartbeat: 100 * time.Millisecond}, env.store)
	if err != nil {
		t.Fatal(err)
	}
	env.srv = srv
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(func() { cancel(); <-done; hs.Close() })
	return env, hs
}

type sseEvent struct{ id, event, data string }

// sseStream reads events (comments counted apart) from a feed answer.
type sseStream struct {
	sc       *bufio.Scanner
	comments int
	resp     *http.Response
}

func openFeed(t *testing.T, hs *httptest.Server, id, secret, lastID string) (*http.Response, *sseStream) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, hs.URL+FeedPath, nil)
	if id != "" {
		req.Header.Set("Authorization", basic(id, secret))
	}
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	resp, err := hs.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp, &sseStream{sc: bufio.NewScanner(resp.Body), resp: resp}
}

func (s *sseStream) next(t *testing.T) sseEvent {
	t.Helper()
	var ev sseEvent
	for s.sc.Scan() {
		line := s.sc.Text()
		switch {
		case line == "":
			if ev.event != "" || ev.data != "" {
				return ev
			}
		case strings.HasPrefix(line, ":"):
			s.comments++
		case strings.HasPrefix(line, "id: "):
			ev.id = line[4:]
		case strings.HasPrefix(line, "event: "):
			ev.event = line[7:]
		case strings.HasPrefix(line, "data: "):
			ev.data = line[6:]
		}
	}
	t.Fatalf("feed ended: %v", s.sc.Err())
	return ev
}

func TestFeedEndpoint(t *testing.T) {
	env, hs := newFeedServer(t)
	rs := env.createApp(apps.NewApplication{Scopes: []string{"tokens:introspect"}})
	daemon := env.createApp(apps.NewApplication{Scopes: []string{"sms"}})

	t.Run("metadata", func(t *testing.T) {
		w := env.do(getRequest("/.well-known/oauth-authorization-server"))
		md := decode[map[string]any](t, w.Body)
		if md["revocation_feed_endpoint"] != "http://oauthd.test"+FeedPath {
			t.Errorf("revocation_feed_endpoint = %v", md["revocation_feed_endpoint"])
		}
	})
	t.Run("auth", func(t *testing.T) {
		if resp, _ := openFeed(t, hs, "", "", ""); resp.StatusCode != 401 || resp.Header.Get("WWW-Authenticate") == "" {
			t.Errorf("no credentials: %d", resp.StatusCode)
		}
		if resp, _ := openFeed(t, hs, rs.ClientID, "wrong", ""); resp.StatusCode != 401 {
			t.Errorf("wrong secret: %d", resp.StatusCode)
		}
		if resp, _ := openFeed(t, hs, daemon.ClientID, daemon.Secret, ""); resp.StatusCode != 403 {
			t.Errorf("without tokens:introspect: %d", resp.StatusCode)
		}
	})

	resp, feed := openFeed(t, hs, rs.ClientID, rs.Secret, "")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" || resp.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("feed answer %d %v", resp.StatusCode, resp.Header)
	}
	first := feed.next(t)
	if first.event != "reset" || first.id == "" {
		t.Fatalf("first event %+v, want a reset with an id", first)
	}
	if ready := feed.next(t); ready.event != "ready" || ready.id != "" {
		t.Fatalf("after the reset %+v, want ready without an id", ready)
	}
	tok := env.issue(daemon, "sms")
	if code, _ := env.revoke(daemon, tok); code != 200 {
		t.Fatal(code)
	}
	ref, _ := credential.Parse(tok)
	ev := feed.next(t)
	var data map[string]string
	if err := json.Unmarshal([]byte(ev.data), &data); err != nil {
		t.Fatal(err)
	}
	if ev.event != "token.revoked" || data["kind"] != "token.revoked" || data["client_id"] != daemon.ClientID || data["jti"] != ref.JTI() || len(data) != 3 {
		t.Fatalf("event %+v", ev)
	}
	if strings.Contains(ev.data, tok) {
		t.Fatal("the event carries the token")
	}
	// Idle: heartbeats (every 100ms here) keep the connection alive.
	beat := make(chan bool, 1)
	go func() { beat <- feed.sc.Scan() && strings.HasPrefix(feed.sc.Text(), ":") }()
	select {
	case ok := <-beat:
		if !ok {
			t.Errorf("an idle feed carried %q, want a heartbeat comment", feed.sc.Text())
		}
	case <-time.After(2 * time.Second):
		t.Error("no heartbeat on an idle feed within 2s")
	}
	resp.Body.Close()

	// Two changes while away; resuming from ev's id replays them.
	env.update(daemon.ClientID, func(a *store.Application) { a.Scopes = nil })
	env.update(daemon.ClientID, func(a *store.Application) { a.Enabled = false })
	_, again := openFeed(t, hs, rs.ClientID, rs.Secret, ev.id)
	for _, want := range []string{"application.updated", "application.disabled"} {
		if got := again.next(t); got.event != want || !strings.Contains(got.data, daemon.ClientID) {
			t.Fatalf("resumed: got %+v, want %s", got, want)
		}
	}
	if got := again.next(t); got.event != "ready" {
		t.Fatalf("after the backlog: %+v, want ready", got)
	}
	// The subscriber's own application changes: the event, then the end
	// of the connection (it must authenticate again).
	_, own := openFeed(t, hs, rs.ClientID, rs.Secret, "")
	own.next(t) // reset
	own.next(t) // ready
	env.update(rs.ClientID, func(a *store.Application) { a.Owner = "acct" })
	if got := own.next(t); got.event != "application.updated" {
		t.Fatalf("own change: %+v", got)
	}
	if own.sc.Scan() {
		t.Errorf("the feed went on after the subscriber's application changed: %q", own.sc.Text())
	}
	// An id the stream does not hold: reset.
	_, bad := openFeed(t, hs, rs.ClientID, rs.Secret, "1-1")
	if got := bad.next(t); got.event != "reset" {
		t.Fatalf("unknown id: %+v", got)
	}
}
