package storetest

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/oauthd/oauthd/store"
)

// A request the server authenticated with a key (TokenRequest.AuthMethod)
// gets a token only from an application of exactly that method, and a
// secret only from the applications that send theirs as it is, whatever
// check says: the backend decides on the application it read, as it is
// at the write (issue 18's defence against a method changed meanwhile).
// Each case runs on an application the backend has not read yet and on
// one it has (store/redis: its token script, and its cache).
func testIssueTokenAuthMethod(t *testing.T, s Backend) {
	ctx := context.Background()
	withMethod := func(m string, secrets bool) store.Application {
		a := newApp(t)
		a.Auth.Method = m
		if !secrets {
			a.Secrets = nil
		}
		return a
	}
	for _, tt := range []struct {
		name   string
		app    store.Application
		method string // TokenRequest.AuthMethod; "" sends secret-one
		ok     bool
	}{
		{"private_key_jwt for its application", withMethod(store.AuthPrivateKeyJWT, false), store.AuthPrivateKeyJWT, true},
		{"tls_client_auth for its application", withMethod(store.AuthTLS, false), store.AuthTLS, true},
		{"client_secret_jwt for its application", withMethod(store.AuthSecretJWT, true), store.AuthSecretJWT, true},
		{"secret for a legacy application", withMethod("", true), "", true},
		{"secret for client_secret_post", withMethod(store.AuthSecretPost, true), "", true},
		{"key method for a secret application", withMethod("", true), store.AuthPrivateKeyJWT, false},
		{"another key method", withMethod(store.AuthPrivateKeyJWT, false), store.AuthSelfSignedTLS, false},
		{"secret for a key-only application", withMethod(store.AuthPrivateKeyJWT, false), "", false},
		{"bare secret for client_secret_jwt", withMethod(store.AuthSecretJWT, true), "", false},
	} {
		for _, cached := range []bool{false, true} {
			name := tt.name
			if cached {
				name += " (read before)"
			}
			t.Run(name, func(t *testing.T) {
				a := tt.app
				a.ClientID = newApp(t).ClientID
				mustCreate(t, s, a)
				if cached {
					if _, err := s.GetApplication(ctx, a.ClientID); err != nil {
						t.Fatal(err)
					}
				}
				r := request(a, name)
				r.AuthMethod = tt.method
				if tt.method != "" {
					r.Secret = store.Digest{}
				}
				// check lets everything through: the backend alone decides.
				calls := 0
				got, err := s.IssueToken(ctx, r, func(app *store.Application) (store.Grant, error) {
					calls++
					return store.Grant{Scopes: app.Scopes, Audiences: app.Audiences}, nil
				})
				if tt.ok {
					if err != nil || got.Token.ClientID != a.ClientID {
						t.Fatalf("IssueToken = %+v, %v; want a token", got, err)
					}
					if l, err := s.LookupToken(ctx, got.Ref, ""); err != nil || l.Token == nil {
						t.Fatalf("the token issued is not stored: %+v, %v", l.Token, err)
					}
					return
				}
				if !errors.Is(err, store.ErrAuthMethod) || calls > 1 {
					t.Fatalf("IssueToken = %v (check called %d times), want ErrAuthMethod", err, calls)
				}
				for _, b := range []int64{store.NeverBucket(a.Generation), a.AccessToken(store.Grant{}, r.IssuedAt, 0).Bucket()} {
					ref := store.TokenRef{ClientID: r.ClientID, Bucket: b, Digest: r.Digest}
					if l, err := s.LookupToken(ctx, ref, ""); err != nil || l.Token != nil {
						t.Fatalf("a refused token's record is stored: %+v, %v", l.Token, err)
					}
				}
			})
		}
	}
}

// An assertion's jti is accepted once per client until the assertion
// expires: again before that is a replay (ErrAlreadyExists), the same jti
// from another client is not, and once expired it is forgotten.
func testAssertions(t *testing.T, s Backend) {
	ctx := context.Background()
	now := time.Now()
	until := now.Add(300 * time.Millisecond)
	if err := s.UseAssertion(ctx, "c1", "jti-1", until); err != nil {
		t.Fatalf("first use: %v", err)
	}
	for _, tt := range []struct {
		name, client, jti string
		want              error
	}{
		{"replay", "c1", "jti-1", store.ErrAlreadyExists},
		{"other jti", "c1", "jti-2", nil},
		{"other client, same jti", "c2", "jti-1", nil},
		{"jti differing in case", "c1", "JTI-1", nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if err := s.UseAssertion(ctx, tt.client, tt.jti, until); !errors.Is(err, tt.want) {
				t.Fatalf("UseAssertion(%s, %s) = %v, want %v", tt.client, tt.jti, err, tt.want)
			}
		})
	}
	// An until already past is still kept a moment (a second), not lost.
	if err := s.UseAssertion(ctx, "c1", "jti-past", now.Add(-time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := s.UseAssertion(ctx, "c1", "jti-past", now.Add(-time.Minute)); !errors.Is(err, store.ErrAlreadyExists) {
		t.Fatalf("a past until kept nothing: %v", err)
	}
	s.FastForward(400 * time.Millisecond)
	if err := s.UseAssertion(ctx, "c1", "jti-1", time.Now().Add(time.Minute)); err != nil {
		t.Fatalf("after the assertion expired, its jti is still held: %v", err)
	}
}

// IssueToken takes a client assertion's jti with the write (one round
// trip): a second request with it is a replay (ErrAlreadyExists) that
// stores nothing, and UseAssertion and IssueToken share the jtis; a
// request refused for another reason leaves the jti untaken. On an
// application the backend has not read yet and on one it has.
func testIssueTokenAssertion(t *testing.T, s Backend) {
	ctx := context.Background()
	for _, cached := range []bool{false, true} {
		t.Run(map[bool]string{false: "unread", true: "read before"}[cached], func(t *testing.T) {
			a := newApp(t)
			a.Auth.Method, a.Secrets = store.AuthPrivateKeyJWT, nil
			mustCreate(t, s, a)
			if cached {
				if _, err := s.GetApplication(ctx, a.ClientID); err != nil {
					t.Fatal(err)
				}
			}
			pass := func(app *store.Application) (store.Grant, error) {
				return store.Grant{Scopes: app.Scopes, Audiences: app.Audiences}, nil
			}
			req := func(name, jti string) store.TokenRequest {
				r := request(a, name)
				r.Secret, r.AuthMethod, r.JTI, r.JTIUntil = store.Digest{}, store.AuthPrivateKeyJWT, jti, time.Now().Add(time.Minute)
				return r
			}
			// Refused for its scope: the jti stays free.
			bad := req("refused", "jti-a")
			bad.Scopes = []string{"viber"}
			if _, err := s.IssueToken(ctx, bad, func(*store.Application) (store.Grant, error) { return store.Grant{}, errors.New("scope") }); err == nil {
				t.Fatal("a request for a scope the application lacks was stored")
			}
			if _, err := s.IssueToken(ctx, req("first", "jti-a"), pass); err != nil {
				t.Fatalf("first use of the jti: %v", err)
			}
			again := req("again", "jti-a")
			if _, err := s.IssueToken(ctx, again, pass); !errors.Is(err, store.ErrAlreadyExists) {
				t.Fatalf("replayed jti: %v, want ErrAlreadyExists", err)
			}
			for _, b := range []int64{store.NeverBucket(a.Generation), a.AccessToken(store.Grant{}, again.IssuedAt, 0).Bucket()} {
				if l, err := s.LookupToken(ctx, store.TokenRef{ClientID: a.ClientID, Bucket: b, Digest: again.Digest}, ""); err != nil || l.Token != nil {
					t.Fatalf("a replay's record is stored: %+v, %v", l.Token, err)
				}
			}
			if err := s.UseAssertion(ctx, a.ClientID, "jti-a", time.Now().Add(time.Minute)); !errors.Is(err, store.ErrAlreadyExists) {
				t.Fatalf("UseAssertion of a jti IssueToken took: %v", err)
			}
			if err := s.UseAssertion(ctx, a.ClientID, "jti-b", time.Now().Add(time.Minute)); err != nil {
				t.Fatal(err)
			}
			if _, err := s.IssueToken(ctx, req("after use", "jti-b"), pass); !errors.Is(err, store.ErrAlreadyExists) {
				t.Fatalf("IssueToken of a jti UseAssertion took: %v", err)
			}
		})
	}
}

// Of many replicas presenting one assertion at once, exactly one wins.
func testAssertionsConcurrent(t *testing.T, s Backend) {
	ctx := context.Background()
	until := time.Now().Add(time.Minute)
	const n = 16
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- s.UseAssertion(ctx, "c1", "race", until)
		}()
	}
	wg.Wait()
	close(errs)
	won := 0
	for err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, store.ErrAlreadyExists):
			t.Fatalf("UseAssertion = %v", err)
		}
	}
	if won != 1 {
		t.Fatalf("%d of %d concurrent uses accepted, want 1", won, n)
	}
}
