package storetest

import (
	"context"
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/oauthd/oauthd/store"
)

// With the backend gone, every method that can fail says ErrUnavailable:
// an outage must never read as "not found", "not locked out" or an empty
// answer. The case checks that it tried every such method.
func testOutage(t *testing.T, s Backend) {
	ctx := context.Background()
	a := newApp(t)
	mustCreate(t, s, a)
	ref, tok := put(t, s, a, "t", time.Hour)
	// A subscriber left with a backlog to read: it resumes from before a
	// revocation the feed has delivered.
	live := subscribe(t, s, "")
	from := live.last
	if ok, err := s.RevokeToken(ctx, ref, 0); err != nil || !ok {
		t.Fatalf("RevokeToken = %v, %v", ok, err)
	}
	live.next()
	behind := subscribe(t, s, from)

	s.Stop()
	seen := newCalls()
	b := seen.record(s.Backend)
	sub := &recordedSub{sub: behind.sub, calls: seen}
	addr := netip.MustParseAddr("192.0.2.1")
	id := store.Sum("session")
	ev := store.Event{Time: time.Now(), Kind: "application.created", Actor: "cli", ClientID: a.ClientID}
	keep := func(a store.Application) (store.Application, error) { return a, nil }
	key := store.SigningKey{ID: "k", Alg: "EdDSA", CreatedAt: time.Now(), ActiveAt: time.Now(), Sealed: []byte("k")}
	for name, err := range map[string]error{
		"Ping":                b.Ping(ctx),
		"CreateApplication":   b.CreateApplication(ctx, newApp(t)),
		"GetApplication":      second(b.GetApplication(ctx, a.ClientID)),
		"UpdateApplication":   second(b.UpdateApplication(ctx, a.ClientID, keep)),
		"DeleteApplication":   b.DeleteApplication(ctx, a.ClientID),
		"ListApplications":    third(b.ListApplications(ctx, "", 10)),
		"SearchApplications":  second(b.SearchApplications(ctx, store.AppQuery{Limit: 10})),
		"IssuedOverall":       second(b.IssuedOverall(ctx, 24, 10, time.Now())),
		"ListScopes":          second(b.ListScopes(ctx)),
		"CreateScopes":        b.CreateScopes(ctx, []store.Scope{{Name: "sms"}}),
		"PutScope":            second(b.PutScope(ctx, store.Scope{Name: "sms"})),
		"DeleteScope":         b.DeleteScope(ctx, "sms"),
		"CreateToken":         b.CreateToken(ctx, refOf(tok, "t2"), tok),
		"IssueToken":          second(b.IssueToken(ctx, request(a, "t3"), (&grantCheck{}).check(request(a, "t3")))),
		"LookupToken":         second(b.LookupToken(ctx, ref, a.ClientID)),
		"LookupTokenFor":      second(b.LookupTokenFor(ctx, ref, store.Caller{ClientID: a.ClientID, Addr: addr})),
		"RevokeToken":         second(b.RevokeToken(ctx, ref, time.Hour)),
		"ListTokens":          third(b.ListTokens(ctx, a.ClientID, 10, time.Now())),
		"GetUsage":            second(b.GetUsage(ctx, a.ClientID)),
		"GetUsages":           second(b.GetUsages(ctx, []string{a.ClientID})),
		"IssuedPerHour":       second(b.IssuedPerHour(ctx, a.ClientID, 24, time.Now())),
		"AppendEvent":         b.AppendEvent(ctx, ev),
		"AppendSecurityEvent": b.AppendSecurityEvent(ctx, ev),
		"ListEvents":          third(b.ListEvents(ctx, store.EventFilter{}, "", 10)),
		"CreateSession":       b.CreateSession(ctx, id, []byte("v"), time.Hour),
		"GetSession":          second(b.GetSession(ctx, id, time.Hour)),
		"DeleteSession":       b.DeleteSession(ctx, id),
		"ListSigningKeys":     second(b.ListSigningKeys(ctx)),
		"AddSigningKey":       b.AddSigningKey(ctx, key, nil),
		"SharedSealingKey":    second(b.SharedSealingKey(ctx, true)),
		"ResealSigningKeys":   b.ResealSigningKeys(ctx, func(keys []store.SigningKey) ([]store.SigningKey, error) { return keys, nil }),
		"Failed":              second(b.Failed(ctx, a.ClientID, addr)),
		"Blocked":             second(b.Blocked(ctx, a.ClientID, addr)),
		"ClientFailed":        second(b.ClientFailed(ctx, a.ClientID, addr, false)),
		"ClientLocked":        second(b.ClientLocked(ctx, a.ClientID, addr, false)),
		"TakeIssue":           second(b.TakeIssue(ctx, &a)),
		"TakeIntrospect":      second(b.TakeIntrospect(ctx, &a)),
		"Subscribe":           second(b.Subscribe(ctx, from)),
		"UseAssertion":        b.UseAssertion(ctx, a.ClientID, "jti-outage", time.Now().Add(time.Minute)),
		"NextBacklog":         second(sub.NextBacklog(ctx)),
	} {
		if !errors.Is(err, store.ErrUnavailable) {
			t.Errorf("%s with the backend down = %v, want ErrUnavailable", name, err)
		}
	}
	seen.check(t, "the outage case does not try", true)
}

func second[T any](_ T, err error) error { return err }

func third[T, U any](_ T, _ U, err error) error { return err }
