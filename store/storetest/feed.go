package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/oauthd/oauthd/store"
)

// feedWait bounds every wait for a feed event.
const feedWait = 5 * time.Second

// follower reads one subscription as a resource server does: live events
// only after the last one handled (they may repeat the backlog), and
// none of the marker the feed may start with.
type follower struct {
	t    *testing.T
	sub  store.FeedSubscription
	last string
}

func subscribe(t *testing.T, s store.Feed, lastID string) *follower {
	t.Helper()
	sub, err := s.Subscribe(context.Background(), lastID)
	if err != nil {
		t.Fatalf("Subscribe(%q): %v", lastID, err)
	}
	t.Cleanup(sub.Close)
	_, end := sub.Reset()
	return &follower{t: t, sub: sub, last: end}
}

// backlog reads every page of what the subscriber missed.
func (f *follower) backlog() []store.FeedEvent {
	f.t.Helper()
	var out []store.FeedEvent
	for range 1000 {
		page, err := f.sub.NextBacklog(context.Background())
		if err != nil {
			f.t.Fatalf("NextBacklog: %v", err)
		}
		if len(page) == 0 {
			return out
		}
		out = append(out, page...)
	}
	f.t.Fatal("the backlog does not end")
	return nil
}

// next returns the next live event.
func (f *follower) next() store.FeedEvent {
	f.t.Helper()
	deadline := time.After(feedWait)
	for {
		select {
		case ev, ok := <-f.sub.Events():
			if !ok {
				f.t.Fatal("the subscription was closed")
			}
			if !store.FeedIDLess(f.last, ev.ID) || ev.Kind == store.FeedStarted {
				continue
			}
			f.last = ev.ID
			return ev
		case <-deadline:
			f.t.Fatalf("no feed event within %v", feedWait)
		}
	}
}

// events reads n live events, with their ids left out.
func (f *follower) events(n int) []store.FeedEvent {
	f.t.Helper()
	out := make([]store.FeedEvent, n)
	for i := range out {
		out[i] = f.next()
	}
	return out
}

func withoutIDs(evs []store.FeedEvent) string {
	var b []string
	for _, ev := range evs {
		b = append(b, fmt.Sprintf("{%s %s %s}", ev.Kind, ev.ClientID, ev.JTI))
	}
	return fmt.Sprint(b)
}

// change applies edit to the application a through UpdateApplication.
func change(t *testing.T, s store.Applications, id string, edit func(*store.Application)) {
	t.Helper()
	if _, err := s.UpdateApplication(context.Background(), id, func(a store.Application) (store.Application, error) {
		edit(&a)
		return a, nil
	}); err != nil {
		t.Fatalf("UpdateApplication: %v", err)
	}
}

// feedChanges makes one of each change the feed carries, with changes it
// does not carry in between, and returns the events a subscriber must see.
func feedChanges(t *testing.T, s Backend) []store.FeedEvent {
	t.Helper()
	ctx := context.Background()
	a := newApp(t)
	mustCreate(t, s, a)
	ref, _ := put(t, s, a, "revoked", time.Hour)
	change(t, s, a.ClientID, func(a *store.Application) { a.Name = "renamed" }) // nothing cached depends on it
	if ok, err := s.RevokeToken(ctx, ref, 0); err != nil || !ok {
		t.Fatalf("RevokeToken = %v, %v", ok, err)
	}
	if ok, err := s.RevokeToken(ctx, ref, 0); err != nil || ok { // nothing left: no event
		t.Fatalf("second RevokeToken = %v, %v", ok, err)
	}
	change(t, s, a.ClientID, func(a *store.Application) { a.Scopes = []string{"sms"} })
	change(t, s, a.ClientID, func(a *store.Application) { a.Generation++ })
	change(t, s, a.ClientID, func(a *store.Application) { a.Enabled = false })
	change(t, s, a.ClientID, func(a *store.Application) { a.Enabled = true }) // a cached "inactive" is harmless
	if err := s.DeleteApplication(ctx, a.ClientID); err != nil {
		t.Fatal(err)
	}
	return []store.FeedEvent{
		{Kind: store.FeedTokenRevoked, ClientID: a.ClientID, JTI: ref.JTI()},
		{Kind: store.FeedAppUpdated, ClientID: a.ClientID},
		{Kind: store.FeedTokensRevoked, ClientID: a.ClientID},
		{Kind: store.FeedAppDisabled, ClientID: a.ClientID},
		{Kind: store.FeedAppDeleted, ClientID: a.ClientID},
	}
}

// A subscriber without an id is told to reset, with an id to resume from,
// and then gets every change that can make a cached answer wrong, in
// order, and no other; after Close it gets nothing more.
func testFeedPublishes(t *testing.T, s Backend) {
	f := subscribe(t, s, "")
	if reset, id := f.sub.Reset(); !reset || !store.ValidFeedID(id) {
		t.Fatalf("Reset() = %v, %q; want a reset and an id to resume from", reset, id)
	}
	if missed := f.backlog(); len(missed) != 0 {
		t.Fatalf("a reset subscriber was given a backlog: %+v", missed)
	}
	want := feedChanges(t, s)
	if got := f.events(len(want)); withoutIDs(got) != withoutIDs(want) {
		t.Fatalf("feed events\n got  %v\n want %v", withoutIDs(got), withoutIDs(want))
	}
	f.sub.Close() // and again at cleanup: closing twice is fine
	deadline := time.After(feedWait)
	for {
		select {
		case ev, ok := <-f.sub.Events():
			if !ok {
				return
			}
			t.Fatalf("an event after Close: %+v", ev)
		case <-deadline:
			t.Fatal("Events not closed after Close")
		}
	}
}

// A subscriber that resumes from an id the feed holds reads what it missed
// as a backlog, then goes on live; one whose id is malformed or no longer
// held is told to reset.
func testFeedResumes(t *testing.T, s Backend) {
	first := subscribe(t, s, "")
	want := feedChanges(t, s)
	got := first.events(len(want))

	resumed := subscribe(t, s, got[0].ID)
	if reset, _ := resumed.sub.Reset(); reset {
		t.Fatalf("resuming from %s, an id the feed holds, reset", got[0].ID)
	}
	missed := resumed.backlog()
	if withoutIDs(missed) != withoutIDs(want[1:]) {
		t.Fatalf("backlog after the first event\n got  %v\n want %v", withoutIDs(missed), withoutIDs(want[1:]))
	}
	for i, ev := range missed {
		if ev.ID != got[i+1].ID {
			t.Fatalf("backlog[%d] has id %s, live it had %s", i, ev.ID, got[i+1].ID)
		}
	}
	b := newApp(t)
	mustCreate(t, s, b)
	change(t, s, b.ClientID, func(a *store.Application) { a.Enabled = false })
	live := []store.FeedEvent{{Kind: store.FeedAppDisabled, ClientID: b.ClientID}}
	for _, f := range []*follower{first, resumed} {
		if ev := f.events(1); withoutIDs(ev) != withoutIDs(live) {
			t.Fatalf("live after the backlog: %v, want %v", withoutIDs(ev), withoutIDs(live))
		}
	}

	for _, lastID := range []string{"junk", "1-", "1-1"} { // "1-1": well formed, never held
		f := subscribe(t, s, lastID)
		if reset, id := f.sub.Reset(); !reset || !store.ValidFeedID(id) {
			t.Errorf("Subscribe(%q).Reset() = %v, %q; want a reset", lastID, reset, id)
		}
	}
}
