package storetest

import (
	"context"
	"errors"
	"net/netip"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/oauthd/oauthd/store"
)

// request is a token request for a as newApp makes it, with its first
// secret, from inside its allowlist, filed under the digest of name.
func request(a store.Application, name string) store.TokenRequest {
	now := time.Now()
	return store.TokenRequest{
		ClientID: a.ClientID, Secret: store.Sum("secret-one"), AuthAt: now,
		Digest: store.Sum(name), IssuedAt: now, From: netip.MustParseAddr("10.1.2.3"),
	}
}

// grantCheck is the check a token endpoint passes to IssueToken, in
// small: the secret, enabled, the scopes and audiences asked for. It
// counts its calls and keeps the application it was given.
type grantCheck struct {
	calls int
	app   store.Application
	fail  error // returned once the request has passed
}

func (c *grantCheck) check(r store.TokenRequest) func(*store.Application) (store.Grant, error) {
	return func(a *store.Application) (store.Grant, error) {
		c.calls++
		c.app = *a
		id, ok := a.MatchDigest(r.Secret, r.AuthAt)
		switch {
		case !ok:
			return store.Grant{}, errors.New("wrong secret")
		case !a.Enabled:
			return store.Grant{}, errors.New("disabled")
		}
		g := store.Grant{Scopes: a.Scopes, Audiences: a.Audiences, SecretID: id}
		if len(r.Scopes) > 0 {
			for _, sc := range r.Scopes {
				if !slices.Contains(a.Scopes, sc) {
					return store.Grant{}, errors.New("scope")
				}
			}
			g.Scopes = r.Scopes
		}
		if len(r.Resources) > 0 {
			g.Audiences = nil
			for _, res := range r.Resources {
				if !slices.Contains(a.Audiences, res) {
					return store.Grant{}, errors.New("audience")
				}
				if !slices.Contains(g.Audiences, res) {
					g.Audiences = append(g.Audiences, res)
				}
			}
		}
		return g, c.fail
	}
}

// issue runs IssueToken with a grantCheck and returns both.
func issue(t *testing.T, s store.Tokens, r store.TokenRequest, fail error) (store.Issued, *grantCheck, error) {
	t.Helper()
	c := &grantCheck{fail: fail}
	got, err := s.IssueToken(context.Background(), r, c.check(r))
	return got, c, err
}

// IssueToken stores the record check's grant describes, where the token's
// expiry files it, and returns it exactly as a lookup reads it. A lifetime
// asked for shortens the application's, never lengthens it.
func testIssueToken(t *testing.T, s Backend) {
	a := newApp(t)
	a.Audiences = []string{"https://sms.example", "https://billing.example"}
	mustCreate(t, s, a)
	never := newApp(t)
	never.TokenLifetime = 0
	mustCreate(t, s, never)
	for _, tt := range []struct {
		name              string
		app               store.Application
		scopes, resources []string
		ttl, life         time.Duration // asked for, and the record's
		want              store.Grant
	}{
		{"everything", a, nil, nil, 0, a.TokenLifetime, store.Grant{Scopes: a.Scopes, Audiences: a.Audiences, SecretID: "s1"}},
		{"narrowed", a, []string{"groups"}, []string{"https://billing.example", "https://billing.example"}, 0, a.TokenLifetime,
			store.Grant{Scopes: []string{"groups"}, Audiences: []string{"https://billing.example"}, SecretID: "s1"}},
		{"never expires", never, []string{"sms"}, nil, 0, 0, store.Grant{Scopes: []string{"sms"}, SecretID: "s1"}},
		{"shorter asked", a, nil, nil, time.Minute, time.Minute, store.Grant{Scopes: a.Scopes, Audiences: a.Audiences, SecretID: "s1"}},
		{"longer asked", a, nil, nil, 48 * time.Hour, a.TokenLifetime, store.Grant{Scopes: a.Scopes, Audiences: a.Audiences, SecretID: "s1"}},
		{"never expires, asked to", never, []string{"sms"}, nil, time.Hour, time.Hour, store.Grant{Scopes: []string{"sms"}, SecretID: "s1"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := request(tt.app, tt.name)
			r.Scopes, r.Resources, r.Lifetime = tt.scopes, tt.resources, tt.ttl
			got, c, err := issue(t, s, r, nil)
			if err != nil {
				t.Fatalf("IssueToken: %v", err)
			}
			if c.calls != 1 || !reflect.DeepEqual(c.app, tt.app) {
				t.Fatalf("check called %d times with %+v, want once with the application", c.calls, c.app)
			}
			want := tt.app.AccessToken(tt.want, r.IssuedAt, tt.ttl)
			if life := want.ExpiresAt.Sub(want.IssuedAt); tt.life == 0 && !want.ExpiresAt.IsZero() || tt.life > 0 && life != tt.life {
				t.Fatalf("AccessToken asked for %v lives %v, want %v", tt.ttl, life, tt.life)
			}
			wantRef := store.TokenRef{ClientID: tt.app.ClientID, Bucket: want.Bucket(), Digest: r.Digest}
			want.ID, want.SecretID = wantRef.JTI(), ""
			if got.Ref != wantRef || !reflect.DeepEqual(got.Token, want) {
				t.Fatalf("IssueToken =\n %+v\n %+v\nwant\n %+v\n %+v", got.Ref, got.Token, wantRef, want)
			}
			if l := lookup(t, s, got.Ref); l.Token == nil || !reflect.DeepEqual(*l.Token, want) {
				t.Fatalf("the stored record:\n got  %+v\n want %+v", l.Token, want)
			}
			if u, err := s.GetUsage(context.Background(), tt.app.ClientID); err != nil || u.SecretLastUsed["s1"].IsZero() {
				t.Fatalf("usage after IssueToken: %+v, %v", u, err)
			}
		})
	}
}

// IssueToken stores nothing for a request it refuses, whoever refuses it:
// the backend (no such application, a lock-out) or check.
func testIssueTokenRefused(t *testing.T, s Backend) {
	ctx := context.Background()
	a := newApp(t)
	mustCreate(t, s, a)
	disabled := newApp(t)
	disabled.Enabled = false
	mustCreate(t, s, disabled)
	quota := errors.New("quota spent")
	for _, tt := range []struct {
		name   string
		r      func(store.TokenRequest) store.TokenRequest
		fail   error
		checks int // calls of check
		want   func(error) bool
	}{
		{"no such application", func(r store.TokenRequest) store.TokenRequest { r.ClientID = "ghost"; return r }, nil, 0,
			func(err error) bool { return errors.Is(err, store.ErrNotFound) }},
		{"wrong secret", func(r store.TokenRequest) store.TokenRequest { r.Secret = store.Sum("guess"); return r }, nil, 1,
			func(err error) bool { return err != nil && err.Error() == "wrong secret" }},
		{"expired secret", func(r store.TokenRequest) store.TokenRequest {
			r.Secret, r.AuthAt = store.Sum("secret-two"), r.AuthAt.Add(2*time.Hour)
			return r
		}, nil, 1, func(err error) bool { return err != nil && err.Error() == "wrong secret" }},
		{"disabled", func(r store.TokenRequest) store.TokenRequest { r.ClientID = disabled.ClientID; return r }, nil, 1,
			func(err error) bool { return err != nil && err.Error() == "disabled" }},
		{"scope the application lacks", func(r store.TokenRequest) store.TokenRequest { r.Scopes = []string{"sms", "viber"}; return r }, nil, 1,
			func(err error) bool { return err != nil && err.Error() == "scope" }},
		{"audience it does not name", func(r store.TokenRequest) store.TokenRequest { r.Resources = []string{"https://x.example"}; return r }, nil, 1,
			func(err error) bool { return err != nil && err.Error() == "audience" }},
		{"refused by check alone", func(r store.TokenRequest) store.TokenRequest { return r }, quota, 1,
			func(err error) bool { return errors.Is(err, quota) }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := tt.r(request(a, tt.name))
			_, c, err := issue(t, s, r, tt.fail)
			if !tt.want(err) || c.calls != tt.checks {
				t.Fatalf("IssueToken = %v, check called %d times; want %d", err, c.calls, tt.checks)
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
