package redis

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/oauthd/oauthd/store"
	"github.com/oauthd/oauthd/store/redis/redistest"
)

// accept is the check of a token endpoint, in small: the secret, enabled,
// the scopes and audiences asked for; it grants what was asked for, or
// everything.
func accept(r store.TokenRequest) func(*store.Application) (store.Grant, error) {
	return func(a *store.Application) (store.Grant, error) {
		id, ok := a.MatchDigest(r.Secret, r.AuthAt)
		if !ok || !a.Enabled {
			return store.Grant{}, errors.New("invalid_client")
		}
		g := store.Grant{Scopes: a.Scopes, Audiences: a.Audiences, SecretID: id}
		if len(r.Scopes) > 0 {
			g.Scopes = r.Scopes
		}
		if len(r.Resources) > 0 {
			g.Audiences = nil
			for _, res := range r.Resources {
				if !slices.Contains(g.Audiences, res) {
					g.Audiences = append(g.Audiences, res)
				}
			}
		}
		return g, nil
	}
}

// bound is check granting the binding cnf too.
func bound(check func(*store.Application) (store.Grant, error), cnf store.Confirmation) func(*store.Application) (store.Grant, error) {
	return func(a *store.Application) (store.Grant, error) {
		g, err := check(a)
		g.Confirmation = cnf
		return g, err
	}
}

const testSecret = "ocs_test-secret"

// onEachRedis runs test on miniredis and on a real redis-server.
func onEachRedis(t *testing.T, test func(t *testing.T, rdb goredis.UniversalClient)) {
	for _, kind := range redistest.Kinds {
		t.Run(string(kind), func(t *testing.T) { test(t, redistest.Start(t, kind).Client(t)) })
	}
}

// issueApp is an application for these tests: one secret, testSecret.
func issueApp(id string, lifetime time.Duration) store.Application {
	now := time.Now().UTC().Truncate(time.Millisecond)
	return store.Application{ClientID: id, Name: id, Scopes: []string{"sms", "groups"}, TokenLifetime: lifetime, Enabled: true,
		Secrets: []store.Secret{{ID: "s1", Digest: store.Sum(testSecret), CreatedAt: now}}, Generation: 7, CreatedAt: now, UpdatedAt: now}
}

func tokenRequest(id, name string, at time.Time) store.TokenRequest {
	return store.TokenRequest{ClientID: id, Secret: store.Sum(testSecret), AuthAt: at, Digest: store.Sum(name), IssuedAt: at}
}

// warm turns s's application cache on, as Run does once subscribed, and
// caches a (the tests that use it change no application).
func warm(s *Store, a store.Application) {
	s.apps.setUp(true)
	s.apps.add(&a, s.apps.begin())
}

// The token script writes, when Go does not hold the application, exactly
// the record Go writes when it does (codec.go's encodeToken of
// AccessToken), in the same bucket, expiring when Go's would: lifetimes of
// every width, expiries on and off a whole second, scopes, audiences and
// a shorter lifetime (the ttl parameter) asked for or not.
func TestIssueScriptWritesWhatGoWrites(t *testing.T) {
	// Not in parallel: real time passes between its steps, and a starved
	// CPU under -race stretched it past what the case allows.
	onEachRedis(t, func(t *testing.T, rdb goredis.UniversalClient) {
		ctx := context.Background()
		for _, keep := range []time.Duration{0, time.Hour} {
			cold := New(rdb, Options{Prefix: "w", KeepExpired: keep})
			hot := New(rdb, Options{Prefix: "w", KeepExpired: keep})
			// Two seconds ahead, so that no bucket has ended by the time
			// it is read.
			base := time.Now().Truncate(time.Second).Add(2 * time.Second)
			for i, life := range []time.Duration{0, time.Second, 1500 * time.Millisecond, 1001 * time.Millisecond,
				time.Second + 500*time.Nanosecond, 63999 * time.Millisecond, 64 * time.Second, 90 * time.Second,
				time.Hour - time.Millisecond, time.Hour + time.Nanosecond, 24 * time.Hour, 64 * time.Hour, 65 * time.Hour,
				10 * 365 * 24 * time.Hour} {
				a := issueApp(fmt.Sprintf("w%d-%d", keep/time.Hour, i), life)
				a.Audiences = []string{"https://a.example", "https://b.example"}
				if err := cold.CreateApplication(ctx, a); err != nil {
					t.Fatal(err)
				}
				warm(hot, a)
				for j, at := range []time.Time{base, base.Add(time.Millisecond), base.Add(999 * time.Millisecond)} {
					for k, ask := range []struct {
						scopes, resources []string
						ttl               time.Duration
						cnf               store.Confirmation
					}{
						{}, {[]string{"groups"}, nil, 0, store.Confirmation{}}, {nil, []string{"https://b.example", "https://b.example"}, 0, store.Confirmation{}},
						{nil, nil, time.Second, store.Confirmation{}}, {[]string{"groups"}, nil, 90 * time.Second, store.Confirmation{}}, {nil, nil, 24 * time.Hour, store.Confirmation{}},
						{nil, nil, 0, store.Confirmation{JKT: "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"}},
						{nil, []string{"https://a.example"}, 0, store.Confirmation{X5TS256: "bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2"}},
					} {
						var refs [2]store.TokenRef
						for n, s := range []*Store{cold, hot} {
							r := tokenRequest(a.ClientID, fmt.Sprint(life, j, k, n), at)
							r.Scopes, r.Resources, r.Lifetime, r.Confirmation = ask.scopes, ask.resources, ask.ttl, ask.cnf
							got, err := s.IssueToken(ctx, r, bound(accept(r), ask.cnf))
							if err != nil {
								t.Fatalf("lifetime %v, at +%v, %v, cached %v: %v", life, at.Sub(base), ask, n == 1, err)
							}
							refs[n] = got.Ref
						}
						if refs[0].Bucket != refs[1].Bucket {
							t.Fatalf("lifetime %v, at +%v: the script filed the record in bucket %s, Go in %s",
								life, at.Sub(base), store.FormatBucket(refs[0].Bucket), store.FormatBucket(refs[1].Bucket))
						}
						r := tokenRequest(a.ClientID, "", at)
						r.Scopes, r.Resources = ask.scopes, ask.resources
						g, _ := accept(r)(&a)
						g.Confirmation = ask.cnf
						wantRec := encodeToken(a.AccessToken(g, at, ask.ttl))
						for n, ref := range refs {
							rec, err := rdb.HGet(ctx, cold.bucketKey(ref.ClientID, ref.Bucket), field(ref)).Bytes()
							if err != nil || string(rec) != string(wantRec) {
								t.Fatalf("lifetime %v, at +%v, %v, cached %v: record %x, %v; want %x",
									life, at.Sub(base), ask, n == 1, rec, err, wantRec)
							}
						}
						if refs[0].Bucket > 0 {
							idx := rdb.ZScore(ctx, cold.bucketIndexKey(a.ClientID), store.FormatBucket(refs[0].Bucket)).Val()
							if int64(idx) != cold.bucketExpiry(refs[0].Bucket) {
								t.Fatalf("lifetime %v: bucket indexed to expire at %v, want %d", life, idx, cold.bucketExpiry(refs[0].Bucket))
							}
						}
					}
				}
			}
		}
	})
}

// roundTrips counts what a go-redis client sends: each command or
// pipeline is one round trip, but for a new connection's handshake
// (HELLO, then CLIENT SETINFO pipelined), which is paid per connection,
// not per request.
type roundTrips struct{ n atomic.Int64 }

func (*roundTrips) DialHook(next goredis.DialHook) goredis.DialHook { return next }

func (h *roundTrips) ProcessHook(next goredis.ProcessHook) goredis.ProcessHook {
	return func(ctx context.Context, cmd goredis.Cmder) error {
		if !handshake(cmd) {
			h.n.Add(1)
		}
		return next(ctx, cmd)
	}
}

func (h *roundTrips) ProcessPipelineHook(next goredis.ProcessPipelineHook) goredis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []goredis.Cmder) error {
		if slices.ContainsFunc(cmds, func(c goredis.Cmder) bool { return !handshake(c) }) {
			h.n.Add(1)
		}
		return next(ctx, cmds)
	}
}

func handshake(cmd goredis.Cmder) bool {
	switch cmd.Name() {
	case "hello", "client", "auth", "select":
		return true
	}
	return false
}

// count is the round trips f made.
func (h *roundTrips) count(f func()) int64 {
	before := h.n.Load()
	f()
	return h.n.Load() - before
}

// Token issue is one round trip whatever the application cache holds:
// cold (the cache down, as before the subscription is confirmed), up but
// without the application, or holding it; lock-outs checked or not.
// Introspection too: the token, its application and the caller (with its
// lock-out) are read in one pipeline when neither application is cached.
func TestOneRoundTrip(t *testing.T) {
	t.Parallel()
	onEachRedis(t, func(t *testing.T, rdb goredis.UniversalClient) {
		ctx := context.Background()
		var rt roundTrips
		rdb.AddHook(&rt)
		s := New(rdb, Options{Prefix: "rt"})
		a, rs := issueApp("daemon", time.Hour), issueApp("rs", time.Hour)
		for _, app := range []store.Application{a, rs} {
			if err := s.CreateApplication(ctx, app); err != nil {
				t.Fatal(err)
			}
		}
		from := netip.MustParseAddr("192.0.2.7")
		issue := func(name string) store.Issued {
			t.Helper()
			r := tokenRequest(a.ClientID, name, time.Now())
			r.From = from
			got, err := s.IssueToken(ctx, r, accept(r))
			if err != nil {
				t.Fatal(err)
			}
			return got
		}
		// Redis caches each script once: the first call may be an
		// EVALSHA refused and an EVAL.
		issue("load the script")
		warm(s, a)
		issue("load the other")
		s.apps.setUp(false)

		var tok store.Issued
		if n := rt.count(func() { tok = issue("cold") }); n != 1 {
			t.Errorf("token issue with the cache down: %d round trips", n)
		}
		s.apps.setUp(true)
		if n := rt.count(func() { issue("missing") }); n != 1 {
			t.Errorf("token issue, the application not cached: %d round trips", n)
		}
		if n := rt.count(func() { issue("cached") }); n != 1 {
			t.Errorf("token issue, the application cached: %d round trips", n)
		}
		for _, cached := range []bool{false, true} {
			if !cached {
				s.apps.setUp(false)
				s.apps.setUp(true)
			}
			var l store.TokenLookup
			n := rt.count(func() {
				var err error
				if l, err = s.LookupTokenFor(ctx, tok.Ref, store.Caller{ClientID: rs.ClientID, Addr: from}); err != nil {
					t.Fatal(err)
				}
			})
			if n != 1 || l.Token == nil || l.App == nil || l.Also == nil {
				t.Errorf("introspection, applications cached %v: %d round trips, %+v", cached, n, l)
			}
		}
	})
}

// A DPoP-bound token is one round trip whether the application is cached
// or not (the script writes the binding), also when its request carries
// a client assertion's jti: both one-time
// identifiers are taken by the script that writes the record
// (createToken), and a replay of either is refused in it, nothing written
// and the other left untaken.
func TestBoundTokenOneRoundTrip(t *testing.T) {
	t.Parallel()
	onEachRedis(t, func(t *testing.T, rdb goredis.UniversalClient) {
		ctx := context.Background()
		var rt roundTrips
		rdb.AddHook(&rt)
		s := New(rdb, Options{Prefix: "rtb"})
		a := issueApp("daemon", time.Hour)
		if err := s.CreateApplication(ctx, a); err != nil {
			t.Fatal(err)
		}
		cnf := store.Confirmation{JKT: "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"}
		issue := func(name, jti, proof string) error {
			r := tokenRequest(a.ClientID, name, time.Now())
			r.From = netip.MustParseAddr("192.0.2.7")
			r.JTI, r.JTIUntil, r.ProofID, r.ProofUntil = jti, time.Now().Add(time.Minute), proof, time.Now().Add(time.Minute)
			r.Confirmation = cnf
			_, err := s.IssueToken(ctx, r, bound(accept(r), cnf))
			return err
		}
		// Each script loaded: the first call may be an EVALSHA refused
		// and an EVAL.
		if err := issue("load the script", "", ""); err != nil {
			t.Fatal(err)
		}
		// Not cached: the script reads the application and writes the
		// binding itself.
		if n := rt.count(func() { _ = issue("uncached", "", "p0") }); n != 1 {
			t.Errorf("a bound token, its application not cached: %d round trips, want 1", n)
		}
		warm(s, a)
		if err := issue("load the other", "", ""); err != nil {
			t.Fatal(err)
		}
		for _, tt := range []struct {
			name, jti, proof string
			want             error
		}{
			{"proof", "", "p1", nil},
			{"proof and jti", "j1", "p2", nil},
			{"replayed proof", "j2", "p2", store.ErrProofReplayed},
			{"replayed jti", "j1", "p3", store.ErrAlreadyExists},
			{"the jti and proof those left", "j2", "p3", nil},
		} {
			var err error
			if n := rt.count(func() { err = issue(tt.name, tt.jti, tt.proof) }); n != 1 {
				t.Errorf("%s: %d round trips, want 1", tt.name, n)
			}
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Errorf("%s: %v, want %v", tt.name, err, tt.want)
			}
		}
	})
}

// commandCalls reads INFO commandstats into calls per command, leaving out
// INFO and CONFIG (the test's own).
func commandCalls(t *testing.T, rdb goredis.UniversalClient) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	for _, line := range strings.Split(rdb.Info(context.Background(), "commandstats").Val(), "\r\n") {
		name, rest, ok := strings.Cut(strings.TrimPrefix(line, "cmdstat_"), ":calls=")
		if !ok || name == "info" || strings.HasPrefix(name, "config") {
			continue
		}
		n, _ := strconv.ParseInt(rest[:strings.IndexByte(rest, ',')], 10, 64)
		out[name] = n
	}
	return out
}

// Redis runs at most four commands per token, the script included (INFO
// commandstats, on a real server): the script, one MGET of the
// application and the lock-outs, one HSET, one HINCRBY of its usage; a
// bucket's expiry and its place in the index cost only its first token,
// the usage's hour and last use only an hour's first (countLua). Whether Go held the
// application or not. And a live token costs at most 200 bytes of Redis.
func TestCommandsPerToken(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rdb := redistest.Start(t, redistest.Real).Client(t)
	s := New(rdb, Options{Prefix: "cmd"})
	a := issueApp("daemon", 24*time.Hour)
	if err := s.CreateApplication(ctx, a); err != nil {
		t.Fatal(err)
	}
	from := netip.MustParseAddr("192.0.2.7")
	const n = 2000
	issue := func(round string) {
		for i := range n {
			r := tokenRequest(a.ClientID, fmt.Sprint(round, i), time.Now())
			r.From = from
			if _, err := s.IssueToken(ctx, r, accept(r)); err != nil {
				t.Fatal(err)
			}
		}
	}
	issue("warm-up")
	for _, cached := range []bool{false, true} {
		if cached {
			warm(s, a)
			// One token first, which loads the cached path's script.
			r := tokenRequest(a.ClientID, "load", time.Now())
			if _, err := s.IssueToken(ctx, r, accept(r)); err != nil {
				t.Fatal(err)
			}
		}
		if err := rdb.ConfigResetStat(ctx).Err(); err != nil {
			t.Fatal(err)
		}
		mem := usedMemory(t, rdb)
		issue(fmt.Sprint("cached ", cached))
		perToken := float64(usedMemory(t, rdb)-mem) / n
		calls := commandCalls(t, rdb)
		var total int64
		for _, c := range calls {
			total += c
		}
		t.Logf("cached %v: %.2f commands per token %v, %.0f bytes per token", cached, float64(total)/n, calls, perToken)
		if float64(total)/n > 4 {
			t.Errorf("cached %v: %.2f commands per token, want at most 4: %v", cached, float64(total)/n, calls)
		}
		for _, c := range []string{"evalsha", "mget", "hset", "hincrby"} {
			if calls[c] != n {
				t.Errorf("cached %v: %d %s for %d tokens, want one each", cached, calls[c], c, n)
			}
		}
		if calls["zadd"] > 2 || calls["exists"] > 0 {
			t.Errorf("cached %v: %d ZADD and %d EXISTS for %d tokens: the index is for a bucket's first token only", cached, calls["zadd"], calls["exists"], n)
		}
		if perToken > 200 {
			t.Errorf("cached %v: %.0f bytes per live token, want at most 200", cached, perToken)
		}
	}

	// A token that starts its application's bucket (every token, when
	// each application asks once a bucket) pays the bucket's expiry, its
	// place in the index and the index's expiry too: 7, and now and then
	// a trim; when it is also the first of its hour, the usage's fold and
	// last use (HGETALL, HSET): 9.
	const apps = 500
	for i := range apps {
		if err := s.CreateApplication(ctx, issueApp(fmt.Sprint("first-", i), 24*time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	if err := rdb.ConfigResetStat(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	for i := range apps {
		r := tokenRequest(fmt.Sprint("first-", i), "first", time.Now())
		r.From = from
		if _, err := s.IssueToken(ctx, r, accept(r)); err != nil {
			t.Fatal(err)
		}
	}
	calls := commandCalls(t, rdb)
	var total int64
	for _, c := range calls {
		total += c
	}
	t.Logf("each token its application's first: %.2f commands per token %v", float64(total)/apps, calls)
	if float64(total)/apps > 9.2 {
		t.Errorf("%.2f commands for a bucket's and an hour's first token, want about 9: %v", float64(total)/apps, calls)
	}
}

// No record outlives its application: tokens issued while it is deleted,
// by replicas holding it in their cache or not, are refused or deleted
// with it, and no key of it is left. (The delete watches the bucket
// index, which a token starting a bucket writes.)
func TestNoOrphanUnderConcurrentDelete(t *testing.T) {
	t.Parallel()
	onEachRedis(t, func(t *testing.T, rdb goredis.UniversalClient) {
		ctx := context.Background()
		cold := New(rdb, Options{Prefix: "orphan"})
		for round := range 5 {
			for _, life := range []time.Duration{0, time.Second, time.Hour} {
				a := issueApp(fmt.Sprintf("gone-%d-%d", round, life/time.Second), life)
				if err := cold.CreateApplication(ctx, a); err != nil {
					t.Fatal(err)
				}
				hot := New(rdb, Options{Prefix: "orphan"})
				warm(hot, a)
				var issued atomic.Int64
				var wg sync.WaitGroup
				for w := range 8 {
					s := []*Store{cold, hot}[w%2]
					wg.Add(1)
					go func() {
						defer wg.Done()
						for i := 0; ; i++ {
							// Issue times spread over a few seconds: new
							// buckets start while the delete runs.
							at := time.Now().Add(time.Duration(i%5) * time.Second)
							r := tokenRequest(a.ClientID, fmt.Sprint(round, w, i), at)
							_, err := s.IssueToken(ctx, r, accept(r))
							if errors.Is(err, store.ErrNotFound) {
								return
							}
							if err != nil {
								t.Error(err)
								return
							}
							issued.Add(1)
						}
					}()
				}
				// Let the writers get going; they stop at the delete.
				for deadline := time.Now().Add(10 * time.Second); issued.Load() < 50; time.Sleep(time.Millisecond) {
					if time.Now().After(deadline) {
						t.Fatal("the writers issued no tokens")
					}
				}
				if err := cold.DeleteApplication(ctx, a.ClientID); err != nil {
					t.Fatal(err)
				}
				wg.Wait()
				if left := keysOf(t, rdb, a.ClientID); len(left) != 0 {
					t.Fatalf("round %d, lifetime %v: keys left after the delete (%d tokens issued): %v", round, life, issued.Load(), left)
				}
			}
		}
	})
}

// keysOf lists every key of an application (they all carry its hash tag).
func keysOf(t *testing.T, rdb goredis.UniversalClient, id string) []string {
	t.Helper()
	keys, err := rdb.Keys(context.Background(), "*{"+id+"}*").Result()
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

func usedMemory(t *testing.T, rdb goredis.UniversalClient) int64 {
	t.Helper()
	info := rdb.Info(context.Background(), "memory").Val()
	for _, line := range strings.Split(info, "\r\n") {
		if v, ok := strings.CutPrefix(line, "used_memory:"); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatalf("no used_memory in INFO memory:\n%s", info)
	return 0
}

// A bucket hash written before the marker (records alone, as the earlier
// script wrote them) takes new tokens: the first one adds the marker and
// registers the bucket again, which changes nothing, and everything reads
// both: lookup, listing, revocation, deletion.
func TestBucketFromBeforeTheMarker(t *testing.T) {
	t.Parallel()
	onEachRedis(t, func(t *testing.T, rdb goredis.UniversalClient) {
		ctx := context.Background()
		s := New(rdb, Options{Prefix: "old"})
		a := issueApp("old", time.Hour)
		if err := s.CreateApplication(ctx, a); err != nil {
			t.Fatal(err)
		}
		at := time.Now()
		// The earlier token format: 43 random characters, the digest of
		// the whole token; its record as the earlier script filed it.
		old := a.AccessToken(store.Grant{Scopes: []string{"sms"}}, at, 0)
		raw := "oat_old_" + store.FormatBucket(old.Bucket()) + "_" + strings.Repeat("A", 43)
		oldRef := store.TokenRef{ClientID: "old", Bucket: old.Bucket(), Digest: store.Sum(raw)}
		key := s.bucketKey("old", oldRef.Bucket)
		rdb.HSet(ctx, key, field(oldRef), encodeToken(old))
		rdb.PExpireAt(ctx, key, time.UnixMilli(s.bucketExpiry(oldRef.Bucket)))
		rdb.ZAdd(ctx, s.bucketIndexKey("old"), goredis.Z{Score: float64(s.bucketExpiry(oldRef.Bucket)), Member: store.FormatBucket(oldRef.Bucket)})
		rdb.PExpireAt(ctx, s.bucketIndexKey("old"), time.UnixMilli(s.bucketExpiry(oldRef.Bucket)))

		r := tokenRequest("old", "new", at)
		got, err := s.IssueToken(ctx, r, accept(r))
		if err != nil || got.Ref.Bucket != oldRef.Bucket {
			t.Fatalf("IssueToken into the earlier bucket: %+v, %v", got.Ref, err)
		}
		if f := rdb.HKeys(ctx, key).Val(); len(f) != 4 || !slices.Contains(f, "_") || !slices.Contains(f, "_s1") {
			t.Fatalf("the bucket's fields: %q, want both records, the marker and the secret's", f)
		}
		if idx := rdb.ZRange(ctx, s.bucketIndexKey("old"), 0, -1).Val(); !slices.Equal(idx, []string{"_", store.FormatBucket(oldRef.Bucket)}) {
			t.Fatalf("the index: %v, want its marker and the bucket once", idx)
		}
		if ttl := rdb.PTTL(ctx, s.bucketIndexKey("old")).Val(); ttl <= 0 || ttl > time.Hour+time.Hour/64+time.Second {
			t.Fatalf("the index expires in %v, want with its bucket", ttl)
		}
		list, _, err := s.ListTokens(ctx, "old", 10, at)
		if err != nil || len(list) != 2 {
			t.Fatalf("ListTokens = %d tokens, %v; want the earlier one and the new one", len(list), err)
		}
		if l, err := s.LookupToken(ctx, oldRef, ""); err != nil || l.Token == nil || l.Token.ID != oldRef.JTI() {
			t.Fatalf("the earlier token's lookup: %+v, %v", l.Token, err)
		}
		if ok, err := s.RevokeToken(ctx, oldRef, 0); err != nil || !ok {
			t.Fatalf("revoking the earlier token: %v, %v", ok, err)
		}
		if err := s.DeleteApplication(ctx, "old"); err != nil {
			t.Fatal(err)
		}
		if left := keysOf(t, rdb, "old"); len(left) != 0 {
			t.Fatalf("keys left: %v", left)
		}
	})
}

// The index of an application that keeps issuing holds its live buckets
// and a few ended ones, not every bucket it ever had: one bucket start in
// 16 trims it. Here a day-long bucket keeps the index alive while 1,000
// one-second buckets start, each already ended.
func TestIndexTrimmed(t *testing.T) {
	t.Parallel()
	onEachRedis(t, func(t *testing.T, rdb goredis.UniversalClient) {
		ctx := context.Background()
		s := New(rdb, Options{Prefix: "trim"})
		if err := s.CreateApplication(ctx, issueApp("busy", time.Hour)); err != nil {
			t.Fatal(err)
		}
		put := func(name string, at time.Time, life time.Duration) {
			tok := store.Token{ClientID: "busy", IssuedAt: at, ExpiresAt: at.Add(life)}
			if err := s.CreateToken(ctx, store.TokenRef{ClientID: "busy", Bucket: tok.Bucket(), Digest: store.Sum(name)}, tok); err != nil {
				t.Fatal(err)
			}
		}
		now := time.Now()
		put("day", now, 24*time.Hour)
		for i := range 1000 {
			put(fmt.Sprint(i), now.Add(-time.Hour+time.Duration(i)*time.Second), time.Second)
		}
		n := rdb.ZCard(ctx, s.bucketIndexKey("busy")).Val()
		if n > 100 || n < 1 {
			t.Fatalf("the index holds %d buckets after 1,000 ended ones and a live one: want the live one and a few", n)
		}
		if ttl := rdb.PTTL(ctx, s.bucketIndexKey("busy")).Val(); ttl < 23*time.Hour {
			t.Fatalf("the index expires in %v: before its day-long bucket", ttl)
		}
		live, err := s.liveBuckets(ctx, rdb, "busy", 7)
		if err != nil || len(live) != 2 {
			t.Fatalf("live buckets %v, %v: want the day's and the never-expiring one", live, err)
		}
	})
}

// A token is counted in its application's usage by the script that
// writes it, with one command (HINCRBY): an application not cached whose
// bucket is live costs 4 commands a token in one round trip (EVALSHA,
// MGET, HSET, HINCRBY), however many applications ask, and the counts are
// in Redis at once. The overall counts' flush costs one round trip and at
// most topKeep+4 commands for an hour, whatever the number of
// applications. A script the node lost (SCRIPT FLUSH, a restart) is loaded
// again and nothing is counted twice or lost.
func TestUsageCountCost(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rdb := redistest.Start(t, redistest.Real).Client(t)
	var rt roundTrips
	rdb.AddHook(&rt)
	s := New(rdb, Options{Prefix: "count"})
	const apps = topKeep + 100
	for i := range apps {
		if err := s.CreateApplication(ctx, issueApp(fmt.Sprint("app-", i), 24*time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	// One issue time for every round: the same hour and bucket, whenever
	// the test runs.
	at := time.Now().UTC().Truncate(time.Millisecond)
	issueAll := func(round string) (trips int64) {
		return rt.count(func() {
			for i := range apps {
				r := tokenRequest(fmt.Sprint("app-", i), round, at)
				if _, err := s.IssueToken(ctx, r, accept(r)); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
	issueAll("first") // each application's bucket, usage hash and hour made
	if err := s.FlushUsage(ctx); err != nil {
		t.Fatal(err)
	}
	if err := rdb.ConfigResetStat(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	trips := issueAll("second")
	calls := commandCalls(t, rdb)
	var total int64
	for _, c := range calls {
		total += c
	}
	t.Logf("%d tokens: %d round trips, %.2f commands per token %v", apps, trips, float64(total)/apps, calls)
	if trips != apps {
		t.Errorf("%d tokens took %d round trips, want one each", apps, trips)
	}
	for _, c := range []string{"evalsha", "mget", "hset", "hincrby"} {
		if calls[c] != apps {
			t.Errorf("%d %s for %d tokens, want one each: %v", calls[c], c, apps, calls)
		}
	}
	if total != 4*apps {
		t.Errorf("%d commands for %d tokens, want 4 each: %v", total, apps, calls)
	}
	for _, i := range []int{0, apps - 1} {
		u, err := s.GetUsage(ctx, fmt.Sprint("app-", i))
		if err != nil || u.Issued != 2 || !u.LastUsed.Equal(at) || !u.SecretLastUsed["s1"].Equal(at) {
			t.Fatalf("app-%d after two tokens: %+v, %v; want 2 issued, last used %v", i, u, err, at)
		}
	}

	if err := rdb.ConfigResetStat(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	if trips := rt.count(func() {
		if err := s.FlushUsage(ctx); err != nil {
			t.Fatal(err)
		}
	}); trips != 1 {
		t.Errorf("the overall counts' flush took %d round trips, want 1", trips)
	}
	calls = commandCalls(t, rdb)
	total = 0
	for _, c := range calls {
		total += c
	}
	if total > topKeep+4 {
		t.Errorf("the overall counts' flush of %d applications' hour: %d commands, want at most %d: %v", apps, total, topKeep+4, calls)
	}
	sum, err := s.IssuedOverall(ctx, 1, 1, at)
	if err != nil || len(sum.PerHour) != 1 || sum.PerHour[0] != 2*apps {
		t.Fatalf("IssuedOverall of the hour: %+v, %v; want %d", sum, err, 2*apps)
	}

	// A node without the script: loaded again, every token counted once.
	if err := rdb.ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	issueAll("third")
	for _, i := range []int{0, apps - 1} {
		u, err := s.GetUsage(ctx, fmt.Sprint("app-", i))
		if err != nil || u.Issued != 3 {
			t.Fatalf("app-%d after a token that met NOSCRIPT: %+v, %v; want 3 issued", i, u, err)
		}
	}
}

// The first token of an hour folds the earlier hours into the totals and
// the hourly keys, so the usage hash holds one hour or two: counts,
// per-hour figures and last use come out the same before and after, and
// a token issued with an earlier clock (another replica's) moves no last
// use back. Last use is exact while a bucket of the application lives,
// and to the hour after.
func TestUsageFolds(t *testing.T) {
	t.Parallel()
	onEachRedis(t, func(t *testing.T, rdb goredis.UniversalClient) {
		ctx := context.Background()
		s := New(rdb, Options{Prefix: "fold"})
		if err := s.CreateApplication(ctx, issueApp("app", 72*time.Hour)); err != nil {
			t.Fatal(err)
		}
		now := time.Now().UTC().Truncate(time.Hour).Add(30 * time.Minute)
		issue := func(name string, at time.Time) {
			t.Helper()
			r := tokenRequest("app", name, at)
			if _, err := s.IssueToken(ctx, r, accept(r)); err != nil {
				t.Fatal(err)
			}
		}
		issue("3h-ago", now.Add(-3*time.Hour))
		issue("3h-ago-again", now.Add(-3*time.Hour+time.Minute))
		issue("2h-ago", now.Add(-2*time.Hour))
		issue("now", now)
		issue("now-again", now.Add(time.Minute))
		issue("late-clock", now.Add(-time.Hour)) // a replica behind: its own hour
		fields, err := rdb.HKeys(ctx, s.usageKey("app")).Result()
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range fields {
			if h, ok := unfolded(f); ok && h < now.Add(-time.Hour).Unix()/3600 {
				t.Errorf("usage hash still holds field %q of an hour before the last one's first token: %v", f, fields)
			}
		}
		// The application's and the secret's last use are the last
		// token's (the markers of its buckets).
		u, err := s.GetUsage(ctx, "app")
		if err != nil || u.Issued != 6 || !u.LastUsed.Equal(now.Add(time.Minute)) || !u.SecretLastUsed["s1"].Equal(now.Add(time.Minute)) {
			t.Fatalf("usage %+v, %v; want 6 issued, last used %v by the application and the secret", u, err, now.Add(time.Minute))
		}
		// Once its buckets are gone, to the hour.
		buckets, err := rdb.Keys(ctx, s.bucketKeyOf("app", "")+"*").Result()
		if err != nil || len(buckets) == 0 {
			t.Fatalf("buckets %v, %v", buckets, err)
		}
		if err := rdb.Del(ctx, buckets...).Err(); err != nil {
			t.Fatal(err)
		}
		if u, err := s.GetUsage(ctx, "app"); err != nil || !u.LastUsed.Equal(now) || !u.SecretLastUsed["s1"].Equal(now) {
			t.Fatalf("usage without buckets %+v, %v; want last used %v (the first of its hour)", u, err, now)
		}
		hours, err := s.IssuedPerHour(ctx, "app", 4, now)
		if err != nil || !slices.Equal(hours, []int64{2, 1, 1, 2}) {
			t.Fatalf("IssuedPerHour = %v, %v; want [2 1 1 2]", hours, err)
		}
	})
}

// With Options.Batched (go-redis's autopipeliner, as oauthd serve runs),
// concurrent token requests share round trips: 50 callers issuing and
// looking up 40 tokens each need fewer pipelines than commands, and every
// token issued is found, with its usage counted once.
func TestBatchedTokensShareRoundTrips(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rdb := redistest.Start(t, redistest.Real).Client(t)
	var rt roundTrips
	rdb.AddHook(&rt)
	ap, err := Batching(rdb)
	if err != nil || ap == nil {
		t.Fatalf("Batching = %v, %v", ap, err)
	}
	t.Cleanup(func() { ap.Close() })
	s := New(rdb, Options{Prefix: "batched", Batched: ap})
	a := issueApp("busy", 24*time.Hour)
	if err := s.CreateApplication(ctx, a); err != nil {
		t.Fatal(err)
	}
	const callers, each = 50, 40
	var wg sync.WaitGroup
	errs := make(chan error, callers)
	trips := rt.count(func() {
		for c := range callers {
			wg.Go(func() {
				for i := range each {
					r := tokenRequest(a.ClientID, fmt.Sprint(c, "-", i), time.Now())
					got, err := s.IssueToken(ctx, r, accept(r))
					if err != nil {
						errs <- err
						return
					}
					l, err := s.LookupTokenFor(ctx, got.Ref, store.Caller{ClientID: a.ClientID, Addr: netip.MustParseAddr("192.0.2.1")})
					if err != nil || l.Token == nil || l.Token.ID != got.Ref.JTI() {
						errs <- fmt.Errorf("lookup of %s: %+v, %v", got.Ref.JTI(), l.Token, err)
						return
					}
				}
			})
		}
		wg.Wait()
	})
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	const requests = 2 * callers * each
	t.Logf("%d token requests and lookups in %d round trips", requests, trips)
	if trips >= requests {
		t.Errorf("%d requests took %d round trips: the autopipeliner batched nothing", requests, trips)
	}
	if u, err := s.GetUsage(ctx, a.ClientID); err != nil || u.Issued != callers*each {
		t.Errorf("usage after %d tokens: %+v, %v", callers*each, u, err)
	}
}

// A secret's field in a bucket (its last use) is never taken for a token's
// record, whose fields are store.KeyLen bytes long: not even for a secret
// id one byte shorter, whose field would be that long.
func TestSecretMarkIsNoRecord(t *testing.T) {
	t.Parallel()
	onEachRedis(t, func(t *testing.T, rdb goredis.UniversalClient) {
		ctx := context.Background()
		s := New(rdb, Options{Prefix: "mark"})
		a := issueApp("app", 24*time.Hour)
		sid := strings.Repeat("s", store.KeyLen-1)
		a.Secrets[0].ID = sid
		if err := s.CreateApplication(ctx, a); err != nil {
			t.Fatal(err)
		}
		now := time.Now()
		var ref store.TokenRef
		for _, name := range []string{"one", "two"} {
			r := tokenRequest("app", name, now)
			got, err := s.IssueToken(ctx, r, accept(r))
			if err != nil {
				t.Fatal(err)
			}
			ref = got.Ref
		}
		fields := rdb.HKeys(ctx, s.bucketKey("app", ref.Bucket)).Val()
		if !slices.Contains(fields, "_"+sid+"_") {
			t.Fatalf("the bucket's fields %q: no field of the secret, or one of %d bytes", fields, store.KeyLen)
		}
		list, _, err := s.ListTokens(ctx, "app", 10, now)
		if err != nil || len(list) != 2 {
			t.Fatalf("ListTokens = %d tokens, %v; want the two issued", len(list), err)
		}
		if u, err := s.GetUsage(ctx, "app"); err != nil || !u.SecretLastUsed[sid].Equal(now.UTC().Truncate(time.Millisecond)) {
			t.Fatalf("usage %+v, %v; want the secret last used %v", u, err, now)
		}
	})
}
