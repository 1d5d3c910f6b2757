package redis

import (
	"context"
	"slices"
	"testing"

	"github.com/oauthd/oauthd/store"
	"github.com/oauthd/oauthd/store/redis/redistest"
)

// A subscription's backlog ends at the stream's newest entry, not at the
// reader's position, which lags it by up to one read: events the reader
// has not fanned out yet are in the backlog, so the feed's "ready" never
// comes before them (store.FeedSubscription). Before, TestFeedEndpoint saw
// "ready" ahead of two such events in 12 of 300 runs.
func TestFeedBacklogEndsAtStreamTop(t *testing.T) {
	t.Parallel()
	for _, kind := range redistest.Kinds {
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			rdb := redistest.Start(t, kind).Client(t)
			s := New(rdb, Options{Prefix: "fl"})
			f := s.NewFeed(FeedOptions{})
			// The reader as runOnce leaves it at start, then stalled: it
			// knows the stream's top and has read nothing since.
			top, err := f.top(ctx)
			if err != nil {
				t.Fatal(err)
			}
			f.last, f.up = top, true
			close(f.ready)
			var missed []string
			for _, jti := range []string{"a", "b"} {
				id, err := s.feedAdd(ctx, rdb, store.FeedTokenRevoked, "c1", jti).Result()
				if err != nil {
					t.Fatal(err)
				}
				missed = append(missed, id)
			}

			resumed, err := f.Subscribe(ctx, top)
			if err != nil {
				t.Fatal(err)
			}
			defer resumed.Close()
			var got []string
			for {
				page, err := resumed.NextBacklog(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if len(page) == 0 {
					break
				}
				for _, ev := range page {
					got = append(got, ev.ID)
				}
			}
			if !slices.Equal(got, missed) {
				t.Errorf("backlog %v, want the entries the reader has not read %v", got, missed)
			}

			fresh, err := f.Subscribe(ctx, "")
			if err != nil {
				t.Fatal(err)
			}
			defer fresh.Close()
			if reset, id := fresh.Reset(); !reset || id != missed[1] {
				t.Errorf("a new subscriber resets to %q (reset %v), want the stream's newest entry %q", id, reset, missed[1])
			}
		})
	}
}
