package storetest

import (
	"context"
	"net/netip"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oauthd/oauthd/store"
)

// calls counts the calls the suite makes, per method of the contract.
type calls struct {
	mu sync.Mutex
	n  map[string]int // "(*recorder).Ping", "(*recordedSub).Close", ...
}

func newCalls() *calls { return &calls{n: map[string]int{}} }

// record returns b counting every call made through it, and through the
// feed subscriptions it hands out.
func (c *calls) record(b store.Backend) store.Backend { return &recorder{b: b, calls: c} }

// note counts a call of the method that called it. The name comes from
// the stack, so a proxy method cannot count itself under another's name.
func (c *calls) note() {
	var pc [1]uintptr
	runtime.Callers(2, pc[:])
	f, _ := runtime.CallersFrames(pc[:]).Next()
	name := f.Function[strings.LastIndex(f.Function, "/")+1:] // storetest.(*recorder).Ping
	name = name[strings.Index(name, ".")+1:]
	c.mu.Lock()
	c.n[name]++
	c.mu.Unlock()
}

// check fails the test naming every method of the contract never called
// (with failing, only those that return an error).
func (c *calls) check(t *testing.T, msg string, failing bool) {
	t.Helper()
	errType := reflect.TypeFor[error]()
	c.mu.Lock()
	defer c.mu.Unlock()
	var missing []string
	for proxy, contract := range map[string]reflect.Type{
		"(*recorder).":    reflect.TypeFor[store.Backend](),
		"(*recordedSub).": reflect.TypeFor[store.FeedSubscription](),
	} {
		for i := range contract.NumMethod() {
			m := contract.Method(i)
			if failing && (m.Type.NumOut() == 0 || m.Type.Out(m.Type.NumOut()-1) != errType) {
				continue
			}
			if c.n[proxy+m.Name] == 0 {
				missing = append(missing, contract.String()+"."+m.Name)
			}
		}
	}
	if len(missing) > 0 {
		slices.Sort(missing)
		t.Errorf("%s %s", msg, strings.Join(missing, ", "))
	}
}

// recorder is a store.Backend that counts each call and passes it on. It
// embeds nothing: a method the contract gains does not compile here until
// it is counted too.
type recorder struct {
	b     store.Backend
	calls *calls
}

var _ store.Backend = (*recorder)(nil)

func (r *recorder) Ping(ctx context.Context) error {
	r.calls.note()
	return r.b.Ping(ctx)
}

func (r *recorder) UseAssertion(ctx context.Context, clientID, jti string, until time.Time) error {
	r.calls.note()
	return r.b.UseAssertion(ctx, clientID, jti, until)
}

func (r *recorder) CreateApplication(ctx context.Context, a store.Application) error {
	r.calls.note()
	return r.b.CreateApplication(ctx, a)
}

func (r *recorder) GetApplication(ctx context.Context, id string) (store.Application, error) {
	r.calls.note()
	return r.b.GetApplication(ctx, id)
}

func (r *recorder) UpdateApplication(ctx context.Context, id string, update func(store.Application) (store.Application, error)) (store.Application, error) {
	r.calls.note()
	return r.b.UpdateApplication(ctx, id, update)
}

func (r *recorder) DeleteApplication(ctx context.Context, id string) error {
	r.calls.note()
	return r.b.DeleteApplication(ctx, id)
}

func (r *recorder) ListApplications(ctx context.Context, cursor string, limit int) ([]store.Application, string, error) {
	r.calls.note()
	return r.b.ListApplications(ctx, cursor, limit)
}

func (r *recorder) SearchApplications(ctx context.Context, q store.AppQuery) (store.AppPage, error) {
	r.calls.note()
	return r.b.SearchApplications(ctx, q)
}

func (r *recorder) IssuedOverall(ctx context.Context, hours, top int, now time.Time) (store.IssuedSummary, error) {
	r.calls.note()
	return r.b.IssuedOverall(ctx, hours, top, now)
}

func (r *recorder) ListScopes(ctx context.Context) (store.ScopeList, error) {
	r.calls.note()
	return r.b.ListScopes(ctx)
}

func (r *recorder) CreateScopes(ctx context.Context, list []store.Scope) error {
	r.calls.note()
	return r.b.CreateScopes(ctx, list)
}

func (r *recorder) PutScope(ctx context.Context, s store.Scope) (bool, error) {
	r.calls.note()
	return r.b.PutScope(ctx, s)
}

func (r *recorder) DeleteScope(ctx context.Context, name string) error {
	r.calls.note()
	return r.b.DeleteScope(ctx, name)
}

func (r *recorder) CreateToken(ctx context.Context, ref store.TokenRef, t store.Token) error {
	r.calls.note()
	return r.b.CreateToken(ctx, ref, t)
}

func (r *recorder) IssueToken(ctx context.Context, req store.TokenRequest, check func(*store.Application) (store.Grant, error)) (store.Issued, error) {
	r.calls.note()
	return r.b.IssueToken(ctx, req, check)
}

func (r *recorder) LookupToken(ctx context.Context, ref store.TokenRef, also string) (store.TokenLookup, error) {
	r.calls.note()
	return r.b.LookupToken(ctx, ref, also)
}

func (r *recorder) LookupTokenFor(ctx context.Context, ref store.TokenRef, caller store.Caller) (store.TokenLookup, error) {
	r.calls.note()
	return r.b.LookupTokenFor(ctx, ref, caller)
}

func (r *recorder) RevokeToken(ctx context.Context, ref store.TokenRef, tombstone time.Duration) (bool, error) {
	r.calls.note()
	return r.b.RevokeToken(ctx, ref, tombstone)
}

func (r *recorder) ListTokens(ctx context.Context, id string, limit int, now time.Time) ([]store.Token, bool, error) {
	r.calls.note()
	return r.b.ListTokens(ctx, id, limit, now)
}

func (r *recorder) GetUsage(ctx context.Context, id string) (store.Usage, error) {
	r.calls.note()
	return r.b.GetUsage(ctx, id)
}

func (r *recorder) GetUsages(ctx context.Context, ids []string) (map[string]store.Usage, error) {
	r.calls.note()
	return r.b.GetUsages(ctx, ids)
}

func (r *recorder) IssuedPerHour(ctx context.Context, id string, hours int, now time.Time) ([]int64, error) {
	r.calls.note()
	return r.b.IssuedPerHour(ctx, id, hours, now)
}

func (r *recorder) AppendEvent(ctx context.Context, e store.Event) error {
	r.calls.note()
	return r.b.AppendEvent(ctx, e)
}

func (r *recorder) AppendSecurityEvent(ctx context.Context, e store.Event) error {
	r.calls.note()
	return r.b.AppendSecurityEvent(ctx, e)
}

func (r *recorder) ListEvents(ctx context.Context, f store.EventFilter, cursor string, limit int) ([]store.Event, string, error) {
	r.calls.note()
	return r.b.ListEvents(ctx, f, cursor, limit)
}

func (r *recorder) CreateSession(ctx context.Context, id store.Digest, value []byte, ttl time.Duration) error {
	r.calls.note()
	return r.b.CreateSession(ctx, id, value, ttl)
}

func (r *recorder) GetSession(ctx context.Context, id store.Digest, ttl time.Duration) ([]byte, error) {
	r.calls.note()
	return r.b.GetSession(ctx, id, ttl)
}

func (r *recorder) DeleteSession(ctx context.Context, id store.Digest) error {
	r.calls.note()
	return r.b.DeleteSession(ctx, id)
}

func (r *recorder) ListSigningKeys(ctx context.Context) ([]store.SigningKey, error) {
	r.calls.note()
	return r.b.ListSigningKeys(ctx)
}

func (r *recorder) AddSigningKey(ctx context.Context, k store.SigningKey, retire map[string]time.Time) error {
	r.calls.note()
	return r.b.AddSigningKey(ctx, k, retire)
}

func (r *recorder) SharedSealingKey(ctx context.Context, create bool) ([]byte, error) {
	r.calls.note()
	return r.b.SharedSealingKey(ctx, create)
}

func (r *recorder) ResealSigningKeys(ctx context.Context, reseal func([]store.SigningKey) ([]store.SigningKey, error)) error {
	r.calls.note()
	return r.b.ResealSigningKeys(ctx, reseal)
}

func (r *recorder) Failed(ctx context.Context, clientID string, addr netip.Addr) (store.Lockout, error) {
	r.calls.note()
	return r.b.Failed(ctx, clientID, addr)
}

func (r *recorder) Blocked(ctx context.Context, clientID string, addr netip.Addr) (store.Lockout, error) {
	r.calls.note()
	return r.b.Blocked(ctx, clientID, addr)
}

func (r *recorder) ClientFailed(ctx context.Context, clientID string, addr netip.Addr, allowlisted bool) (store.Lockout, error) {
	r.calls.note()
	return r.b.ClientFailed(ctx, clientID, addr, allowlisted)
}

func (r *recorder) ClientLocked(ctx context.Context, clientID string, addr netip.Addr, allowlisted bool) (time.Duration, error) {
	r.calls.note()
	return r.b.ClientLocked(ctx, clientID, addr, allowlisted)
}

func (r *recorder) TakeIssue(ctx context.Context, a *store.Application) (store.Allowance, error) {
	r.calls.note()
	return r.b.TakeIssue(ctx, a)
}

func (r *recorder) TakeIntrospect(ctx context.Context, a *store.Application) (store.Allowance, error) {
	r.calls.note()
	return r.b.TakeIntrospect(ctx, a)
}

func (r *recorder) Subscribe(ctx context.Context, lastID string) (store.FeedSubscription, error) {
	r.calls.note()
	sub, err := r.b.Subscribe(ctx, lastID)
	if err != nil {
		return nil, err
	}
	return &recordedSub{sub: sub, calls: r.calls}, nil
}

// recordedSub counts the calls made to a feed subscription.
type recordedSub struct {
	sub   store.FeedSubscription
	calls *calls
}

var _ store.FeedSubscription = (*recordedSub)(nil)

func (s *recordedSub) Reset() (bool, string) {
	s.calls.note()
	return s.sub.Reset()
}

func (s *recordedSub) NextBacklog(ctx context.Context) ([]store.FeedEvent, error) {
	s.calls.note()
	return s.sub.NextBacklog(ctx)
}

func (s *recordedSub) Events() <-chan store.FeedEvent {
	s.calls.note()
	return s.sub.Events()
}

func (s *recordedSub) Close() {
	s.calls.note()
	s.sub.Close()
}
