package redis_test

import (
	"context"
	"errors"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/oauthd/oauthd/store"
	"github.com/oauthd/oauthd/store/redis"
	"github.com/oauthd/oauthd/store/redis/redistest"
)

// feedEntries reads the whole feed stream.
func feedEntries(t *testing.T, rdb goredis.UniversalClient, prefix string) []store.FeedEvent {
	t.Helper()
	msgs, err := rdb.XRange(context.Background(), prefix+":feed", "-", "+").Result()
	if err != nil {
		t.Fatal(err)
	}
	var out []store.FeedEvent
	for _, m := range msgs {
		s := func(k string) string { v, _ := m.Values[k].(string); return v }
		out = append(out, store.FeedEvent{ID: m.ID, Kind: s("kind"), ClientID: s("client_id"), JTI: s("jti")})
	}
	return out
}

// Every change that can make a cached introspection answer wrong writes
// one feed entry, with the change; changes that cannot write none, and no
// entry carries more than kind, client_id and jti.
func TestFeedWrites(t *testing.T) {
	t.Parallel()
	for _, kind := range redistest.Kinds {
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			rdb := redistest.Start(t, kind).Client(t)
			s := redis.New(rdb, redis.Options{Prefix: "fw", KeepExpired: time.Hour})
			now := time.Now()
			app := store.Application{ClientID: "c1", Name: "n", Enabled: true, Scopes: []string{"a", "b"}, CreatedAt: now}
			if err := s.CreateApplication(ctx, app); err != nil {
				t.Fatal(err)
			}
			tok := store.Token{ClientID: "c1", IssuedAt: now, ExpiresAt: now.Add(time.Hour)}
			ref := store.TokenRef{ClientID: "c1", Bucket: tok.Bucket(), Digest: store.Sum("tok")}
			if err := s.CreateToken(ctx, ref, tok); err != nil {
				t.Fatal(err)
			}
			update := func(f func(*store.Application)) {
				t.Helper()
				if _, err := s.UpdateApplication(ctx, "c1", func(a store.Application) (store.Application, error) { f(&a); return a, nil }); err != nil {
					t.Fatal(err)
				}
			}
			update(func(a *store.Application) { a.Name = "renamed" }) // no event
			if ok, err := s.RevokeToken(ctx, ref, time.Minute); !ok || err != nil {
				t.Fatalf("revoke: %v %v", ok, err)
			}
			if ok, err := s.RevokeToken(ctx, ref, time.Minute); ok || err != nil { // nothing left: no event
				t.Fatalf("second revoke: %v %v", ok, err)
			}
			update(func(a *store.Application) { a.Scopes = []string{"a"} })
			update(func(a *store.Application) { a.Generation++ })
			update(func(a *store.Application) { a.Enabled = false })
			update(func(a *store.Application) { a.Enabled = true }) // no event
			if err := s.DeleteApplication(ctx, "c1"); err != nil {
				t.Fatal(err)
			}
			got := feedEntries(t, rdb, "fw")
			want := []store.FeedEvent{
				{Kind: store.FeedTokenRevoked, ClientID: "c1", JTI: ref.JTI()},
				{Kind: store.FeedAppUpdated, ClientID: "c1"},
				{Kind: store.FeedTokensRevoked, ClientID: "c1"},
				{Kind: store.FeedAppDisabled, ClientID: "c1"},
				{Kind: store.FeedAppDeleted, ClientID: "c1"},
			}
			if len(got) != len(want) {
				t.Fatalf("feed = %+v, want %+v", got, want)
			}
			for i := range want {
				if !store.ValidFeedID(got[i].ID) {
					t.Errorf("entry %d id %q", i, got[i].ID)
				}
				got[i].ID = ""
				if got[i] != want[i] {
					t.Errorf("entry %d = %+v, want %+v", i, got[i], want[i])
				}
			}
			msgs, _ := rdb.XRange(ctx, "fw:feed", "-", "+").Result()
			for _, m := range msgs {
				for k := range m.Values {
					if k != "kind" && k != "client_id" && k != "jti" {
						t.Errorf("entry holds field %q", k)
					}
				}
			}
		})
	}
}

// startFeed runs a Feed on s until the test ends and waits until it is up.
func startFeed(t *testing.T, s *redis.Store, opts redis.FeedOptions) *redis.Feed {
	t.Helper()
	if opts.Block == 0 {
		opts.Block = 50 * time.Millisecond
	}
	f := s.NewFeed(opts)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); f.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	sub, err := f.Subscribe(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	sub.Close()
	return f
}

func recv(t *testing.T, sub store.FeedSubscription) store.FeedEvent {
	t.Helper()
	select {
	case ev, ok := <-sub.Events():
		if !ok {
			t.Fatal("subscription closed")
		}
		return ev
	case <-time.After(5 * time.Second):
		t.Fatal("no event within 5s")
	}
	return store.FeedEvent{}
}

func backlog(t *testing.T, sub store.FeedSubscription) []store.FeedEvent {
	t.Helper()
	var out []store.FeedEvent
	for {
		page, err := sub.NextBacklog(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			return out
		}
		out = append(out, page...)
	}
}

// One reader fans out to every subscriber; a subscriber that resumes
// from an id reads what it missed from Redis, then live events; one with
// no id, a malformed id or an id the stream no longer holds is told to
// reset; a subscriber that does not keep up is disconnected without
// holding up the others.
func TestFeedFanout(t *testing.T) {
	t.Parallel()
	for _, kind := range redistest.Kinds {
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			rdb := redistest.Start(t, kind).Client(t)
			s := redis.New(rdb, redis.Options{Prefix: "ff", MaxFeed: 100_000})
			now := time.Now()
			if err := s.CreateApplication(ctx, store.Application{ClientID: "c1", Enabled: true, CreatedAt: now}); err != nil {
				t.Fatal(err)
			}
			revoke := func(i int) string {
				t.Helper()
				tok := store.Token{ClientID: "c1", IssuedAt: now, ExpiresAt: now.Add(time.Hour)}
				ref := store.TokenRef{ClientID: "c1", Bucket: tok.Bucket(), Digest: store.Sum("tok" + string(rune('a'+i%26)) + time.Now().String())}
				if err := s.CreateToken(ctx, ref, tok); err != nil {
					t.Fatal(err)
				}
				if ok, err := s.RevokeToken(ctx, ref, 0); !ok || err != nil {
					t.Fatal(ok, err)
				}
				return ref.JTI()
			}
			f := startFeed(t, s, redis.FeedOptions{Buffer: 4})

			fresh, err := f.Subscribe(ctx, "")
			if err != nil {
				t.Fatal(err)
			}
			defer fresh.Close()
			reset, resumeAt := fresh.Reset()
			if !reset || !store.ValidFeedID(resumeAt) {
				t.Fatalf("a subscriber without an id: reset=%v id=%q, want a reset and an id", reset, resumeAt)
			}
			slow, err := f.Subscribe(ctx, "")
			if err != nil {
				t.Fatal(err)
			}
			defer slow.Close()

			jti := revoke(0)
			ev := recv(t, fresh)
			if ev.Kind != store.FeedTokenRevoked || ev.JTI != jti || ev.ClientID != "c1" {
				t.Fatalf("live event %+v", ev)
			}
			// fresh keeps up; slow reads nothing and overflows its buffer.
			var jtis []string
			for i := 1; i <= 6; i++ {
				jtis = append(jtis, revoke(i))
				if e := recv(t, fresh); e.JTI != jtis[len(jtis)-1] {
					t.Fatalf("fresh got %+v", e)
				}
			}
			n := 0
			for range slow.Events() {
				n++
			}
			if n != 4 {
				t.Errorf("slow subscriber got %d events before being dropped, want its buffer (4)", n)
			}
			if st := f.Stats(); st.Dropped != 1 {
				t.Errorf("stats %+v, want one dropped", st)
			}

			// Resuming from the first event's id replays the other six
			// from Redis, then goes on live.
			resumed, err := f.Subscribe(ctx, ev.ID)
			if err != nil {
				t.Fatal(err)
			}
			defer resumed.Close()
			if r, _ := resumed.Reset(); r {
				t.Fatal("resuming from a held id reset")
			}
			bl := backlog(t, resumed)
			if len(bl) != 6 {
				t.Fatalf("backlog %d events, want 6", len(bl))
			}
			for i, e := range bl {
				if e.JTI != jtis[i] {
					t.Errorf("backlog[%d] = %+v, want jti %s", i, e, jtis[i])
				}
			}
			last := revoke(7)
			if e := recv(t, resumed); e.JTI != last {
				t.Fatalf("after the backlog got %+v, want %s", e, last)
			}

			for _, bad := range []string{"junk", "1-", "00-1", "1-1"} {
				sub, err := f.Subscribe(ctx, bad)
				if err != nil {
					t.Fatal(err)
				}
				if r, _ := sub.Reset(); !r {
					t.Errorf("resuming from %q did not reset", bad)
				}
				sub.Close()
			}
			// Trim the stream past ev.ID: resuming from it resets.
			if err := rdb.XTrimMaxLen(ctx, "ff:feed", 1).Err(); err != nil {
				t.Fatal(err)
			}
			sub, err := f.Subscribe(ctx, ev.ID)
			if err != nil {
				t.Fatal(err)
			}
			if r, id := sub.Reset(); !r || id == ev.ID {
				t.Errorf("resuming from a trimmed id: reset=%v id=%s", r, id)
			}
			sub.Close()
		})
	}
}

// A stopped feed disconnects its subscribers and refuses new ones, so a
// replica shutting down sends them elsewhere at once.
func TestFeedStop(t *testing.T) {
	t.Parallel()
	rdb := redistest.Start(t, redistest.Mini).Client(t)
	s := redis.New(rdb, redis.Options{Prefix: "fs"})
	f := s.NewFeed(redis.FeedOptions{Block: 20 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); f.Run(ctx) }()
	sub, err := f.Subscribe(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	<-done
	if _, ok := <-sub.Events(); ok {
		t.Fatal("a subscriber got an event from a stopped feed")
	}
	sub.Close()
	if _, err := f.Subscribe(context.Background(), ""); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("subscribing to a stopped feed: %v, want ErrUnavailable", err)
	}
}
