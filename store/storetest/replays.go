package storetest

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"
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
