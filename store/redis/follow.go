package redis

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// Invalidation timing. A follower pings its subscription connection after
// followPing of silence and gives it followPing more to answer, so a
// connection that dies silently is noticed, and the cache dropped, within
// 2×followPing; one that is closed or reset is noticed at once.
const (
	followPing       = time.Second
	followMaxBackoff = 2 * time.Second
)

func (s *Store) changesChannel() string { return s.opts.Prefix + ":app-changes" }

// Run keeps the application cache and the scope catalogue's coherent
// with Redis and flushes the buffered overall usage counts, until ctx is done.
// Without Run the store still works: the caches stay down and every read
// goes to Redis. Run returns after a last usage flush (bounded by a few
// seconds).
func (s *Store) Run(ctx context.Context) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.follow(ctx)
	}()
	t := time.NewTicker(s.opts.UsageFlushEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			<-done
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 3*time.Second)
			defer cancel()
			if err := s.FlushUsage(fctx); err != nil {
				s.opts.Logger.Error("overall usage flush at shutdown failed; the overview's counts since the last flush are lost", "error", err.Error())
			}
			return
		case <-t.C:
			if err := s.FlushUsage(ctx); err != nil && ctx.Err() == nil {
				s.opts.Logger.Warn("overall usage flush failed; the overview's counts since the last flush are lost", "error", err.Error())
			}
		}
	}
}

// follow subscribes to application changes and evicts what they name,
// re-subscribing with backoff whenever the subscription breaks.
func (s *Store) follow(ctx context.Context) {
	backoff := 50 * time.Millisecond
	for ctx.Err() == nil {
		err := s.followOnce(ctx)
		s.apps.setUp(false)
		s.scopes.setUp(false)
		if ctx.Err() != nil {
			return
		}
		s.opts.Logger.Warn("application cache off: invalidation channel down; reading applications from Redis until it is back",
			"error", err.Error(), "retry_in_ms", backoff.Milliseconds())
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, followMaxBackoff)
	}
}

var errSilent = errors.New("subscription connection did not answer a ping")

// followOnce runs one subscription until it breaks. The cache is turned on
// only once Redis has confirmed the subscription: from then on no change
// can be missed.
func (s *Store) followOnce(ctx context.Context) error {
	ps := s.rdb.Subscribe(ctx)
	defer ps.Close()
	// A receive waits out its timeout whatever ctx says: closing the
	// subscription is what makes a shutdown prompt.
	stop := context.AfterFunc(ctx, func() { ps.Close() })
	defer stop()
	if err := ps.Subscribe(ctx, s.changesChannel()); err != nil {
		return err
	}
	pinged := false
	for {
		msg, err := ps.ReceiveTimeout(ctx, followPing)
		var ne net.Error
		switch {
		case err == nil:
		case ctx.Err() != nil:
			return ctx.Err()
		case errors.As(err, &ne) && ne.Timeout():
			if pinged {
				return errSilent
			}
			if err := ps.Ping(ctx); err != nil {
				return err
			}
			pinged = true
			continue
		default:
			return err
		}
		pinged = false
		switch m := msg.(type) {
		case *goredis.Subscription:
			if m.Kind == "subscribe" {
				s.apps.setUp(true)
				s.scopes.setUp(true)
				s.opts.Logger.Info("application cache on: following invalidations", slog.String("channel", m.Channel))
			}
		case *goredis.Message:
			if m.Payload == scopesChanged {
				s.scopes.invalidate()
			} else {
				s.apps.invalidate(m.Payload)
			}
		}
	}
}
