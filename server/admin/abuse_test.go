package admin

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/oauthd/oauthd/server/apps"
	"github.com/oauthd/oauthd/store/redis"
)

// tokenFrom asks for a token from addr and returns the status, the
// Retry-After header and the error code.
func (e *adminEnv) tokenFrom(id, secret, addr string) (int, string, string) {
	r := formRequest("/oauth/token", url.Values{"grant_type": {"client_credentials"}})
	r.Header.Set("Authorization", basic(id, secret))
	r.RemoteAddr = addr + ":5555"
	w := e.do(r)
	var code string
	if w.Code != 200 {
		code, _ = decode[map[string]any](e.t, w.Body)["error"].(string)
	}
	return w.Code, w.Header().Get("Retry-After"), code
}

// The attack of issue 8, item 1, replayed: a flood of failed
// authentications with invented client ids cannot push an admin change out
// of the audit log, and is aggregated into a few events per source.
func TestAuditLogSurvivesFlood(t *testing.T) {
	env := newAdminEnvWith(t, redis.Options{MaxEvents: 50, MaxSecurityEvents: 50}, nil)
	code, created := env.call(adminKey, "POST", "/applications", map[string]any{"name": "precious", "scopes": []string{"sms"}})
	if code != 201 {
		t.Fatal(code)
	}
	id := created["client_id"].(string)
	const flood = 3000
	for i := range flood {
		addr := fmt.Sprintf("198.51.100.%d", i%3) // three hosts
		if code, _, _ := env.tokenFrom(fmt.Sprintf("invented%d", i), "ocs_guess", addr); code != 401 {
			t.Fatalf("failure %d answered %d", i, code)
		}
	}
	env.clk.advance(2 * apps.DefaultSecurityEvery)
	env.apps.Flush(context.Background())

	_, list := env.call(adminKey, "GET", "/events?limit=500", nil)
	_, security := env.call(adminKey, "GET", "/events?log=security&limit=500", nil)
	var created_, failures, counted int
	for _, e := range append(list["events"].([]any), security["events"].([]any)...) {
		ev := e.(map[string]any)
		switch ev["kind"] {
		case "application.created":
			if ev["client_id"] == id {
				created_++
			}
		case "client.auth_failed":
			failures++
			counted += int(ev["detail"].(map[string]any)["count"].(float64))
			if ev["client_id"] != nil && ev["client_id"] != "" {
				t.Errorf("an event about an invented id keys on it: %v", ev)
			}
		}
	}
	if created_ != 1 {
		t.Fatalf("the admin change is gone from the audit log after %d failed authentications", flood)
	}
	if failures > 6 || counted != flood {
		t.Fatalf("%d failure events counting %d failures; want at most 2 per source, counting all %d", failures, counted, flood)
	}
}

// The attacks of issue 8, item 2, replayed: wrong secrets lock the
// (client, address) pair out with a growing 429; the daemon elsewhere
// keeps working; the pair stays locked even for the right secret; a
// daemon fetching a token per request runs into its quota and is told to
// cache; every one of these is in the audit log, aggregated.
func TestBruteForceAndQuota(t *testing.T) {
	env := newAdminEnvWith(t, redis.Options{}, &redis.LimitsConfig{
		ClientFailures: redis.Rate{N: 5, Per: time.Minute},
		AddrFailures:   redis.Rate{N: 100, Per: time.Minute},
		Lockout:        time.Minute, MaxLockout: time.Hour,
		Issue: redis.Rate{N: 20, Per: time.Hour},
	})
	app := env.createApp(apps.NewApplication{Scopes: []string{"sms"}})
	const attacker, daemon = "198.51.100.66", "203.0.113.5"
	for i := range 5 {
		if code, _, _ := env.tokenFrom(app.ClientID, fmt.Sprintf("ocs_guess%d", i), attacker); code != 401 {
			t.Fatalf("guess %d: %d, want 401", i, code)
		}
	}
	code, retry, errCode := env.tokenFrom(app.ClientID, "ocs_guess6", attacker)
	if code != 429 || retry != "60" || errCode != "slow_down" {
		t.Fatalf("6th guess: %d Retry-After %q %s; want 429, 60, slow_down", code, retry, errCode)
	}
	if code, _, _ := env.tokenFrom(app.ClientID, app.Secret, attacker); code != 429 {
		t.Fatalf("the right secret from the locked address: %d, want 429", code)
	}
	if code, _, _ := env.tokenFrom(app.ClientID, app.Secret, daemon); code != 200 {
		t.Fatalf("the daemon from its own address: %d, want 200 (an attacker elsewhere must not lock it out)", code)
	}
	// Introspection and revocation credentials are held to the same lock.
	rs := env.createApp(apps.NewApplication{Scopes: []string{"tokens:introspect"}})
	for i := range 6 {
		r := formRequest("/oauth/introspect", url.Values{"token": {"x"}})
		r.Header.Set("Authorization", basic(rs.ClientID, fmt.Sprintf("wrong%d", i)))
		r.RemoteAddr = attacker + ":1"
		env.do(r)
	}
	r := formRequest("/oauth/introspect", url.Values{"token": {"x"}})
	r.Header.Set("Authorization", basic(rs.ClientID, rs.Secret))
	r.RemoteAddr = attacker + ":1"
	if w := env.do(r); w.Code != 429 {
		t.Fatalf("introspection with the right secret from a locked address: %d", w.Code)
	}

	// The quota: 20 tokens an hour, one already used above.
	var last int
	var body string
	for i := range 25 {
		rq := formRequest("/oauth/token", url.Values{"grant_type": {"client_credentials"}})
		rq.Header.Set("Authorization", basic(app.ClientID, app.Secret))
		rq.RemoteAddr = daemon + ":1"
		w := env.do(rq)
		if last = w.Code; w.Code == 429 {
			body = w.Body.String()
			if i < 18 {
				t.Fatalf("quota refused token %d", i+2)
			}
			break
		}
	}
	if last != 429 || !strings.Contains(body, "cache each token") {
		t.Fatalf("a daemon fetching a token per request: last %d %s; want 429 telling it to cache", last, body)
	}

	env.clk.advance(2 * apps.DefaultSecurityEvery)
	env.apps.Flush(context.Background())
	_, list := env.call(adminKey, "GET", "/events?log=security&limit=500", nil)
	kinds := map[string]int{}
	for _, e := range list["events"].([]any) {
		kinds[e.(map[string]any)["kind"].(string)]++
	}
	for _, k := range []string{"client.auth_failed", "client.locked_out", "token.quota_exceeded"} {
		if kinds[k] == 0 || kinds[k] > 6 {
			t.Errorf("%d %s events, want a few (aggregated): %v", kinds[k], k, kinds)
		}
	}

	// Fail closed: with Redis gone a failure is not 401 (uncounted) but 503.
	env.redis.Stop()
	if code, _, errCode := env.tokenFrom(app.ClientID, "ocs_guess7", "192.0.2.77"); code != 503 || errCode != "temporarily_unavailable" {
		t.Fatalf("a wrong secret with Redis down: %d %s, want 503", code, errCode)
	}
}

// Issue 17, item 5, replayed: after failed authentications from 600
// addresses (each a source of its own, so aggregation keeps 600 events),
// the default GET /events?limit=500 listed the two logs merged and held
// none of the admin changes. The listing now shows admin changes by
// default, and security events with log=security (or a security kind).
func TestEventsListAdminChangesByDefault(t *testing.T) {
	env := newAdminEnv(t)
	code, created := env.call(adminKey, "POST", "/applications", map[string]any{"name": "precious", "scopes": []string{"sms"}})
	if code != 201 {
		t.Fatal(code)
	}
	const sources = 600
	for i := range sources {
		env.tokenFrom("invented", "ocs_guess", fmt.Sprintf("198.51.%d.%d", i/250, i%250))
	}
	kinds := func(query string) (map[string]int, map[string]any) {
		t.Helper()
		code, list := env.call(adminKey, "GET", "/events"+query, nil)
		if code != 200 {
			t.Fatalf("GET /events%s: %d %v", query, code, list)
		}
		n := map[string]int{}
		for _, e := range list["events"].([]any) {
			n[e.(map[string]any)["kind"].(string)]++
		}
		return n, list
	}
	n, _ := kinds("?limit=500")
	if n["application.created"] != 1 || n["client.auth_failed"] != 0 {
		t.Fatalf("GET /events?limit=500 after the flood: %v; want the admin change and no security event", n)
	}
	n, list := kinds("?log=security&limit=500")
	if n["client.auth_failed"] != 500 || len(n) != 1 || list["next_cursor"] == nil {
		t.Fatalf("GET /events?log=security&limit=500: %v, next %v; want 500 failures and more", n, list["next_cursor"])
	}
	if n, _ := kinds("?log=admin"); n["application.created"] != 1 || len(n) != 1 {
		t.Fatalf("GET /events?log=admin: %v", n)
	}
	// A kind names its log: asking for a security kind lists that log.
	if n, _ := kinds("?kind=client.auth_failed&limit=10"); n["client.auth_failed"] != 10 {
		t.Fatalf("GET /events?kind=client.auth_failed: %v", n)
	}
	if n, _ := kinds("?kind=application.created&client_id=" + created["client_id"].(string)); n["application.created"] != 1 {
		t.Fatalf("GET /events?kind=application.created&client_id=...: %v", n)
	}
	for _, q := range []struct{ query, field string }{
		{"?log=audit", "log"},
		{"?log=admin&kind=client.auth_failed", "kind"},
		{"?log=security&kind=secret.reset", "kind"},
	} {
		if code, body := env.call(adminKey, "GET", "/events"+q.query, nil); code != 400 || body["field"] != q.field {
			t.Errorf("GET /events%s: %d %v, want 400 on %s", q.query, code, body, q.field)
		}
	}
}
