package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oauthd/oauthd/store"
)

// IssueToken takes a DPoP proof (TokenRequest.ProofID, issue 19) with
// the write, as it takes an assertion's jti: a second request with it is
// ErrProofReplayed and stores nothing; a request carrying both takes both
// or, when either was used before, neither; a request refused for another
// reason leaves the proof untaken; proofs are per client and are
// forgotten at ProofUntil; of concurrent first uses exactly one wins. On
// an application the backend has not read yet and on one it has.
func testIssueTokenProof(t *testing.T, s Backend) {
	ctx := context.Background()
	for _, cached := range []bool{false, true} {
		t.Run(map[bool]string{false: "unread", true: "read before"}[cached], func(t *testing.T) {
			a, other := newApp(t), newApp(t)
			a.Auth.Method, a.Secrets = store.AuthPrivateKeyJWT, nil
			mustCreate(t, s, a)
			mustCreate(t, s, other)
			if cached {
				for _, id := range []string{a.ClientID, other.ClientID} {
					if _, err := s.GetApplication(ctx, id); err != nil {
						t.Fatal(err)
					}
				}
			}
			pass := func(app *store.Application) (store.Grant, error) {
				return store.Grant{Scopes: app.Scopes, Audiences: app.Audiences}, nil
			}
			n := 0
			req := func(jti, proof string) store.TokenRequest {
				n++
				r := request(a, fmt.Sprint("proof-", n))
				r.Secret, r.AuthMethod = store.Digest{}, store.AuthPrivateKeyJWT
				r.JTI, r.JTIUntil = jti, time.Now().Add(time.Minute)
				r.ProofID, r.ProofUntil = proof, time.Now().Add(time.Minute)
				return r
			}
			stored := func(r store.TokenRequest) bool {
				t.Helper()
				for _, b := range []int64{store.NeverBucket(a.Generation), a.AccessToken(store.Grant{}, r.IssuedAt, 0).Bucket()} {
					l, err := s.LookupToken(ctx, store.TokenRef{ClientID: a.ClientID, Bucket: b, Digest: r.Digest}, "")
					if err != nil {
						t.Fatal(err)
					}
					if l.Token != nil {
						return true
					}
				}
				return false
			}
			issue := func(r store.TokenRequest, want error) {
				t.Helper()
				_, err := s.IssueToken(ctx, r, pass)
				switch {
				case want == nil && err != nil:
					t.Fatalf("IssueToken(jti %q, proof %q) = %v", r.JTI, r.ProofID, err)
				case want != nil && !errors.Is(err, want):
					t.Fatalf("IssueToken(jti %q, proof %q) = %v, want %v", r.JTI, r.ProofID, err, want)
				case want != nil && stored(r):
					t.Fatalf("IssueToken(jti %q, proof %q) refused (%v) but its record is stored", r.JTI, r.ProofID, err)
				}
			}
			// Refused for its scope: the proof stays free.
			bad := req("", "p1")
			bad.Scopes = []string{"viber"}
			if _, err := s.IssueToken(ctx, bad, func(*store.Application) (store.Grant, error) { return store.Grant{}, errors.New("scope") }); err == nil {
				t.Fatal("a refused request was stored")
			}
			issue(req("j1", "p1"), nil)
			issue(req("", "p1"), store.ErrProofReplayed)
			// A replayed proof with a fresh jti spends not the jti...
			issue(req("j2", "p1"), store.ErrProofReplayed)
			if err := s.UseAssertion(ctx, a.ClientID, "j2", time.Now().Add(time.Minute)); err != nil {
				t.Fatalf("the jti of a request refused for its proof was taken: %v", err)
			}
			// ...and a replayed jti with a fresh proof not the proof.
			issue(req("j1", "p2"), store.ErrAlreadyExists)
			issue(req("j3", "p2"), nil)
			// Another client's proof of the same name is its own.
			r := request(other, "other client")
			r.ProofID, r.ProofUntil = "p1", time.Now().Add(time.Minute)
			if _, err := s.IssueToken(ctx, r, (&grantCheck{}).check(r)); err != nil {
				t.Fatalf("another client's proof p1: %v", err)
			}
			// Forgotten at ProofUntil.
			short := req("", "short")
			short.ProofUntil = time.Now().Add(300 * time.Millisecond)
			issue(short, nil)
			s.FastForward(400 * time.Millisecond)
			issue(req("", "short"), nil)
			// Of many replicas presenting one proof at once, one wins.
			var wins atomic.Int32
			var wg sync.WaitGroup
			for range 8 {
				wg.Add(1)
				r := req("", "race")
				go func() {
					defer wg.Done()
					if _, err := s.IssueToken(ctx, r, pass); err == nil {
						wins.Add(1)
					}
				}()
			}
			wg.Wait()
			if wins.Load() != 1 {
				t.Errorf("%d concurrent first uses of one proof won, want 1", wins.Load())
			}
		})
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
