// Package storetest is the conformance suite every oauthd storage backend
// must pass: it exercises the whole contract, store.Backend, and checks
// that it did. A backend's test calls RunTests with a constructor that
// returns a fresh, empty backend.
package storetest

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/netip"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oauthd/oauthd/store"
)

// Backend is one backend under test: the contract, and the two things the
// suite cannot do through it.
type Backend struct {
	store.Backend
	// FastForward lets d pass for what the backend expires (sessions,
	// lock-outs): a backend on a clock of its own moves it, one on the wall
	// clock waits. The suite asks for well under a second at a time.
	FastForward func(d time.Duration)
	// Stop takes the backend away for good, as an outage does.
	Stop func()
}

// limits are the abuse limits the suite expects a backend to enforce. The
// failure and quota rates refill so slowly that no case sees a refill;
// lock-outs are short, so a real clock waits little for one to end.
var limits = store.LimitsConfig{
	ClientFailures: store.Rate{N: 3, Per: time.Hour},
	AddrFailures:   store.Rate{N: 5, Per: time.Hour},
	Lockout:        150 * time.Millisecond,
	MaxLockout:     400 * time.Millisecond,
	LockoutMemory:  time.Hour,
	Issue:          store.Rate{N: 2, Per: time.Hour},
	Introspect:     store.Rate{N: 2, Per: time.Hour},
}

// longLockouts is limits for a case that reads a standing lock-out after
// several steps and never waits for one to end: a loaded machine could
// otherwise outlast a short one between the steps.
var longLockouts = func() store.LimitsConfig { l := limits; l.Lockout, l.MaxLockout = time.Minute, time.Hour; return l }()

// caseLimits are the cases that run with limits of their own.
var caseLimits = map[string]store.LimitsConfig{"AddressLockIsNoOracle": longLockouts}

// serialCases run one after the other, before the rest run in parallel:
// they read a lock-out of limits.Lockout (150 ms) after several steps, and
// a CPU busy with the other cases (under -race) could outlast it.
var serialCases = map[string]bool{"ClientLockout": true, "AddressLockout": true}

// RunTests runs the suite. newBackend must return a fresh, empty backend
// each call, whose Limits enforce limits, and which keeps the reasons a
// token stopped working (revocation tombstones) for an hour or more.
//
// Every case but Outage runs on a backend that counts the calls made to
// it; Coverage then fails naming any method of store.Backend or
// store.FeedSubscription that no case called, so the contract cannot grow
// past the suite unnoticed.
func RunTests(t *testing.T, newBackend func(t *testing.T, limits store.LimitsConfig) Backend) {
	tests := []struct {
		name string
		run  func(t *testing.T, s Backend)
	}{
		{"Ping", testPing},
		{"ApplicationRoundTrip", testApplicationRoundTrip},
		{"ApplicationNeverAndEmpty", testApplicationNeverAndEmpty},
		{"ApplicationDuplicate", testApplicationDuplicate},
		{"ApplicationNotFound", testApplicationNotFound},
		{"UpdateApplication", testUpdateApplication},
		{"UpdateApplicationConcurrent", testUpdateApplicationConcurrent},
		{"DeleteApplication", testDeleteApplication},
		{"Scopes", testScopes},
		{"ScopesConcurrent", testScopesConcurrent},
		{"TokenRoundTrip", testTokenRoundTrip},
		{"IssueToken", testIssueToken},
		{"IssueTokenRefused", testIssueTokenRefused},
		{"IssueTokenAuthMethod", testIssueTokenAuthMethod},
		{"Assertions", testAssertions},
		{"IssueTokenAssertion", testIssueTokenAssertion},
		{"AssertionsConcurrent", testAssertionsConcurrent},
		{"TokenLookupIsExact", testTokenLookupIsExact},
		{"TokenOfDeletedApplication", testTokenOfDeletedApplication},
		{"RevokeToken", testRevokeToken},
		{"LookupAlso", testLookupAlso},
		{"Usage", testUsage},
		{"UsageOfSeveral", testUsageOfSeveral},
		{"UsageRefusedUncounted", testUsageRefusedUncounted},
		{"IssuedPerHour", testIssuedPerHour},
		{"ListApplications", testListApplications},
		{"SearchApplications", testSearchApplications},
		{"IssuedOverall", testIssuedOverall},
		{"Events", testEvents},
		{"SecurityEvents", testSecurityEvents},
		{"ListTokens", testListTokens},
		{"TokenByJTI", testTokenByJTI},
		{"TokenOfMissingApplication", testTokenOfMissingApplication},
		{"RevokeAllRetiresRecords", testRevokeAllRetiresRecords},
		{"Sessions", testSessions},
		{"SessionIdleExpiry", testSessionIdleExpiry},
		{"SigningKeys", testSigningKeys},
		{"SharedSealingKey", testSharedSealingKey},
		{"ResealSigningKeys", testResealSigningKeys},
		{"ClientLockout", testClientLockout},
		{"AddressLockout", testAddressLockout},
		{"AddressLockIsNoOracle", testAddressLockIsNoOracle},
		{"Quotas", testQuotas},
		{"FeedPublishes", testFeedPublishes},
		{"FeedResumes", testFeedResumes},
		{"IssueTokenProof", testIssueTokenProof},
		{"IssueBoundToken", testIssueBoundToken},
	}
	seen := newCalls()
	var ran atomic.Int64
	// The cases share nothing (each has a fresh backend of its own), so
	// they run in parallel (but serialCases): on a real server most of a
	// case is starting the server and waiting for its clock. Coverage
	// waits for them all.
	failed := !t.Run("cases", func(t *testing.T) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				if !serialCases[tt.name] {
					t.Parallel()
				}
				ran.Add(1)
				cfg, ok := caseLimits[tt.name]
				if !ok {
					cfg = limits
				}
				s := newBackend(t, cfg)
				s.Backend = seen.record(s.Backend)
				tt.run(t, s)
			})
		}
		t.Run("Outage", func(t *testing.T) { t.Parallel(); testOutage(t, newBackend(t, limits)) })
	})
	t.Run("Coverage", func(t *testing.T) {
		switch {
		case ran.Load() < int64(len(tests)):
			t.Skipf("%d of %d cases ran: coverage is judged on the whole suite", ran.Load(), len(tests))
		case failed:
			t.Skip("a case failed, perhaps before its calls: coverage is judged on a passing run")
		}
		seen.check(t, "no case calls", false)
	})
}

func testPing(t *testing.T, s Backend) {
	if err := s.Ping(context.Background()); err != nil {
		t.Fatalf("Ping = %v", err)
	}
}

func newApp(t *testing.T) store.Application {
	t.Helper()
	now := time.Now().UTC().Truncate(time.Millisecond)
	return store.Application{
		ClientID:      "app-" + rand.Text(),
		Name:          "Billing daemon",
		Description:   "sends invoices by SMS",
		Scopes:        []string{"sms", "groups"},
		TokenLifetime: 24 * time.Hour,
		IPAllowlist:   []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("2001:db8::1/128")},
		Enabled:       true,
		Secrets: []store.Secret{
			{ID: "s1", Digest: store.Sum("secret-one"), CreatedAt: now},
			{ID: "s2", Digest: store.Sum("secret-two"), CreatedAt: now, ExpiresAt: now.Add(time.Hour)},
		},
		Generation: 3,
		CreatedAt:  now,
		UpdatedAt:  now,
	}
}

func mustCreate(t *testing.T, s store.Applications, a store.Application) {
	t.Helper()
	if err := s.CreateApplication(context.Background(), a); err != nil {
		t.Fatalf("CreateApplication: %v", err)
	}
}

func testApplicationRoundTrip(t *testing.T, s Backend) {
	a := newApp(t)
	mustCreate(t, s, a)
	got, err := s.GetApplication(context.Background(), a.ClientID)
	if err != nil {
		t.Fatalf("GetApplication: %v", err)
	}
	if !reflect.DeepEqual(got, a) {
		t.Fatalf("round trip changed the application:\n got  %+v\n want %+v", got, a)
	}
	if !got.VerifySecret("secret-one", time.Now()) || !got.VerifySecret("secret-two", time.Now()) {
		t.Fatal("stored secrets do not verify")
	}
	if got.VerifySecret("secret-two", time.Now().Add(2*time.Hour)) {
		t.Fatal("expired secret still verifies")
	}
}

func testApplicationNeverAndEmpty(t *testing.T, s Backend) {
	a := newApp(t)
	a.TokenLifetime = 0
	a.IPAllowlist = nil
	a.Description = ""
	a.Generation = 0
	mustCreate(t, s, a)
	got, err := s.GetApplication(context.Background(), a.ClientID)
	if err != nil {
		t.Fatal(err)
	}
	if got.TokenLifetime != 0 || len(got.IPAllowlist) != 0 || got.Description != "" || got.Generation != 0 {
		t.Fatalf("zero values did not survive: %+v", got)
	}
}

func testApplicationDuplicate(t *testing.T, s Backend) {
	a := newApp(t)
	mustCreate(t, s, a)
	b := a
	b.Name = "impostor"
	if err := s.CreateApplication(context.Background(), b); !errors.Is(err, store.ErrAlreadyExists) {
		t.Fatalf("second create = %v, want ErrAlreadyExists", err)
	}
	got, _ := s.GetApplication(context.Background(), a.ClientID)
	if got.Name != a.Name {
		t.Fatal("a failed create overwrote the existing application")
	}
}

func testApplicationNotFound(t *testing.T, s Backend) {
	if _, err := s.GetApplication(context.Background(), "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Get(missing) = %v, want ErrNotFound", err)
	}
	_, err := s.UpdateApplication(context.Background(), "nope", func(a store.Application) (store.Application, error) { return a, nil })
	if !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Update(missing) = %v, want ErrNotFound", err)
	}
}

func testUpdateApplication(t *testing.T, s Backend) {
	ctx := context.Background()
	a := newApp(t)
	mustCreate(t, s, a)

	got, err := s.UpdateApplication(ctx, a.ClientID, func(old store.Application) (store.Application, error) {
		old.Name = "renamed"
		old.Scopes = []string{"sms"}
		old.ClientID = "hijack" // must be ignored
		return old, nil
	})
	if err != nil {
		t.Fatalf("UpdateApplication: %v", err)
	}
	if got.Name != "renamed" || got.ClientID != a.ClientID {
		t.Fatalf("Update returned %+v", got)
	}
	stored, _ := s.GetApplication(ctx, a.ClientID)
	if stored.Name != "renamed" || !reflect.DeepEqual(stored.Scopes, []string{"sms"}) {
		t.Fatalf("update not stored: %+v", stored)
	}
	if _, err := s.GetApplication(ctx, "hijack"); !errors.Is(err, store.ErrNotFound) {
		t.Fatal("update moved the application to another client_id")
	}

	boom := errors.New("boom")
	_, err = s.UpdateApplication(ctx, a.ClientID, func(old store.Application) (store.Application, error) {
		old.Name = "not stored"
		return old, boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("update error = %v, want the callback's error", err)
	}
	stored, _ = s.GetApplication(ctx, a.ClientID)
	if stored.Name != "renamed" {
		t.Fatal("a failed update was written")
	}
}

// Concurrent read-modify-write must not lose updates: this is what makes
// "revoke every token" (Generation++) safe while an operator edits scopes.
func testUpdateApplicationConcurrent(t *testing.T, s Backend) {
	ctx := context.Background()
	a := newApp(t)
	a.Generation = 0
	mustCreate(t, s, a)
	const n = 8
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := s.UpdateApplication(ctx, a.ClientID, func(old store.Application) (store.Application, error) {
				old.Generation++
				return old, nil
			})
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("concurrent update: %v", err)
		}
	}
	got, _ := s.GetApplication(ctx, a.ClientID)
	if got.Generation != n {
		t.Fatalf("Generation = %d after %d concurrent increments: an update was lost", got.Generation, n)
	}
}

func testDeleteApplication(t *testing.T, s Backend) {
	ctx := context.Background()
	a := newApp(t)
	mustCreate(t, s, a)
	if err := s.DeleteApplication(ctx, a.ClientID); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if _, err := s.GetApplication(ctx, a.ClientID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Get after delete = %v", err)
	}
	if err := s.DeleteApplication(ctx, a.ClientID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("second delete = %v, want ErrNotFound", err)
	}
}

func newToken(a store.Application, lifetime time.Duration) store.Token {
	now := time.Now().UTC().Truncate(time.Millisecond)
	t := store.Token{
		ClientID:   a.ClientID,
		Scopes:     []string{"sms"},
		IssuedAt:   now,
		Generation: a.Generation,
		SecretID:   "s1",
	}
	if lifetime > 0 {
		t.ExpiresAt = now.Add(lifetime)
	}
	return t
}

// refOf is the reference a token called name is stored under: its bucket
// follows from its expiry.
func refOf(tok store.Token, name string) store.TokenRef {
	return store.TokenRef{ClientID: tok.ClientID, Bucket: tok.Bucket(), Digest: store.Sum(name)}
}

// put stores a new token called name and returns its reference and the
// token as a lookup returns it: the jti is the reference's, and the secret
// that got it is not part of the record.
func put(t *testing.T, s store.Tokens, a store.Application, name string, lifetime time.Duration) (store.TokenRef, store.Token) {
	t.Helper()
	tok := newToken(a, lifetime)
	ref := refOf(tok, name)
	tok.ID = ref.JTI()
	if err := s.CreateToken(context.Background(), ref, tok); err != nil {
		t.Fatalf("CreateToken: %v", err)
	}
	tok.SecretID = ""
	return ref, tok
}

func lookup(t *testing.T, s store.Tokens, ref store.TokenRef) store.TokenLookup {
	t.Helper()
	l, err := s.LookupToken(context.Background(), ref, "")
	if err != nil {
		t.Fatalf("LookupToken: %v", err)
	}
	return l
}

func testTokenRoundTrip(t *testing.T, s Backend) {
	a := newApp(t)
	mustCreate(t, s, a)
	for _, lifetime := range []time.Duration{time.Hour, 0, 90 * 24 * time.Hour} {
		ref, tok := put(t, s, a, fmt.Sprint("token", lifetime), lifetime)
		l := lookup(t, s, ref)
		if l.Token == nil || !reflect.DeepEqual(*l.Token, tok) {
			t.Fatalf("token round trip:\n got  %+v\n want %+v", l.Token, tok)
		}
		if l.App == nil || !reflect.DeepEqual(*l.App, a) {
			t.Fatalf("LookupToken returned application %+v, want %+v", l.App, a)
		}
		if l.Revoked || l.Also != nil {
			t.Fatalf("LookupToken = %+v", l)
		}
	}
	// An API key keeps its kind, name and scopes.
	key := newToken(a, 0)
	key.Kind, key.Name, key.Scopes, key.SecretID = "api_key", "billing key ünïcode", []string{"sms", "groups"}, ""
	ref := refOf(key, "key")
	key.ID = ref.JTI()
	if err := s.CreateToken(context.Background(), ref, key); err != nil {
		t.Fatal(err)
	}
	if l := lookup(t, s, ref); l.Token == nil || !reflect.DeepEqual(*l.Token, key) {
		t.Fatalf("API key round trip:\n got  %+v\n want %+v", l.Token, key)
	}
}

func testTokenLookupIsExact(t *testing.T, s Backend) {
	a, b := newApp(t), newApp(t)
	mustCreate(t, s, a)
	mustCreate(t, s, b)
	ref, _ := put(t, s, a, "t", time.Hour)
	for _, other := range []store.TokenRef{
		{ClientID: a.ClientID, Bucket: ref.Bucket, Digest: store.Sum("u")},
		{ClientID: b.ClientID, Bucket: ref.Bucket, Digest: store.Sum("t")},        // right digest, wrong owner
		{ClientID: a.ClientID, Bucket: ref.Bucket + 3600, Digest: store.Sum("t")}, // wrong bucket
		{ClientID: "ghost", Bucket: ref.Bucket, Digest: store.Sum("t")},
	} {
		if l := lookup(t, s, other); l.Token != nil || l.Revoked {
			t.Errorf("LookupToken(%v) found %+v", other.ClientID, l)
		}
	}
}

func testTokenOfDeletedApplication(t *testing.T, s Backend) {
	ctx := context.Background()
	a := newApp(t)
	mustCreate(t, s, a)
	never, _ := put(t, s, a, "never", 0)
	hour, _ := put(t, s, a, "hour", time.Hour)
	if err := s.DeleteApplication(ctx, a.ClientID); err != nil {
		t.Fatal(err)
	}
	// The token is unusable either way; backends must also drop its
	// record so that tokens that never expire do not linger.
	for _, ref := range []store.TokenRef{never, hour} {
		if l := lookup(t, s, ref); l.App != nil || l.Token != nil {
			t.Fatalf("token of a deleted application: %+v, want neither token nor application", l)
		}
	}
}

// A token cannot be stored for an application that does not exist (say,
// deleted while the token was being issued): nothing would ever remove it.
func testTokenOfMissingApplication(t *testing.T, s Backend) {
	a := newApp(t)
	tok := newToken(a, 0)
	ref := refOf(tok, "orphan")
	if err := s.CreateToken(context.Background(), ref, tok); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("CreateToken for a missing application = %v, want ErrNotFound", err)
	}
	if l := lookup(t, s, ref); l.Token != nil {
		t.Fatalf("record stored for a missing application: %+v", l.Token)
	}
	// A reference whose bucket does not match the token's expiry is a
	// programming error, refused rather than stored where it would expire
	// at the wrong time.
	mustCreate(t, s, a)
	ref.Bucket += 3600
	if err := s.CreateToken(context.Background(), ref, newToken(a, time.Hour)); err == nil {
		t.Fatal("CreateToken accepted a reference with the wrong bucket")
	}
}

// Revoking every token (a generation bump) retires the records, never
// expiring ones included: none is ever presented as of the current
// generation again. (Whether they go at once or are kept a while to say
// "revoked" is the backend's option.)
func testRevokeAllRetiresRecords(t *testing.T, s Backend) {
	ctx := context.Background()
	a := newApp(t)
	mustCreate(t, s, a)
	refs := []store.TokenRef{}
	for _, life := range []time.Duration{0, time.Minute, time.Hour, 30 * 24 * time.Hour} {
		ref, _ := put(t, s, a, fmt.Sprint("rv", life), life)
		refs = append(refs, ref)
	}
	next, err := s.UpdateApplication(ctx, a.ClientID, func(a store.Application) (store.Application, error) {
		a.Generation++
		return a, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, ref := range refs {
		if l := lookup(t, s, ref); l.Token != nil && l.Token.Generation == next.Generation {
			t.Errorf("record %s presented as of the new generation after revoke-all", ref.JTI())
		}
	}
	// Tokens issued afterwards are stored as usual.
	ref, _ := put(t, s, a, "after", time.Hour)
	if l := lookup(t, s, ref); l.Token == nil {
		t.Fatal("token issued after revoke-all not stored")
	}
}

func testRevokeToken(t *testing.T, s Backend) {
	ctx := context.Background()
	a := newApp(t)
	mustCreate(t, s, a)
	for _, tombstone := range []time.Duration{time.Hour, 0} {
		ref, _ := put(t, s, a, fmt.Sprint("t", tombstone), time.Hour)
		if ok, err := s.RevokeToken(ctx, ref, tombstone); err != nil || !ok {
			t.Fatalf("RevokeToken = %v, %v", ok, err)
		}
		l := lookup(t, s, ref)
		if l.Token != nil || l.Revoked != (tombstone > 0) {
			t.Fatalf("after revoke (tombstone %v): %+v", tombstone, l)
		}
		if ok, err := s.RevokeToken(ctx, ref, tombstone); err != nil || ok {
			t.Fatalf("second RevokeToken = %v, %v; want false", ok, err)
		}
	}
}

func testLookupAlso(t *testing.T, s Backend) {
	ctx := context.Background()
	a, caller := newApp(t), newApp(t)
	mustCreate(t, s, a)
	mustCreate(t, s, caller)
	ref := store.TokenRef{ClientID: a.ClientID, Digest: store.Sum("t")}
	l, err := s.LookupToken(ctx, ref, caller.ClientID)
	if err != nil || l.Also == nil || !reflect.DeepEqual(*l.Also, caller) || l.Token != nil {
		t.Fatalf("LookupToken(also caller) = %+v, %v", l, err)
	}
	l, err = s.LookupToken(ctx, ref, "ghost")
	if err != nil || l.Also != nil {
		t.Fatalf("LookupToken(also ghost) = %+v, %v", l, err)
	}
}

func testUsage(t *testing.T, s Backend) {
	ctx := context.Background()
	a := newApp(t)
	mustCreate(t, s, a)
	u, err := s.GetUsage(ctx, a.ClientID)
	if err != nil || !u.LastUsed.IsZero() || u.Issued != 0 {
		t.Fatalf("usage of an unused application: %+v, %v", u, err)
	}
	// Backends may write usage lazily, but it is reported at once.
	tok := newToken(a, time.Hour)
	if err := s.CreateToken(ctx, refOf(tok, "u"), tok); err != nil {
		t.Fatal(err)
	}
	u, err = s.GetUsage(ctx, a.ClientID)
	if err != nil || !u.LastUsed.Equal(tok.IssuedAt) || !u.SecretLastUsed["s1"].Equal(tok.IssuedAt) || u.Issued != 1 {
		t.Fatalf("usage after a token: %+v, %v", u, err)
	}
}

func testListApplications(t *testing.T, s Backend) {
	ctx := context.Background()
	var want []string
	base := time.Now().UTC().Truncate(time.Millisecond)
	for i := range 7 {
		a := newApp(t)
		a.CreatedAt = base.Add(time.Duration(i/2) * time.Millisecond) // pairs share a millisecond
		mustCreate(t, s, a)
		want = append(want, a.ClientID)
	}
	// Creation order, ties broken by client_id.
	for i := 0; i+1 < len(want); i += 2 {
		if want[i] > want[i+1] {
			want[i], want[i+1] = want[i+1], want[i]
		}
	}
	var got []string
	cursor := ""
	for pages := 0; ; pages++ {
		page, next, err := s.ListApplications(ctx, cursor, 3)
		if err != nil {
			t.Fatalf("ListApplications(%q): %v", cursor, err)
		}
		if len(page) > 3 || pages > 5 {
			t.Fatalf("page of %d, page %d", len(page), pages)
		}
		for _, a := range page {
			got = append(got, a.ClientID)
		}
		if next == "" {
			break
		}
		cursor = next
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("paged listing\n got  %v\n want %v", got, want)
	}
	if err := s.DeleteApplication(ctx, want[0]); err != nil {
		t.Fatal(err)
	}
	page, _, err := s.ListApplications(ctx, "", 100)
	if err != nil || len(page) != 6 {
		t.Fatalf("after delete: %d, %v", len(page), err)
	}
	if _, _, err := s.ListApplications(ctx, "garbage", 3); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("bad cursor: %v, want ErrInvalid", err)
	}
}

func testEvents(t *testing.T, s Backend) {
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Millisecond)
	kinds := []string{"application.created", "secret.reset", "application.created", "tokens.revoked", "secret.reset"}
	for i, k := range kinds {
		e := store.Event{Time: now, Kind: k, Actor: "test", ClientID: fmt.Sprint("app", i%2), IP: "192.0.2.1",
			Detail: map[string]any{"n": float64(i)}}
		if err := s.AppendEvent(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	all, next, err := s.ListEvents(ctx, store.EventFilter{}, "", 10)
	if err != nil || len(all) != 5 || next != "" {
		t.Fatalf("all events: %d, %q, %v", len(all), next, err)
	}
	if all[0].Detail["n"] != float64(4) || all[4].Detail["n"] != float64(0) || !all[0].Time.Equal(now) || all[0].IP != "192.0.2.1" {
		t.Fatalf("newest first, fields kept: %+v", all[0])
	}
	// Paging with a filter.
	var got []float64
	cursor := ""
	for range 5 {
		page, next, err := s.ListEvents(ctx, store.EventFilter{ClientID: "app0"}, cursor, 2)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range page {
			got = append(got, e.Detail["n"].(float64))
		}
		if next == "" {
			break
		}
		cursor = next
	}
	if fmt.Sprint(got) != "[4 2 0]" {
		t.Fatalf("app0's events %v, want [4 2 0]", got)
	}
	kind, _, err := s.ListEvents(ctx, store.EventFilter{Kind: "secret.reset"}, "", 10)
	if err != nil || len(kind) != 2 {
		t.Fatalf("by kind: %d %v", len(kind), err)
	}
	// Cursors Redis itself would refuse (past uint64, an exclusive end
	// before 0-0) are ErrInvalid too, not an outage.
	for _, bad := range []string{"nope", "1-", "0-0", "99999999999999999999-0", "1-18446744073709551616"} {
		if _, _, err := s.ListEvents(ctx, store.EventFilter{}, bad, 2); !errors.Is(err, store.ErrInvalid) {
			t.Fatalf("bad cursor %q: %v", bad, err)
		}
	}
}

func testListTokens(t *testing.T, s Backend) {
	ctx := context.Background()
	a := newApp(t)
	mustCreate(t, s, a)
	now := time.Now()
	mk := func(name string, lifetime time.Duration) store.TokenRef {
		ref, _ := put(t, s, a, name, lifetime)
		return ref
	}
	hour, day, never := mk("hour", time.Hour), mk("day", 24*time.Hour), mk("never", 0)
	revoked := mk("revoked", time.Hour)
	if _, err := s.RevokeToken(ctx, revoked, 0); err != nil {
		t.Fatal(err)
	}
	list, more, err := s.ListTokens(ctx, a.ClientID, 10, now)
	if err != nil || more {
		t.Fatalf("ListTokens: %v, more %v", err, more)
	}
	var ids []string
	for _, tok := range list {
		ids = append(ids, tok.ID)
	}
	want := []string{hour.JTI(), day.JTI(), never.JTI()}
	if fmt.Sprint(ids) != fmt.Sprint(want) {
		t.Fatalf("listed %v, want %v (soonest expiry first, revoked left out)", ids, want)
	}
	if page, more, _ := s.ListTokens(ctx, a.ClientID, 2, now); len(page) != 2 || !more {
		t.Fatalf("limit 2: %d tokens, more %v", len(page), more)
	}
	// Past an hour the first is gone from the listing.
	if later, _, _ := s.ListTokens(ctx, a.ClientID, 10, now.Add(2*time.Hour)); len(later) != 2 {
		t.Fatalf("two hours on: %d tokens, want 2", len(later))
	}
	// A generation bump empties the listing.
	if _, err := s.UpdateApplication(ctx, a.ClientID, func(a store.Application) (store.Application, error) {
		a.Generation++
		return a, nil
	}); err != nil {
		t.Fatal(err)
	}
	if after, _, _ := s.ListTokens(ctx, a.ClientID, 10, now); len(after) != 0 {
		t.Fatalf("after revoke-all: %d tokens listed", len(after))
	}
	if _, _, err := s.ListTokens(ctx, "ghost", 10, now); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("tokens of a missing application: %v", err)
	}
}

// A token can be found and revoked from its jti alone.
func testTokenByJTI(t *testing.T, s Backend) {
	ctx := context.Background()
	a := newApp(t)
	mustCreate(t, s, a)
	ref, _ := put(t, s, a, "by-jti", time.Hour)
	byID, ok := store.ParseJTI(ref.JTI())
	if !ok || byID.ClientID != a.ClientID || byID.Bucket != ref.Bucket {
		t.Fatalf("ParseJTI(%q) = %+v, %v", ref.JTI(), byID, ok)
	}
	if revoked, err := s.RevokeToken(ctx, byID, 0); err != nil || !revoked {
		t.Fatalf("RevokeToken by jti: %v, %v", revoked, err)
	}
	if l := lookup(t, s, ref); l.Token != nil {
		t.Fatal("token still there after revocation by jti")
	}
	for _, bad := range []string{"", "nodot", a.ClientID + ".xyz", a.ClientID + "." + strings.Repeat("g", 32),
		a.ClientID + "." + strings.Repeat("a", 32), // no bucket
		a.ClientID + ".-1." + strings.Repeat("a", 32), "." + "0." + strings.Repeat("a", 32)} {
		if _, ok := store.ParseJTI(bad); ok {
			t.Errorf("ParseJTI(%q) accepted", bad)
		}
	}
}
