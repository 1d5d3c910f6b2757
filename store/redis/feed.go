package redis

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/oauthd/oauthd/store"
)

// The revocation feed is one capped stream, <prefix>:feed, of the changes
// that can make an answer a resource server cached wrong (store.FeedEvent).
// Each entry is written by the store method that makes the change, in the
// same MULTI (or script) as the change on a single node or Sentinel, so it
// is visible exactly when the change is. On Cluster the stream lives in
// one slot and an application's keys in another, so no transaction spans
// both: the entry is added right after the change has been committed
// (retried a few times), never before. See docs/operations.md.

// DefaultMaxFeed caps the feed stream (approximately): at a hundred
// revocations a second, about a quarter of an hour of history for
// resource servers that reconnect.
const DefaultMaxFeed = 100_000

func (s *Store) feedKey() string { return s.opts.Prefix + ":feed" }

// feedAdd queues the XADD of one event on c (a client, a pipeline or a
// transaction).
func (s *Store) feedAdd(ctx context.Context, c goredis.Cmdable, kind, clientID, jti string) *goredis.StringCmd {
	vals := []any{"kind", kind, "client_id", clientID}
	if jti != "" {
		vals = append(vals, "jti", jti)
	}
	return c.XAdd(ctx, &goredis.XAddArgs{Stream: s.feedKey(), MaxLen: s.opts.MaxFeed, Approx: true, Values: vals})
}

// feedAfter adds an event after its change was committed, on Cluster. The
// change stands whatever happens here: a failure is retried, then logged
// (resource servers then rely on their cache lifetime for that change).
func (s *Store) feedAfter(ctx context.Context, kind, clientID, jti string) {
	ctx = context.WithoutCancel(ctx)
	var err error
	for i := range 3 {
		if err = s.feedAdd(ctx, s.rdb, kind, clientID, jti).Err(); err == nil {
			return
		}
		time.Sleep(time.Duration(i+1) * 50 * time.Millisecond)
	}
	s.opts.Logger.Error("revocation feed: could not publish a committed change; resource servers will see it when their cache expires",
		"kind", kind, "client_id", clientID, "jti", jti, "error", err.Error())
}

// feedDecode reads one stream entry.
func feedDecode(m goredis.XMessage) store.FeedEvent {
	str := func(k string) string { v, _ := m.Values[k].(string); return v }
	return store.FeedEvent{ID: m.ID, Kind: str("kind"), ClientID: str("client_id"), JTI: str("jti")}
}

// Feed tails the feed stream with one reader per process and fans its
// events out to any number of subscribers in memory, so Redis serves one
// reader per replica however many resource servers follow the feed.
type Feed struct {
	s     *Store
	opts  FeedOptions
	ready chan struct{}

	mu   sync.Mutex
	last string // the last id fanned out (or the stream's top at start)
	subs map[*feedSub]struct{}
	up   bool
	// stopped: Run has returned; new subscribers are refused, so none
	// waits on a feed that will never send (and holds up shutdown).
	stopped bool
	drop    uint64
	events  uint64
}

// FeedOptions tune a Feed.
type FeedOptions struct {
	// Buffer is how many events a subscriber may be behind before it is
	// disconnected (it reconnects and resumes from Redis). Default 1024.
	Buffer int
	// Block is how long one XREAD waits for new entries. Default 200ms:
	// a new entry wakes the read at once whatever Block is, and a blocked
	// read does not notice its context ending, so Block is how long
	// stopping the reader (a replica's shutdown) waits. Five idle reads a
	// second cost Redis nothing.
	Block time.Duration
}

// NewFeed returns the feed of s; call Run to start its reader.
func (s *Store) NewFeed(opts FeedOptions) *Feed {
	if opts.Buffer <= 0 {
		opts.Buffer = 1024
	}
	if opts.Block <= 0 {
		opts.Block = 200 * time.Millisecond
	}
	return &Feed{s: s, opts: opts, ready: make(chan struct{}), subs: map[*feedSub]struct{}{}}
}

// Run reads the stream until ctx is done, reconnecting with backoff; then
// it disconnects every subscriber.
func (f *Feed) Run(ctx context.Context) {
	defer f.closeAll()
	backoff := 50 * time.Millisecond
	for ctx.Err() == nil {
		err := f.runOnce(ctx)
		if ctx.Err() != nil {
			return
		}
		f.s.opts.Logger.Warn("revocation feed reader: Redis read failed; retrying", "error", err.Error(), "retry_in_ms", backoff.Milliseconds())
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, followMaxBackoff)
	}
}

// top returns the id of the stream's newest entry, first adding a
// FeedStarted marker when the stream is empty, so every id handed to a
// subscriber is one the stream holds.
func (f *Feed) top(ctx context.Context) (string, error) {
	for range 2 {
		msgs, err := f.s.rdb.XRevRangeN(ctx, f.s.feedKey(), "+", "-", 1).Result()
		if err != nil {
			return "", err
		}
		if len(msgs) > 0 {
			return msgs[0].ID, nil
		}
		if err := f.s.feedAdd(ctx, f.s.rdb, store.FeedStarted, "", "").Err(); err != nil {
			return "", err
		}
	}
	return "", errors.New("feed stream is empty right after a write")
}

// exists reports whether the stream still holds the entry id.
func (f *Feed) exists(ctx context.Context, id string) (bool, error) {
	msgs, err := f.s.rdb.XRangeN(ctx, f.s.feedKey(), id, id, 1).Result()
	return len(msgs) == 1, err
}

func (f *Feed) runOnce(ctx context.Context) error {
	f.mu.Lock()
	last := f.last
	f.mu.Unlock()
	ok := false
	if last != "" {
		var err error
		if ok, err = f.exists(ctx, last); err != nil {
			return err
		}
	}
	if !ok {
		// First start, or the stream lost our position (trimmed past it,
		// flushed): subscribers cannot be told what they missed, so they
		// are disconnected and told to reset when they come back.
		top, err := f.top(ctx)
		if err != nil {
			return err
		}
		f.mu.Lock()
		if f.last != "" {
			f.s.opts.Logger.Warn("revocation feed: the stream no longer holds the reader's position; disconnecting subscribers", "position", f.last)
			f.dropAllLocked()
		}
		f.last, last = top, top
		if !f.up {
			f.up = true
			close(f.ready)
		}
		f.mu.Unlock()
	}
	for {
		res, err := f.s.rdb.XRead(ctx, &goredis.XReadArgs{Streams: []string{f.s.feedKey(), last}, Count: 1000, Block: f.opts.Block}).Result()
		switch {
		case errors.Is(err, goredis.Nil):
			if ctx.Err() != nil {
				return ctx.Err()
			}
			continue
		case err != nil:
			return err
		}
		for _, st := range res {
			for _, m := range st.Messages {
				f.fanout(feedDecode(m))
				last = m.ID
			}
		}
	}
}

// fanout hands ev to every subscriber; one whose buffer is full is
// disconnected rather than allowed to hold the others up.
func (f *Feed) fanout(ev store.FeedEvent) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.last = ev.ID
	f.events++
	for sub := range f.subs {
		select {
		case sub.ch <- ev:
		default:
			delete(f.subs, sub)
			close(sub.ch)
			f.drop++
		}
	}
}

func (f *Feed) dropAllLocked() {
	for sub := range f.subs {
		delete(f.subs, sub)
		close(sub.ch)
	}
}

func (f *Feed) closeAll() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stopped = true
	f.dropAllLocked()
}

// FeedStats counts a feed's subscribers.
type FeedStats struct {
	Subscribers int
	// Events counts the events fanned out since start.
	Events uint64
	// Dropped counts subscribers disconnected for falling behind.
	Dropped uint64
}

// Stats reports the feed's subscribers.
func (f *Feed) Stats() FeedStats {
	f.mu.Lock()
	defer f.mu.Unlock()
	return FeedStats{Subscribers: len(f.subs), Events: f.events, Dropped: f.drop}
}

// feedWait bounds how long Subscribe waits for the reader to know where
// the stream is (Redis down at start).
const feedWait = 3 * time.Second

// Subscribe starts a subscription resuming after from ("" for none). It
// returns ErrUnavailable when Redis cannot be read.
func (f *Feed) Subscribe(ctx context.Context, from string) (store.FeedSubscription, error) {
	wctx, cancel := context.WithTimeout(ctx, feedWait)
	defer cancel()
	select {
	case <-f.ready:
	case <-wctx.Done():
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("%w: the revocation feed reader has not reached Redis yet", store.ErrUnavailable)
	}
	reset := from == "" || !store.ValidFeedID(from)
	if !reset {
		ok, err := f.exists(ctx, from)
		if err != nil {
			return nil, f.s.wrap(err)
		}
		reset = !ok
	}
	sub := &feedSub{f: f, ch: make(chan store.FeedEvent, f.opts.Buffer), reset: reset, cursor: from}
	f.mu.Lock()
	if f.stopped {
		f.mu.Unlock()
		return nil, fmt.Errorf("%w: this replica's revocation feed has stopped (shutting down)", store.ErrUnavailable)
	}
	sub.end = f.last
	f.subs[sub] = struct{}{}
	f.mu.Unlock()
	// The backlog ends at the stream's newest entry, read only now that
	// the subscriber is registered: the reader may not have reached it
	// yet (f.last lags the stream by up to a read), and whatever it fans
	// out from here on reaches this subscriber, so between the backlog
	// and the live events nothing is missed; what both carry is skipped
	// by the subscriber (store.FeedSubscription).
	top, err := f.top(ctx)
	if err != nil {
		sub.Close()
		return nil, f.s.wrap(err)
	}
	if store.FeedIDLess(sub.end, top) {
		sub.end = top
	}
	if reset {
		sub.cursor = ""
	}
	return sub, nil
}

type feedSub struct {
	f      *Feed
	ch     chan store.FeedEvent
	reset  bool
	cursor string // the last backlog id read; "" when the backlog is done
	end    string // the backlog's last id, the stream's newest at Subscribe
}

func (s *feedSub) Reset() (bool, string) { return s.reset, s.end }

func (s *feedSub) Events() <-chan store.FeedEvent { return s.ch }

func (s *feedSub) Close() {
	s.f.mu.Lock()
	defer s.f.mu.Unlock()
	if _, ok := s.f.subs[s]; ok {
		delete(s.f.subs, s)
		close(s.ch)
	}
}

// feedPage is how many backlog entries one XRANGE reads.
const feedPage = 1000

func (s *feedSub) NextBacklog(ctx context.Context) ([]store.FeedEvent, error) {
	if s.cursor == "" || !store.FeedIDLess(s.cursor, s.end) {
		return nil, nil
	}
	msgs, err := s.f.s.rdb.XRangeN(ctx, s.f.s.feedKey(), "("+s.cursor, s.end, feedPage).Result()
	if err != nil {
		return nil, s.f.s.wrap(err)
	}
	out := make([]store.FeedEvent, len(msgs))
	for i, m := range msgs {
		out[i] = feedDecode(m)
	}
	if len(msgs) < feedPage {
		s.cursor = ""
	} else {
		s.cursor = msgs[len(msgs)-1].ID
	}
	return out, nil
}
