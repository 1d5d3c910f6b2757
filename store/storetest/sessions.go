package storetest

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/oauthd/oauthd/store"
)

func testSessions(t *testing.T, s Backend) {
	ctx := context.Background()
	id := store.Sum("session-" + newApp(t).ClientID)
	value := []byte(`{"who":"admin-key:1"}`)
	if err := s.CreateSession(ctx, id, value, time.Hour); err != nil {
		t.Fatalf("CreateSession: %v", err)
	}
	if err := s.CreateSession(ctx, id, []byte(`{}`), time.Hour); !errors.Is(err, store.ErrAlreadyExists) {
		t.Fatalf("second CreateSession = %v, want ErrAlreadyExists", err)
	}
	got, err := s.GetSession(ctx, id, time.Hour)
	if err != nil || !bytes.Equal(got, value) {
		t.Fatalf("GetSession = %q, %v; want the first value, kept", got, err)
	}
	if _, err := s.GetSession(ctx, store.Sum("other"), time.Hour); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetSession(unknown) = %v, want ErrNotFound", err)
	}
	if err := s.DeleteSession(ctx, id); err != nil {
		t.Fatalf("DeleteSession: %v", err)
	}
	if _, err := s.GetSession(ctx, id, time.Hour); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetSession after delete = %v, want ErrNotFound", err)
	}
	if err := s.DeleteSession(ctx, id); err != nil {
		t.Fatalf("deleting a deleted session: %v, want nil", err)
	}
	for _, ttl := range []time.Duration{0, -time.Second} {
		if err := s.CreateSession(ctx, store.Sum("no-ttl"), value, ttl); err == nil {
			t.Fatalf("CreateSession with ttl %v accepted", ttl)
		}
	}
}

// A session ends when it is not read for its ttl; each read restarts it.
func testSessionIdleExpiry(t *testing.T, s Backend) {
	ctx := context.Background()
	id := store.Sum("idle-" + newApp(t).ClientID)
	const ttl = 600 * time.Millisecond
	if err := s.CreateSession(ctx, id, []byte("v"), ttl); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		s.FastForward(ttl * 2 / 3)
		if _, err := s.GetSession(ctx, id, ttl); err != nil {
			t.Fatalf("read %d, within the (restarted) idle time: %v", i+1, err)
		}
	}
	s.FastForward(ttl + 100*time.Millisecond)
	if _, err := s.GetSession(ctx, id, ttl); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a session idle past its ttl: %v, want ErrNotFound", err)
	}
}

func testSigningKeys(t *testing.T, s Backend) {
	ctx := context.Background()
	if keys, err := s.ListSigningKeys(ctx); err != nil || len(keys) != 0 {
		t.Fatalf("ListSigningKeys of an empty store = %v, %v; want none, no error", keys, err)
	}
	now := time.Now().UTC().Truncate(time.Millisecond)
	key := func(id string, activeIn time.Duration) store.SigningKey {
		return store.SigningKey{ID: id, Alg: "EdDSA", CreatedAt: now, ActiveAt: now.Add(activeIn), Sealed: []byte("sealed " + id)}
	}
	k1, k2, k3, k4 := key("k1", 0), key("k2", time.Hour), key("k3", 2*time.Hour), key("k4", 3*time.Hour)
	list := func() []store.SigningKey { t.Helper(); return signingKeys(t, s) }
	if err := s.AddSigningKey(ctx, k1, nil); err != nil {
		t.Fatalf("AddSigningKey: %v", err)
	}
	if got := list(); !sameKeys(got, []store.SigningKey{k1}) {
		t.Fatalf("after one key: %+v", got)
	}
	// A new key retires the old one in the same step.
	if err := s.AddSigningKey(ctx, k2, map[string]time.Time{"k1": now.Add(2 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	k1.RetireAt = now.Add(2 * time.Hour)
	if got := list(); !sameKeys(got, []store.SigningKey{k1, k2}) {
		t.Fatalf("after a rotation:\n got  %+v\n want %+v", got, []store.SigningKey{k1, k2})
	}
	// A key retired more than a day before an addition is dropped by it.
	if err := s.AddSigningKey(ctx, k3, map[string]time.Time{"k1": now.Add(-25 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if err := s.AddSigningKey(ctx, k4, nil); err != nil {
		t.Fatal(err)
	}
	if got := list(); !sameKeys(got, []store.SigningKey{k2, k3, k4}) {
		t.Fatalf("a key retired 25 hours ago is still listed: %+v", got)
	}
}

// signingKeys lists the keys, by id.
func signingKeys(t *testing.T, s Backend) []store.SigningKey {
	t.Helper()
	keys, err := s.ListSigningKeys(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(keys, func(a, b store.SigningKey) int { return strings.Compare(a.ID, b.ID) })
	return keys
}

func sameKeys(got, want []store.SigningKey) bool {
	return slices.EqualFunc(got, want, func(a, b store.SigningKey) bool {
		return a.ID == b.ID && a.Alg == b.Alg && a.CreatedAt.Equal(b.CreatedAt) && a.ActiveAt.Equal(b.ActiveAt) &&
			a.RetireAt.Equal(b.RetireAt) && bytes.Equal(a.Sealed, b.Sealed)
	})
}

// Every caller gets the same 32-byte key, made once, and only when it
// asks for one to be made.
func testSharedSealingKey(t *testing.T, s Backend) {
	ctx := context.Background()
	if none, err := s.SharedSealingKey(ctx, false); err != nil || none != nil {
		t.Fatalf("SharedSealingKey without create, none made = %d bytes, %v; want nil, no error", len(none), err)
	}
	first, err := s.SharedSealingKey(ctx, true)
	if err != nil || len(first) != 32 {
		t.Fatalf("SharedSealingKey = %d bytes, %v; want 32", len(first), err)
	}
	if bytes.Equal(first, make([]byte, 32)) {
		t.Fatal("the shared sealing key is all zeros")
	}
	again, err := s.SharedSealingKey(ctx, true)
	if err != nil || !bytes.Equal(again, first) {
		t.Fatalf("second SharedSealingKey differs (%v)", err)
	}
	if looked, err := s.SharedSealingKey(ctx, false); err != nil || !bytes.Equal(looked, first) {
		t.Fatalf("SharedSealingKey without create differs (%v)", err)
	}
}

// Resealing rewrites each key's sealed form and nothing else of it, and
// drops the shared sealing key. It is a compare-and-swap: a key added
// while reseal runs makes it run again, so that key is resealed too. An
// error from reseal writes nothing.
func testResealSigningKeys(t *testing.T, s Backend) {
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Millisecond)
	k1 := store.SigningKey{ID: "k1", Alg: "EdDSA", CreatedAt: now, ActiveAt: now, Sealed: []byte("old k1")}
	k2 := store.SigningKey{ID: "k2", Alg: "ES256", CreatedAt: now, ActiveAt: now.Add(time.Hour), Sealed: []byte("old k2")}
	k3 := store.SigningKey{ID: "k3", Alg: "EdDSA", CreatedAt: now, ActiveAt: now.Add(2 * time.Hour), Sealed: []byte("old k3")}
	if err := s.AddSigningKey(ctx, k1, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.AddSigningKey(ctx, k2, map[string]time.Time{"k1": now.Add(3 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	k1.RetireAt = now.Add(3 * time.Hour)
	if _, err := s.SharedSealingKey(ctx, true); err != nil {
		t.Fatal(err)
	}
	resealed := func(keys []store.SigningKey) []store.SigningKey {
		out := slices.Clone(keys)
		for i := range out {
			out[i].Sealed = []byte("new " + out[i].ID)
		}
		return out
	}

	boom := errors.New("boom")
	err := s.ResealSigningKeys(ctx, func(keys []store.SigningKey) ([]store.SigningKey, error) { return resealed(keys), boom })
	if !errors.Is(err, boom) {
		t.Fatalf("ResealSigningKeys with a failing reseal = %v, want its error", err)
	}
	if got := signingKeys(t, s); !sameKeys(got, []store.SigningKey{k1, k2}) {
		t.Fatalf("a failed reseal wrote: %+v", got)
	}
	if shared, err := s.SharedSealingKey(ctx, false); err != nil || shared == nil {
		t.Fatalf("a failed reseal dropped the shared sealing key (%v)", err)
	}

	calls := 0
	err = s.ResealSigningKeys(ctx, func(keys []store.SigningKey) ([]store.SigningKey, error) {
		if calls++; calls == 1 {
			// Another replica rotates meanwhile.
			if err := s.AddSigningKey(ctx, k3, nil); err != nil {
				return nil, err
			}
		}
		return resealed(keys), nil
	})
	if err != nil || calls != 2 {
		t.Fatalf("ResealSigningKeys = %v after %d calls of reseal; want success on the second, after a key was added", err, calls)
	}
	want := resealed([]store.SigningKey{k1, k2, k3})
	if got := signingKeys(t, s); !sameKeys(got, want) {
		t.Fatalf("after the reseal:\n got  %+v\n want %+v", got, want)
	}
	if shared, err := s.SharedSealingKey(ctx, false); err != nil || shared != nil {
		t.Fatalf("the shared sealing key survives the reseal: %d bytes, %v", len(shared), err)
	}
}
