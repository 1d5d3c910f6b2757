package server

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/oauthd/oauthd/server/apps"

	"github.com/oauthd/oauthd/server/credential"
	"github.com/oauthd/oauthd/store"
)

func TestTokenSuccess(t *testing.T) {
	bothCaches(t, func(t *testing.T, cached bool) {
		env := newTestServer(t)
		if cached {
			env.cacheApps()
		}
		app := env.createApp(apps.NewApplication{Scopes: []string{"sms groups"}, TokenLifetime: "24h"})

		tests := []struct {
			name      string
			req       func() *http.Request
			wantScope string
		}{
			{"basic", func() *http.Request {
				r := formRequest("/oauth/token", url.Values{"grant_type": {"client_credentials"}})
				r.Header.Set("Authorization", basic(app.ClientID, app.Secret))
				return r
			}, "sms groups"},
			{"post", func() *http.Request {
				return formRequest("/oauth/token", url.Values{"grant_type": {"client_credentials"},
					"client_id": {app.ClientID}, "client_secret": {app.Secret}})
			}, "sms groups"},
			{"basic with client_id repeated in body", func() *http.Request {
				r := formRequest("/oauth/token", url.Values{"grant_type": {"client_credentials"}, "client_id": {app.ClientID}})
				r.Header.Set("Authorization", basic(app.ClientID, app.Secret))
				return r
			}, "sms groups"},
			{"basic, every character percent-encoded (RFC 6749 §2.3.1)", func() *http.Request {
				r := formRequest("/oauth/token", url.Values{"grant_type": {"client_credentials"}})
				r.Header.Set("Authorization", "Basic "+b64(percentAll(app.ClientID)+":"+percentAll(app.Secret)))
				return r
			}, "sms groups"},
			{"basic scheme in lower case, unpadded base64", func() *http.Request {
				r := formRequest("/oauth/token", url.Values{"grant_type": {"client_credentials"}})
				r.Header.Set("Authorization", "basic "+strings.TrimRight(b64(app.ClientID+":"+app.Secret), "="))
				return r
			}, "sms groups"},
			{"subset of scopes", func() *http.Request {
				r := formRequest("/oauth/token", url.Values{"grant_type": {"client_credentials"}, "scope": {"groups"}})
				r.Header.Set("Authorization", basic(app.ClientID, app.Secret))
				return r
			}, "groups"},
			{"content type with charset, duplicate scope dropped", func() *http.Request {
				r := formRequest("/oauth/token", url.Values{"grant_type": {"client_credentials"}, "scope": {"sms  sms"}})
				r.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=UTF-8")
				r.Header.Set("Authorization", basic(app.ClientID, app.Secret))
				return r
			}, "sms"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				w := env.do(tt.req())
				if w.Code != http.StatusOK {
					t.Fatalf("status %d, body %s", w.Code, w.Body)
				}
				for k, v := range map[string]string{"Cache-Control": "no-store", "Pragma": "no-cache", "Content-Type": "application/json"} {
					if got := w.Header().Get(k); got != v {
						t.Errorf("%s = %q, want %q", k, got, v)
					}
				}
				body := decode[map[string]any](t, w.Body)
				tok, _ := body["access_token"].(string)
				if !strings.HasPrefix(tok, credential.TokenPrefix+app.ClientID+"_") || len(tok) < 60 {
					t.Errorf("access_token %q lacks the prefix or the randomness", tok)
				}
				if body["token_type"] != "Bearer" || body["expires_in"] != float64(86400) || body["scope"] != tt.wantScope {
					t.Errorf("answer %v", body)
				}
				if len(body) != 4 {
					t.Errorf("answer has extra fields: %v", body)
				}
				// The record is stored under the token's digest with the
				// granted scopes, the application's generation and expiry.
				ref, ok := credential.Parse(tok)
				if !ok {
					t.Fatalf("issued token does not parse: %q", tok)
				}
				l, err := env.store.LookupToken(context.Background(), ref, "")
				if err != nil || l.Token == nil {
					t.Fatalf("token record: %+v %v", l, err)
				}
				rec := l.Token
				if strings.Join(rec.Scopes, " ") != tt.wantScope || rec.ClientID != app.ClientID || rec.ID == "" {
					t.Errorf("record %+v", rec)
				}
				if d := rec.ExpiresAt.Sub(rec.IssuedAt); d != 24*time.Hour {
					t.Errorf("record lifetime %v, want 24h", d)
				}
			})
		}
	})
}

func TestTokenNeverExpires(t *testing.T) {
	bothCaches(t, func(t *testing.T, cached bool) {
		env := newTestServer(t)
		if cached {
			env.cacheApps()
		}
		app := env.createApp(apps.NewApplication{TokenLifetime: "never"})
		r := formRequest("/oauth/token", url.Values{"grant_type": {"client_credentials"}})
		r.Header.Set("Authorization", basic(app.ClientID, app.Secret))
		w := env.do(r)
		if w.Code != http.StatusOK {
			t.Fatalf("status %d: %s", w.Code, w.Body)
		}
		body := decode[map[string]any](t, w.Body)
		if _, ok := body["expires_in"]; ok {
			t.Fatalf("never-expiring token answered with expires_in: %v", body)
		}
		ref, _ := credential.Parse(body["access_token"].(string))
		l, err := env.store.LookupToken(context.Background(), ref, "")
		if err != nil || l.Token == nil || !l.Token.ExpiresAt.IsZero() {
			t.Fatalf("record %+v, %v: want no expiry", l.Token, err)
		}
	})
}

func TestTokenErrors(t *testing.T) {
	bothCaches(t, func(t *testing.T, cached bool) {
		env := newTestServer(t)
		if cached {
			env.cacheApps()
		}
		app := env.createApp(apps.NewApplication{})
		disabled := env.createApp(apps.NewApplication{})
		env.update(disabled.ClientID, func(a *store.Application) { a.Enabled = false })
		fenced := env.createApp(apps.NewApplication{IPAllowlist: []string{"10.0.0.0/8", "2001:db8::1"}})

		cc := url.Values{"grant_type": {"client_credentials"}}
		with := func(form url.Values, auth string) func() *http.Request {
			return func() *http.Request {
				r := formRequest("/oauth/token", form)
				if auth != "" {
					r.Header.Set("Authorization", auth)
				}
				return r
			}
		}
		good := basic(app.ClientID, app.Secret)

		tests := []struct {
			name   string
			req    func() *http.Request
			status int
			code   string
			desc   string // substring of error_description
		}{
			{"wrong secret", with(cc, basic(app.ClientID, app.Secret+"x")), 401, "invalid_client", "client authentication failed"},
			{"unknown client", with(cc, basic("nosuchclient", app.Secret)), 401, "invalid_client", "client authentication failed"},
			{"secret of another application", with(cc, basic(disabled.ClientID, app.Secret)), 401, "invalid_client", ""},
			{"disabled application", with(cc, basic(disabled.ClientID, disabled.Secret)), 401, "invalid_client", ""},
			{"address not in allowlist", with(cc, basic(fenced.ClientID, fenced.Secret)), 401, "invalid_client", ""},
			{"no credentials", with(cc, ""), 401, "invalid_client", ""},
			{"client_id without secret", with(url.Values{"grant_type": {"client_credentials"}, "client_id": {app.ClientID}}, ""), 401, "invalid_client", ""},
			{"empty secret", with(cc, basic(app.ClientID, "")), 401, "invalid_client", ""},
			{"bearer scheme", with(cc, "Bearer abc"), 401, "invalid_client", ""},
			{"basic, bad base64", with(cc, "Basic !!!"), 401, "invalid_client", ""},
			{"basic, no colon", with(cc, "Basic "+b64("justid")), 401, "invalid_client", ""},
			{"basic, bad percent-encoding", with(cc, "Basic "+b64("%zz:secret")), 401, "invalid_client", ""},
			{"client_id with hash-tag characters", with(cc, basic("{x}", "s")), 401, "invalid_client", ""},
			{"huge client_id", with(cc, basic(strings.Repeat("a", 4000), "s")), 401, "invalid_client", ""},
			{"both basic and post", with(url.Values{"grant_type": {"client_credentials"}, "client_id": {app.ClientID}, "client_secret": {app.Secret}}, good), 400, "invalid_request", "one client authentication method"},
			{"body client_id differs from header", with(url.Values{"grant_type": {"client_credentials"}, "client_id": {"other"}}, good), 400, "invalid_request", "differs"},
			{"missing grant_type", with(url.Values{}, good), 400, "invalid_request", "grant_type is required"},
			{"unsupported grant_type", with(url.Values{"grant_type": {"password"}}, good), 400, "unsupported_grant_type", "client_credentials"},
			{"unsupported grant_type, bad secret: secret first", with(url.Values{"grant_type": {"password"}}, basic(app.ClientID, "nope")), 401, "invalid_client", ""},
			{"scope not allowed", with(url.Values{"grant_type": {"client_credentials"}, "scope": {"sms viber"}}, good), 400, "invalid_scope", "viber"},
			{"scope not allowed, bad secret: secret first", with(url.Values{"grant_type": {"client_credentials"}, "scope": {"viber"}}, basic(app.ClientID, "nope")), 401, "invalid_client", ""},
			{"reserved scope the application lacks", with(url.Values{"grant_type": {"client_credentials"}, "scope": {"tokens:introspect"}}, good), 400, "invalid_scope", "tokens:introspect"},
			{"malformed scope", with(url.Values{"grant_type": {"client_credentials"}, "scope": {`sms "x"`}}, good), 400, "invalid_scope", "scope-token"},
			{"repeated grant_type", with(url.Values{"grant_type": {"client_credentials", "client_credentials"}}, good), 400, "invalid_request", "repeated"},
			{"repeated scope", with(url.Values{"grant_type": {"client_credentials"}, "scope": {"sms", "groups"}}, good), 400, "invalid_request", "repeated"},
			{"json body", func() *http.Request {
				r := formRequest("/oauth/token", cc)
				r.Header.Set("Content-Type", "application/json")
				r.Header.Set("Authorization", good)
				return r
			}, 400, "invalid_request", "Content-Type"},
			{"no content type", func() *http.Request {
				r := formRequest("/oauth/token", cc)
				r.Header.Del("Content-Type")
				r.Header.Set("Authorization", good)
				return r
			}, 400, "invalid_request", "Content-Type"},
			{"parameters in the query", func() *http.Request {
				r := formRequest("/oauth/token?grant_type=client_credentials", url.Values{})
				r.Header.Set("Authorization", good)
				return r
			}, 400, "invalid_request", "body"},
			{"malformed form", func() *http.Request {
				r := formRequest("/oauth/token", nil)
				r.Body = io.NopCloser(strings.NewReader("grant_type=%zz"))
				r.Header.Set("Authorization", good)
				return r
			}, 400, "invalid_request", "malformed form"},
			{"body too large", func() *http.Request {
				r := formRequest("/oauth/token", url.Values{"grant_type": {"client_credentials"}, "pad": {strings.Repeat("a", 20<<10)}})
				r.Header.Set("Authorization", good)
				return r
			}, 413, "invalid_request", "16 KiB"},
			{"two Authorization headers", func() *http.Request {
				r := formRequest("/oauth/token", cc)
				r.Header.Add("Authorization", good)
				r.Header.Add("Authorization", good)
				return r
			}, 400, "invalid_request", "one Authorization"},
			{"GET", func() *http.Request {
				r := formRequest("/oauth/token", cc)
				r.Method = http.MethodGet
				return r
			}, 405, "invalid_request", "GET"},
		}

		var invalidClientBody string
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				w := env.do(tt.req())
				if w.Code != tt.status {
					t.Fatalf("status %d, want %d; body %s", w.Code, tt.status, w.Body)
				}
				raw := w.Body.String()
				body := decode[oauthError](t, strings.NewReader(raw))
				if body.Error != tt.code || !strings.Contains(body.Description, tt.desc) {
					t.Fatalf("answer %+v, want %s containing %q", body, tt.code, tt.desc)
				}
				if w.Header().Get("Content-Type") != "application/json" || w.Header().Get("Cache-Control") != "no-store" {
					t.Errorf("headers %v", w.Header())
				}
				if tt.status == 401 {
					if got := w.Header().Get("WWW-Authenticate"); got != `Basic realm="oauthd"` {
						t.Errorf("WWW-Authenticate = %q", got)
					}
					// Every authentication failure reads the same, so a
					// caller cannot probe which client ids exist.
					if invalidClientBody == "" {
						invalidClientBody = raw
					} else if raw != invalidClientBody {
						t.Errorf("invalid_client answers differ:\n%s\n%s", raw, invalidClientBody)
					}
				} else if w.Header().Get("WWW-Authenticate") != "" {
					t.Errorf("WWW-Authenticate on a %d", w.Code)
				}
				if strings.Contains(raw, app.Secret) {
					t.Error("answer echoes the secret")
				}
			})
		}
	})
}

func TestTokenAllowlist(t *testing.T) {
	bothCaches(t, func(t *testing.T, cached bool) {
		env := newTestServer(t)
		if cached {
			env.cacheApps()
		}
		fenced := env.createApp(apps.NewApplication{IPAllowlist: []string{"10.0.0.0/8", "2001:db8::1"}})
		tests := []struct {
			remote string
			status int
		}{
			{"10.1.2.3:5000", 200},
			{"[::ffff:10.1.2.3]:5000", 200}, // IPv4-mapped from a dual-stack socket
			{"[2001:db8::1]:5000", 200},
			{"11.0.0.1:5000", 401},
			{"[2001:db8::2]:5000", 401},
			{"garbage", 401},
		}
		for _, tt := range tests {
			r := formRequest("/oauth/token", url.Values{"grant_type": {"client_credentials"}})
			r.Header.Set("Authorization", basic(fenced.ClientID, fenced.Secret))
			r.Header.Set("X-Forwarded-For", "10.0.0.1") // must not be trusted
			r.RemoteAddr = tt.remote
			if w := env.do(r); w.Code != tt.status {
				t.Errorf("from %s: status %d, want %d (%s)", tt.remote, w.Code, tt.status, w.Body)
			}
		}
		// Refused from outside, no record stays (the store may have
		// written it with the application it read, then deleted it).
		if list, _, err := env.store.ListTokens(context.Background(), fenced.ClientID, 10, time.Now()); err != nil || len(list) != 3 {
			t.Errorf("records after 3 tokens and 3 refusals: %d, %v", len(list), err)
		}
	})
}

func TestTokenRedisDown(t *testing.T) {
	env := newTestServer(t)
	app := env.createApp(apps.NewApplication{})
	env.redis.Stop()
	r := formRequest("/oauth/token", url.Values{"grant_type": {"client_credentials"}})
	r.Header.Set("Authorization", basic(app.ClientID, app.Secret))
	w := env.do(r)
	if w.Code != http.StatusServiceUnavailable {
		t.Fatalf("status %d, want 503: %s", w.Code, w.Body)
	}
	if body := decode[oauthError](t, w.Body); body.Error != "temporarily_unavailable" {
		t.Fatalf("answer %+v", body)
	}
	if w.Header().Get("Retry-After") == "" {
		t.Error("503 without Retry-After")
	}
}

// A write that fails after the application was read must not be answered
// with a token: the client would hold a token that introspection never
// knew.
func TestTokenNotAnsweredWhenWriteFails(t *testing.T) {
	env := newTestServer(t)
	app := env.createApp(apps.NewApplication{})
	srv, err := New(Config{Catalogue: env.srv.cfg.Catalogue}, failingWrites{env.store})
	if err != nil {
		t.Fatal(err)
	}
	r := formRequest("/oauth/token", url.Values{"grant_type": {"client_credentials"}})
	r.Header.Set("Authorization", basic(app.ClientID, app.Secret))
	w := httptest.NewRecorder()
	srv.Handler().ServeHTTP(w, r)
	if w.Code != http.StatusServiceUnavailable || strings.Contains(w.Body.String(), "access_token") {
		t.Fatalf("status %d body %s: want 503 without a token", w.Code, w.Body)
	}
}

// failingWrites reads and checks the application, then fails the write.
type failingWrites struct{ Store }

func (f failingWrites) IssueToken(ctx context.Context, r store.TokenRequest, check func(*store.Application) (store.Grant, error)) (store.Issued, error) {
	app, err := f.GetApplication(ctx, r.ClientID)
	if err != nil {
		return store.Issued{}, err
	}
	if _, err := check(&app); err != nil {
		return store.Issued{}, err
	}
	return store.Issued{}, store.ErrUnavailable
}

// The public listener's probes are mounted by cmd (web.AddHealth); an
// unknown path here is a JSON 404 pointing at the metadata.
func TestUnknownRoute(t *testing.T) {
	env := newTestServer(t)
	w := env.do(getRequest("/nope"))
	if w.Code != 404 || decode[oauthError](t, w.Body).Error != "not_found" {
		t.Fatalf("unknown route: %d", w.Code)
	}
}

// Tokens of the earlier format (43 random characters, the digest of the
// whole token), filed as the token endpoint filed them before, keep
// working: introspection, listing, revocation; never-expiring ones too.
func TestEarlierFormatTokens(t *testing.T) {
	env := newTestServer(t)
	rs := env.createApp(apps.NewApplication{Scopes: []string{"tokens:introspect"}})
	ctx := context.Background()
	for _, lifetime := range []string{"1h", "never"} {
		app := env.createApp(apps.NewApplication{Scopes: []string{"sms"}, TokenLifetime: lifetime})
		now := time.Now()
		rec := store.Token{ClientID: app.ClientID, Scopes: []string{"sms"}, IssuedAt: now, Generation: app.Generation}
		if app.TokenLifetime > 0 {
			rec.ExpiresAt = now.Add(app.TokenLifetime)
		}
		raw := credential.TokenPrefix + app.ClientID + "_" + store.FormatBucket(rec.Bucket()) + "_" + strings.Repeat("E", 43)
		ref := store.TokenRef{ClientID: app.ClientID, Bucket: rec.Bucket(), Digest: store.Sum(raw)}
		rec.ID = ref.JTI()
		if err := env.store.CreateToken(ctx, ref, rec); err != nil {
			t.Fatal(err)
		}
		if code, body := env.introspect(rs, url.Values{"token": {raw}}); code != 200 || !strings.Contains(body, `"active":true`) || !strings.Contains(body, rec.ID) {
			t.Fatalf("introspecting an earlier-format token (%s): %d %s", lifetime, code, body)
		}
		list, _, err := env.apps.ListTokens(ctx, app.ClientID, 10)
		if err != nil || len(list) != 1 || list[0].ID != rec.ID {
			t.Fatalf("listing (%s): %+v, %v", lifetime, list, err)
		}
		if code, _ := env.revoke(app, raw); code != 200 {
			t.Fatalf("revoking (%s): %d", lifetime, code)
		}
		if code, body := env.introspect(rs, url.Values{"token": {raw}}); code != 200 || body != `{"active":false}` {
			t.Fatalf("introspecting a revoked earlier-format token (%s): %d %s", lifetime, code, body)
		}
	}
}
