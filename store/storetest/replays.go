package storetest

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oauthd/oauthd/store"
)

// A one-time identifier is fresh once, per kind, until it expires; of
// concurrent first uses exactly one wins.
func testReplays(t *testing.T, s Backend) {
	ctx := context.Background()
	until := time.Now().Add(300 * time.Millisecond)
	seen := func(kind, id string) bool {
		t.Helper()
		ok, err := s.Seen(ctx, kind, id, until)
		if err != nil {
			t.Fatalf("Seen(%s, %s) = %v", kind, id, err)
		}
		return ok
	}
	if seen("dpop", "j1") {
		t.Fatal("a new id was seen already")
	}
	if !seen("dpop", "j1") {
		t.Fatal("a replayed id was not seen")
	}
	if seen("assertion", "j1") {
		t.Error("the same id under another kind was seen already")
	}
	var wins atomic.Int32
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if ok, err := s.Seen(ctx, "dpop", "race", until); err == nil && !ok {
				wins.Add(1)
			}
		}()
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Errorf("%d concurrent first uses won, want 1", wins.Load())
	}
	s.FastForward(400 * time.Millisecond)
	if ok, err := s.Seen(ctx, "dpop", "j1", time.Now().Add(time.Second)); err != nil || ok {
		t.Errorf("Seen after expiry = %v, %v, want false", ok, err)
	}
}

// A grant's binding (issue 19) is stored with the token, whether the
// backend writes the record from Go or in its own step, and read back by
// a lookup; a token issued without one has none.
func testIssueBoundToken(t *testing.T, s Backend) {
	ctx := context.Background()
	a := newApp(t)
	mustCreate(t, s, a)
	cnf := store.Confirmation{JKT: "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I", X5TS256: "bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2"}
	for _, bound := range []bool{true, false} {
		r := request(a, fmt.Sprintf("bound-%v", bound))
		c := &grantCheck{}
		got, err := s.IssueToken(ctx, r, func(app *store.Application) (store.Grant, error) {
			g, err := c.check(r)(app)
			if bound {
				g.Confirmation = cnf
			}
			return g, err
		})
		if err != nil {
			t.Fatalf("IssueToken (bound %v) = %v", bound, err)
		}
		want := store.Confirmation{}
		if bound {
			want = cnf
		}
		if got.Token.Confirmation != want {
			t.Errorf("issued (bound %v): Confirmation %+v, want %+v", bound, got.Token.Confirmation, want)
		}
		l, err := s.LookupToken(ctx, got.Ref, "")
		if err != nil || l.Token == nil {
			t.Fatalf("LookupToken = %+v, %v", l, err)
		}
		if l.Token.Confirmation != want {
			t.Errorf("looked up (bound %v): Confirmation %+v, want %+v", bound, l.Token.Confirmation, want)
		}
	}
}
