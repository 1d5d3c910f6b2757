package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/oauthd/oauthd/store"
)

// issueAt stores an access token issued at `at` by secret "s1", counted in
// usage, and still live.
func issueAt(t *testing.T, s store.Tokens, a store.Application, name string, at time.Time) {
	t.Helper()
	tok := store.Token{ClientID: a.ClientID, IssuedAt: at, ExpiresAt: at.Add(48 * time.Hour), Generation: a.Generation, SecretID: "s1"}
	if err := s.CreateToken(context.Background(), refOf(tok, name), tok); err != nil {
		t.Fatalf("CreateToken: %v", err)
	}
}

// Usage of several applications is read at once, an entry for each id
// asked: counts for the used one, zero for the unused and the unknown.
// API keys are not access tokens: they count nowhere.
func testUsageOfSeveral(t *testing.T, s Backend) {
	ctx := context.Background()
	used, unused := newApp(t), newApp(t)
	mustCreate(t, s, used)
	mustCreate(t, s, unused)
	now := time.Now().UTC().Truncate(time.Millisecond)
	issueAt(t, s, used, "a", now.Add(-time.Minute))
	issueAt(t, s, used, "b", now)
	key := newToken(used, 0)
	key.Kind, key.Name, key.SecretID, key.IssuedAt = store.KindAPIKey, "key", "", now.Add(time.Second)
	if err := s.CreateToken(ctx, refOf(key, "key"), key); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetUsages(ctx, []string{used.ClientID, unused.ClientID, "ghost"})
	if err != nil || len(got) != 3 {
		t.Fatalf("GetUsages = %v, %v; want an entry for each of 3 ids", got, err)
	}
	// Last use is exact to the hour (UsageCounts): one of the tokens'
	// times, in the last one's hour.
	lastOK := func(at time.Time) bool {
		return (at.Equal(now) || at.Equal(now.Add(-time.Minute))) && at.Truncate(time.Hour).Equal(now.Truncate(time.Hour))
	}
	if u := got[used.ClientID]; u.Issued != 2 || !lastOK(u.LastUsed) || !lastOK(u.SecretLastUsed["s1"]) {
		t.Errorf("usage of the used application: %+v; want 2 issued, last used in the hour of %v (the API key uncounted)", u, now)
	}
	for _, id := range []string{unused.ClientID, "ghost"} {
		if u := got[id]; u.Issued != 0 || !u.LastUsed.IsZero() || len(u.SecretLastUsed) != 0 {
			t.Errorf("usage of %s: %+v, want none", id, u)
		}
	}
	if one, err := s.GetUsage(ctx, used.ClientID); err != nil || one.Issued != 2 {
		t.Errorf("GetUsage disagrees with GetUsages: %+v, %v", one, err)
	}
}

// A token the check refuses is not counted, whether or not the backend
// wrote its record before the check ran (store/redis does, for an
// application it does not hold, and takes it back).
func testUsageRefusedUncounted(t *testing.T, s Backend) {
	ctx := context.Background()
	a := newApp(t)
	mustCreate(t, s, a)
	now := time.Now().UTC().Truncate(time.Millisecond)
	r := store.TokenRequest{ClientID: a.ClientID, Secret: store.Sum("secret-one"), AuthAt: now, Digest: store.Sum("refused"), IssuedAt: now}
	refuse := func(*store.Application) (store.Grant, error) {
		return store.Grant{}, errors.New("outside the allowlist")
	}
	if _, err := s.IssueToken(ctx, r, refuse); err == nil {
		t.Fatal("IssueToken with a check that refuses gave a token")
	}
	if u, err := s.GetUsage(ctx, a.ClientID); err != nil || u.Issued != 0 {
		t.Fatalf("usage after a refused token: %+v, %v; want none issued", u, err)
	}
	if hours, err := s.IssuedPerHour(ctx, a.ClientID, 1, now); err != nil || hours[0] != 0 {
		t.Fatalf("IssuedPerHour after a refused token: %v, %v; want 0", hours, err)
	}
	r.Digest = store.Sum("granted")
	grant := func(*store.Application) (store.Grant, error) {
		return store.Grant{Scopes: a.Scopes, SecretID: "s1"}, nil
	}
	if _, err := s.IssueToken(ctx, r, grant); err != nil {
		t.Fatal(err)
	}
	if u, err := s.GetUsage(ctx, a.ClientID); err != nil || u.Issued != 1 {
		t.Fatalf("usage after a granted token: %+v, %v; want 1 issued", u, err)
	}
}

// Tokens are counted in the hour they were issued; the last count is now's
// hour; hours is held between 1 and 48.
func testIssuedPerHour(t *testing.T, s Backend) {
	ctx := context.Background()
	a := newApp(t)
	mustCreate(t, s, a)
	now := time.Now().UTC().Truncate(time.Millisecond)
	issueAt(t, s, a, "now-1", now)
	issueAt(t, s, a, "now-2", now)
	issueAt(t, s, a, "hour-ago", now.Add(-time.Hour))
	issueAt(t, s, a, "day-ago", now.Add(-24*time.Hour))
	hours, err := s.IssuedPerHour(ctx, a.ClientID, 24, now)
	if err != nil {
		t.Fatal(err)
	}
	want := make([]int64, 24)
	want[23], want[22] = 2, 1 // a day ago is the 25th hour back: outside
	if !slices.Equal(hours, want) {
		t.Fatalf("IssuedPerHour(24) = %v, want %v", hours, want)
	}
	for _, tc := range []struct {
		ask, n int
		sum    int64
	}{{48, 48, 4}, {100, 48, 4}, {1, 1, 2}, {0, 1, 2}, {-3, 1, 2}} {
		got, err := s.IssuedPerHour(ctx, a.ClientID, tc.ask, now)
		var sum int64
		for _, n := range got {
			sum += n
		}
		if err != nil || len(got) != tc.n || sum != tc.sum || got[len(got)-1] != 2 {
			t.Errorf("IssuedPerHour(%d) = %v, %v; want %d hours, %d tokens, 2 in the last", tc.ask, got, err, tc.n, tc.sum)
		}
	}
	if got, err := s.IssuedPerHour(ctx, "ghost", 3, now); err != nil || fmt.Sprint(got) != "[0 0 0]" {
		t.Errorf("IssuedPerHour of an unknown application = %v, %v; want zeros", got, err)
	}
}

// Security events are kept apart from admin changes and listed apart:
// the admin log (the default) holds no security event however many there
// are, and the security log no change; each newest first, every field
// kept, filterable like the other.
func testSecurityEvents(t *testing.T, s Backend) {
	ctx := context.Background()
	at := time.Now().UTC().Truncate(time.Millisecond)
	admin := []store.Event{
		{Time: at, Kind: "application.created", Actor: "cli", ClientID: "app1"},
		{Time: at, Kind: "secret.reset", Actor: "cli", ClientID: "app1"},
	}
	security := []store.Event{
		{Time: at, Kind: "client.auth_failed", Actor: "client:app1", ClientID: "app1", IP: "198.51.100.7",
			Detail: map[string]any{"count": float64(12), "reason": "wrong secret"}},
		{Time: at, Kind: "client.locked_out", Actor: "client:app1", ClientID: "app1", IP: "198.51.100.7"},
	}
	for i := range admin {
		if err := s.AppendEvent(ctx, admin[i]); err != nil {
			t.Fatal(err)
		}
		if err := s.AppendSecurityEvent(ctx, security[i]); err != nil {
			t.Fatal(err)
		}
	}
	kinds := func(f store.EventFilter) string {
		t.Helper()
		list, next, err := s.ListEvents(ctx, f, "", 10)
		if err != nil || next != "" {
			t.Fatalf("ListEvents(%+v) = %d events, %q, %v", f, len(list), next, err)
		}
		var out []string
		for _, e := range list {
			if e.ID == "" {
				t.Errorf("event without an id: %+v", e)
			}
			out = append(out, e.Kind)
		}
		return fmt.Sprint(out)
	}
	for _, log := range []string{"", store.LogAdmin} {
		if got := kinds(store.EventFilter{Log: log}); got != "[secret.reset application.created]" {
			t.Fatalf("log %q lists %s; want the admin changes only, newest first", log, got)
		}
	}
	if got := kinds(store.EventFilter{Log: store.LogSecurity}); got != "[client.locked_out client.auth_failed]" {
		t.Fatalf("the security log lists %s; want its events only, newest first", got)
	}
	failed, _, err := s.ListEvents(ctx, store.EventFilter{Log: store.LogSecurity, Kind: "client.auth_failed"}, "", 10)
	if err != nil || len(failed) != 1 {
		t.Fatalf("security events by kind: %d, %v", len(failed), err)
	}
	got, want := failed[0], security[0]
	got.ID = ""
	if !got.Time.Equal(want.Time) || got.Actor != want.Actor || got.ClientID != want.ClientID || got.IP != want.IP ||
		fmt.Sprint(got.Detail) != fmt.Sprint(want.Detail) {
		t.Fatalf("security event round trip:\n got  %+v\n want %+v", got, want)
	}
	if mine, _, err := s.ListEvents(ctx, store.EventFilter{Log: store.LogSecurity, ClientID: "app1", Kind: "client.locked_out"}, "", 10); err != nil || len(mine) != 1 {
		t.Fatalf("by client and kind: %d, %v", len(mine), err)
	}
	if n := kinds(store.EventFilter{Kind: "client.auth_failed"}); n != "[]" {
		t.Fatalf("the admin log filtered by a security kind lists %s", n)
	}
	if _, _, err := s.ListEvents(ctx, store.EventFilter{Log: "all"}, "", 10); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("ListEvents of log \"all\": %v, want ErrInvalid", err)
	}
}
