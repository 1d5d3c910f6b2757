package server

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/oauthd/oauthd/scopes"
	"github.com/oauthd/oauthd/server/web"
	"github.com/oauthd/oauthd/store"
)

// FeedPath is the revocation feed's route, published in the metadata as
// revocation_feed_endpoint.
const FeedPath = "/oauth/revocation-feed"

// Feed is where the revocation feed's events come from (store.Feed says
// how; store/redis.Feed implements it).
type Feed interface {
	store.Feed
}

// DefaultFeedHeartbeat is how often an idle feed connection carries a
// comment, so both ends notice a dead connection.
const DefaultFeedHeartbeat = 5 * time.Second

// feedWriteTimeout bounds one write to a subscriber: one that does not
// read for this long is disconnected.
const feedWriteTimeout = 10 * time.Second

// feedPacedTimeout bounds a live event's write (sendPaced), which holds
// the replica's one write slot.
const feedPacedTimeout = 250 * time.Millisecond

// feedEvent is an event's data line.
type feedEvent struct {
	Kind     string `json:"kind"`
	ClientID string `json:"client_id,omitempty"`
	JTI      string `json:"jti,omitempty"`
}

// frame is an event as the stream carries it. A live event goes to every
// subscriber of the replica: the last one encoded is kept, so it is
// encoded once, not once per subscriber.
func (s *Server) frame(ev store.FeedEvent) []byte {
	if f := s.lastFrame.Load(); f != nil && f.ev == ev {
		return f.b
	}
	data, _ := json.Marshal(feedEvent{Kind: ev.Kind, ClientID: ev.ClientID, JTI: ev.JTI}) // strings only
	b := make([]byte, 0, len(ev.ID)+len(ev.Kind)+len(data)+24)
	b = append(b, "id: "...)
	b = append(b, ev.ID...)
	b = append(b, "\nevent: "...)
	b = append(b, ev.Kind...)
	b = append(b, "\ndata: "...)
	b = append(b, data...)
	b = append(b, "\n\n"...)
	s.lastFrame.Store(&frame{ev: ev, b: b})
	return b
}

type frame struct {
	ev store.FeedEvent
	b  []byte
}

// handleFeed is GET /oauth/revocation-feed: Server-Sent Events of the
// changes that can make a cached introspection answer wrong (see
// docs/api.md). The caller authenticates as for introspection, with HTTP
// Basic client credentials of an application holding tokens:introspect;
// Last-Event-ID resumes after an event.
func (s *Server) handleFeed(c echo.Context) error {
	ctx := c.Request().Context()
	form, err := feedForm(c)
	if err != nil {
		return web.WriteError(c, err)
	}
	app, err := s.authenticateClient(c, form)
	if err != nil {
		return s.authError(c, &app, err)
	}
	if err := s.clientLocked(c, &app); err != nil {
		return web.WriteError(c, err)
	}
	if !slices.Contains(app.Scopes, scopes.Introspect) {
		return web.WriteError(c, errNotPermitted(scopes.Introspect, "follow the revocation feed"))
	}
	release, full := s.feedSlots.take(app.ClientID)
	if full != nil {
		return web.WriteError(c, full)
	}
	defer release()
	lastID := strings.TrimSpace(c.Request().Header.Get("Last-Event-ID"))
	sub, err := s.cfg.Feed.Subscribe(ctx, lastID)
	if err != nil {
		return web.WriteError(c, err)
	}
	defer sub.Close()

	w := c.Response()
	rc := http.NewResponseController(w.Writer)
	// The listener's write timeout is for ordinary requests; each write
	// here gets its own deadline instead.
	_ = rc.SetWriteDeadline(time.Time{})
	_ = rc.SetReadDeadline(time.Time{})
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("X-Accel-Buffering", "no") // nginx: do not buffer the stream
	web.NoStore(h)
	w.WriteHeader(http.StatusOK)
	log := web.Log(c)
	sent := 0
	var buf []byte
	timeout := feedWriteTimeout
	send := func(b []byte) error {
		_ = rc.SetWriteDeadline(time.Now().Add(timeout))
		if _, err := w.Write(b); err != nil {
			return err
		}
		return rc.Flush()
	}
	event := func(ev store.FeedEvent) {
		buf = append(buf, s.frame(ev)...)
		sent++
	}
	// retry: how long an EventSource waits before reconnecting.
	buf = append(buf[:0], "retry: 1000\n\n"...)
	last := lastID
	reset, resumeAt := sub.Reset()
	if reset {
		log.Add(slog.Bool("feed_reset", true))
		event(store.FeedEvent{ID: resumeAt, Kind: "reset"})
		last = resumeAt
	}
	if err := send(buf); err != nil {
		log.HungUp("feed subscriber gone")
		return nil
	}
	for {
		page, err := sub.NextBacklog(ctx)
		if err != nil {
			// Headers are sent: all that can be done is hang up; the
			// subscriber resumes from the last id it got.
			log.Add(slog.String("feed_end", "backlog read failed: "+err.Error()))
			return nil
		}
		if len(page) == 0 {
			break
		}
		buf = buf[:0]
		for _, ev := range page {
			event(ev)
			last = ev.ID
		}
		if err := send(buf); err != nil {
			log.Add(slog.Int("feed_events", sent), slog.String("feed_end", "subscriber gone"))
			return nil
		}
	}
	// "ready" (no id) says the backlog is over: the follower is up to date
	// and may trust its cache again (store.FeedSubscription); from here
	// on, events arrive as they happen.
	if err := send(append(buf[:0], "event: ready\ndata: {}\n\n"...)); err != nil {
		log.Add(slog.Int("feed_events", sent), slog.String("feed_end", "subscriber gone"))
		return nil
	}
	hb := time.NewTicker(s.cfg.FeedHeartbeat)
	defer hb.Stop()
	for {
		select {
		case <-ctx.Done():
			log.Add(slog.Int("feed_events", sent), slog.String("feed_end", "subscriber gone"))
			return nil
		case <-hb.C:
			buf = append(buf[:0], ": heartbeat\n\n"...)
		case ev, ok := <-sub.Events():
			if !ok {
				// Too far behind, or oauthd is stopping: the subscriber
				// reconnects and resumes from Redis.
				log.Add(slog.Int("feed_events", sent), slog.String("feed_end", "disconnected by the server"))
				return nil
			}
			if last != "" && !store.FeedIDLess(last, ev.ID) {
				continue // already sent from the backlog
			}
			buf = buf[:0]
			event(ev)
			last = ev.ID
			if ev.ClientID == app.ClientID && ev.Kind != store.FeedTokenRevoked {
				// The subscriber's own application changed (disabled,
				// deleted, its scopes narrowed): it must authenticate
				// again to go on, so it does not keep a feed it may no
				// longer hold.
				_ = send(buf)
				log.Add(slog.Int("feed_events", sent), slog.String("feed_end", "subscriber's application changed"))
				return nil
			}
		}
		// A live event is written paced, with a short deadline: a
		// subscriber that cannot take ~150 bytes within it is not reading,
		// and must not hold the others up; it reconnects and resumes.
		timeout = feedPacedTimeout
		err := s.sendPaced(send, buf)
		timeout = feedWriteTimeout
		if err != nil {
			log.Add(slog.Int("feed_events", sent), slog.String("feed_end", "subscriber gone"))
			return nil
		}
	}
}

// sendPaced sends with at most one feed write in flight on this replica.
// Every subscriber wakes for the same event at once; written all together,
// a thousand deliveries take both cores for a few milliseconds and the
// token endpoint's requests queue behind them. One at a time, the burst is
// spread over one core and the other stays free (issue 11, item 4).
func (s *Server) sendPaced(send func([]byte) error, b []byte) error {
	s.feedSends <- struct{}{}
	defer func() { <-s.feedSends }()
	return send(b)
}
