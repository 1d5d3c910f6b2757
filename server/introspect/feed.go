package introspect

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Following oauthd's revocation feed (docs/api.md, "Revocation feed").
//
// With Config.FollowFeed, Run keeps one Server-Sent Events connection to
// oauthd's feed and evicts the cached answers each event names: a revoked
// token by its jti, every answer of an application by its client_id
// (revoke-all, disabled, deleted, scopes or allowlist changed). Answers
// can then be cached for minutes (Config.CacheTTL) and a revoked token is
// still refused within milliseconds. While the feed is not followed (not
// connected yet, reconnecting, replaying what it missed) nobody would
// tell the cache about a change, so answers are trusted only for
// Config.FallbackCacheTTL after they were fetched. A reset (oauthd cannot
// tell what was missed) drops the whole cache.

// Feed defaults.
const (
	DefaultFallbackCacheTTL = 5 * time.Second
	DefaultFeedIdleTimeout  = 15 * time.Second
	// DefaultFeedCacheTTL is CacheTTL's default when following the feed.
	DefaultFeedCacheTTL = 10 * time.Minute
)

const feedMaxBackoff = 2 * time.Second

// index maps client_ids and jtis to the cache keys of the active answers
// that name them, so an event evicts without a scan.
type index struct {
	mu   sync.Mutex
	byID map[string]map[[sha256.Size]byte]struct{}
}

func (x *index) add(name string, key [sha256.Size]byte) {
	if name == "" {
		return
	}
	m := x.byID[name]
	if m == nil {
		m = map[[sha256.Size]byte]struct{}{}
		x.byID[name] = m
	}
	m[key] = struct{}{}
}

func (x *index) remove(name string, key [sha256.Size]byte) {
	if m := x.byID[name]; m != nil {
		delete(m, key)
		if len(m) == 0 {
			delete(x.byID, name)
		}
	}
}

// Index names: a client_id and a jti could be equal strings.
func clientName(id string) string { return "c\x00" + id }
func jtiName(jti string) string   { return "j\x00" + jti }

// onEvict keeps the index in step with the cache (the LRU calls it
// outside its own lock).
func (c *Client) onEvict(key [sha256.Size]byte, e entry) {
	if e.resp == nil || !e.resp.Active {
		return
	}
	c.idx.mu.Lock()
	defer c.idx.mu.Unlock()
	c.idx.remove(clientName(e.resp.ClientID), key)
	c.idx.remove(jtiName(e.resp.Jti), key)
}

// evict removes the answers naming any of names, and makes lookups in
// flight not cache what they get (it may predate the change).
func (c *Client) evict(names ...string) int {
	c.order.Lock()
	defer c.order.Unlock()
	c.epoch.Add(1)
	c.idx.mu.Lock()
	var keys [][sha256.Size]byte
	for _, n := range names {
		for k := range c.idx.byID[n] {
			keys = append(keys, k)
		}
	}
	c.idx.mu.Unlock()
	for _, k := range keys {
		c.cache.Remove(k)
	}
	return len(keys)
}

// purge drops every cached answer.
func (c *Client) purge() {
	c.order.Lock()
	defer c.order.Unlock()
	c.epoch.Add(1)
	c.cache.Purge()
}

// FeedFollowing reports whether the feed is followed right now (connected
// and caught up), when the long cache lifetime applies.
func (c *Client) FeedFollowing() bool { return c.live.Load() }

// Run follows oauthd's revocation feed until ctx is done, reconnecting
// (and resuming) whenever the connection breaks. It returns at once, with
// an error, when the Client was not configured with FollowFeed.
func (c *Client) Run(ctx context.Context) error {
	if !c.follow {
		return errors.New("introspect: Run needs Config.FollowFeed")
	}
	backoff := 100 * time.Millisecond
	lastErr := ""
	for ctx.Err() == nil {
		start := time.Now()
		err := c.followOnce(ctx)
		if ctx.Err() != nil {
			c.live.Store(false)
			break
		}
		switch {
		case c.live.Swap(false):
			c.logger().Warn("revocation feed lost: caching answers for the fallback lifetime until it is back",
				"fallback_cache_ttl", c.fallbackTTL.String(), "error", errString(err))
		case errString(err) != lastErr:
			// Never connected, or failing again for a new reason (a
			// misconfiguration would otherwise be silent).
			c.logger().Warn("revocation feed unavailable: caching answers for the fallback lifetime until it is followed",
				"fallback_cache_ttl", c.fallbackTTL.String(), "error", errString(err))
		}
		lastErr = errString(err)
		if time.Since(start) > 10*time.Second {
			backoff = 100 * time.Millisecond
		}
		select {
		case <-ctx.Done():
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, feedMaxBackoff)
	}
	return nil
}

func errString(err error) string {
	if err == nil {
		return "closed by oauthd"
	}
	return err.Error()
}

func (c *Client) logger() *slog.Logger {
	if c.log != nil {
		return c.log
	}
	return slog.Default()
}

// feedEndpoint returns the configured feed URL or discovers it.
func (c *Client) feedEndpoint(ctx context.Context) (string, error) {
	if c.feedURL != "" {
		return c.feedURL, nil
	}
	if _, err := c.introspectionEndpoint(ctx); err != nil {
		return "", err
	}
	if p := c.discoveredFeed.Load(); p != nil && *p != "" {
		return *p, nil
	}
	return "", unavailable(nil, "oauthd's metadata at %s names no revocation_feed_endpoint: turn on feed.enabled there, or FollowFeed off here", c.metadataURL)
}

// followOnce runs one feed connection until it breaks.
func (c *Client) followOnce(ctx context.Context) error {
	dctx, cancel := context.WithTimeout(ctx, c.timeout)
	endpoint, err := c.feedEndpoint(dctx)
	cancel()
	if err != nil {
		return err
	}
	parent := ctx
	ctx, cancel = context.WithCancel(ctx)
	defer cancel()
	// No byte (event or heartbeat) for idleTimeout: the connection is
	// dead even if TCP has not noticed.
	idle := time.AfterFunc(c.feedIdle, cancel)
	defer idle.Stop()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, endpoint, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Authorization", c.basic)
	c.feedMu.Lock()
	last := c.lastEventID
	c.feedMu.Unlock()
	if last != "" {
		req.Header.Set("Last-Event-ID", last)
	}
	res, err := c.feedHTTP.Do(req)
	if err != nil {
		return fmt.Errorf("cannot reach the revocation feed at %s: %w", endpoint, err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		code, says := readError(res.Body)
		return fmt.Errorf("the revocation feed at %s answered %s (%s)%s", endpoint, res.Status, or(code, "no error code"), says)
	}
	if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
		return fmt.Errorf("the revocation feed at %s answered Content-Type %q, not text/event-stream", endpoint, ct)
	}
	rd := bufio.NewReaderSize(res.Body, 4096)
	var ev sseEvent
	for {
		line, err := rd.ReadString('\n')
		switch {
		case err == nil:
		case errors.Is(err, io.EOF):
			return nil // oauthd ended the stream (shutting down, or told us to come back)
		case ctx.Err() != nil && parent.Err() == nil:
			return fmt.Errorf("the revocation feed at %s carried nothing, not even a heartbeat, for %v", endpoint, c.feedIdle)
		default:
			return err
		}
		idle.Reset(c.feedIdle)
		line = strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")
		if line == "" {
			c.dispatch(ev)
			ev = sseEvent{}
			continue
		}
		if line[0] == ':' {
			continue // heartbeat
		}
		field, value, _ := strings.Cut(line, ":")
		value = strings.TrimPrefix(value, " ")
		switch field {
		case "id":
			ev.id, ev.hasID = value, true
		case "event":
			ev.event = value
		case "data":
			if ev.data != "" {
				ev.data += "\n"
			}
			ev.data += value
		}
	}
}

type sseEvent struct {
	id, event, data string
	hasID           bool
}

// feedData is an event's data.
type feedData struct {
	Kind     string `json:"kind"`
	ClientID string `json:"client_id"`
	JTI      string `json:"jti"`
}

// dispatch acts on one event, then remembers its id: an event is
// resumed after only once it has been applied.
func (c *Client) dispatch(ev sseEvent) {
	switch ev.event {
	case "":
		return // nothing but comments or an empty block
	case "reset":
		c.purge()
		c.jwtMarks.markAll(c.now())
		c.logger().Info("revocation feed: reset, cache dropped (first connection, or away longer than the feed keeps)")
	case "ready":
		if !c.live.Swap(true) {
			c.logger().Info("revocation feed followed: caching answers for the full lifetime", "cache_ttl", c.activeTTL.String())
		}
	default:
		var d feedData
		if json.Unmarshal([]byte(ev.data), &d) != nil {
			// Cannot tell what changed: trust nothing cached.
			c.purge()
			c.jwtMarks.markAll(c.now())
			break
		}
		// JWTs of this application issued before now are checked by
		// oauthd from now on, not here: they may be the revoked ones.
		c.jwtMarks.mark(d.ClientID, c.now())
		switch {
		case d.Kind == "token.revoked" && d.JTI != "":
			c.evict(jtiName(d.JTI))
		case d.ClientID != "":
			// Every application event, and kinds this version does not
			// know: drop what the application's tokens were answered.
			c.evict(clientName(d.ClientID))
		}
	}
	if ev.hasID {
		c.feedMu.Lock()
		c.lastEventID = ev.id
		c.feedMu.Unlock()
	}
	if c.testHookEvent != nil {
		c.testHookEvent(ev.event)
	}
}
