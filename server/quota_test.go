package server

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/oauthd/oauthd/server/apps"
	"github.com/oauthd/oauthd/store/redis"
	"github.com/oauthd/oauthd/store/redis/redistest"
)

// tokenAnswer asks for a token for app and returns the answer.
func (e *testEnv) tokenAnswer(app testApp, form url.Values) *http.Response {
	e.t.Helper()
	form.Set("grant_type", "client_credentials")
	r := formRequest("/oauth/token", form)
	r.Header.Set("Authorization", basic(app.ClientID, app.Secret))
	return e.do(r).Result()
}

// sfItem is one member of a Structured Field list (RFC 9651 §3.1) as a
// client of the RateLimit fields reads it: a string, and its parameters.
type sfItem struct {
	name   string
	params map[string]int64
}

// parseSFList reads a list of string items with integer parameters, the
// shape of draft-ietf-httpapi-ratelimit-headers' two fields, refusing
// anything else, as a strict client would.
func parseSFList(t *testing.T, v string) []sfItem {
	t.Helper()
	var out []sfItem
	for _, member := range strings.Split(v, ",") {
		member = strings.TrimSpace(member)
		if len(member) < 2 || member[0] != '"' {
			t.Fatalf("list member %q is not a string item", member)
		}
		end := strings.IndexByte(member[1:], '"')
		if end < 0 {
			t.Fatalf("list member %q: unterminated string", member)
		}
		it := sfItem{name: member[1 : 1+end], params: map[string]int64{}}
		rest := member[2+end:]
		for rest != "" {
			if rest[0] != ';' {
				t.Fatalf("list member %q: %q where a parameter should start", member, rest)
			}
			kv, tail, _ := strings.Cut(rest[1:], ";")
			if tail != "" {
				tail = ";" + tail
			}
			k, val, ok := strings.Cut(kv, "=")
			n, err := strconv.ParseInt(val, 10, 64)
			if !ok || err != nil || k == "" || strings.ToLower(k) != k {
				t.Fatalf("list member %q: parameter %q is not key=integer", member, kv)
			}
			it.params[k] = n
			rest = tail
		}
		out = append(out, it)
	}
	return out
}

// rateLimit reads a token answer's RateLimit-Policy and RateLimit fields
// as a daemon would: the "issue" policy's quota and window, and what is
// left and when it is whole. ok is false when the answer carries none.
func rateLimit(t *testing.T, h http.Header) (q, w, r, reset int64, ok bool) {
	t.Helper()
	pol, cur := h.Get("RateLimit-Policy"), h.Get("RateLimit")
	if pol == "" && cur == "" {
		return 0, 0, 0, 0, false
	}
	p, c := parseSFList(t, pol), parseSFList(t, cur)
	if len(p) != 1 || len(c) != 1 || p[0].name != "issue" || c[0].name != "issue" {
		t.Fatalf("RateLimit-Policy %q, RateLimit %q: want one issue policy in each", pol, cur)
	}
	return p[0].params["q"], p[0].params["w"], c[0].params["r"], c[0].params["t"], true
}

// takeTokens asks for n tokens for app and returns the statuses.
func (e *testEnv) takeTokens(app testApp, n int) []int {
	var out []int
	for range n {
		out = append(out, e.tokenAnswer(app, url.Values{}).StatusCode)
	}
	return out
}

func statuses(ok, refused int) []int {
	return append(slices.Repeat([]int{200}, ok), slices.Repeat([]int{429}, refused)...)
}

// An application's own quota holds it instead of limits.issue: a higher
// one, or none; a resource server's own introspection budget instead of
// limits.introspect. Each is refused past its own.
func TestQuotaPerApplication(t *testing.T) {
	bothCaches(t, func(t *testing.T, cached bool) {
		limits := redis.LimitsConfig{Issue: redis.Rate{N: 3, Per: time.Hour}, Introspect: redis.Rate{N: 2, Per: time.Hour}}
		env := newTestServerOn(t, redistest.Mini, &limits)
		if cached {
			env.cacheApps()
		}
		dflt := env.createApp(apps.NewApplication{})
		own := env.createApp(apps.NewApplication{TokenQuota: "5/1h"})
		free := env.createApp(apps.NewApplication{TokenQuota: "unlimited"})
		if got := env.takeTokens(dflt, 4); !slices.Equal(got, statuses(3, 1)) {
			t.Errorf("the global quota (3/h): %v", got)
		}
		if got := env.takeTokens(own, 6); !slices.Equal(got, statuses(5, 1)) {
			t.Errorf("its own quota (5/h): %v", got)
		}
		if got := env.takeTokens(free, 8); !slices.Equal(got, statuses(8, 0)) {
			t.Errorf("unlimited: %v", got)
		}
		if _, _, _, _, ok := rateLimit(t, env.tokenAnswer(free, url.Values{}).Header); ok {
			t.Error("an unlimited application's answer carries RateLimit fields")
		}

		tok := env.issue(free, "")
		rsDefault := env.createApp(apps.NewApplication{Scopes: []string{"tokens:introspect"}})
		rsOwn := env.createApp(apps.NewApplication{Scopes: []string{"tokens:introspect"}, IntrospectionQuota: "4/1h"})
		for rs, want := range map[*testApp][]int{&rsDefault: statuses(2, 1), &rsOwn: statuses(4, 1)} {
			var got []int
			for range len(want) {
				code, _ := env.introspect(*rs, url.Values{"token": {tok}})
				got = append(got, code)
			}
			if !slices.Equal(got, want) {
				t.Errorf("introspections of %s: %v, want %v", rs.ClientID, got, want)
			}
		}
	})
}

// A quota in monitor mode, the application's own or the global default,
// refuses nothing: each request past it is logged (token.quota_exceeded,
// monitor) and counted (oauthd_quota_monitored_total), never refused; an
// application that enforces under a monitoring default is refused.
func TestQuotaMonitor(t *testing.T) {
	for _, byDefault := range []bool{false, true} {
		t.Run(fmt.Sprintf("monitor by default %v", byDefault), func(t *testing.T) {
			limits := redis.LimitsConfig{Issue: redis.Rate{N: 2, Per: time.Hour}, Monitor: byDefault}
			rec, audit := &recorder{}, &auditLog{}
			env := newTestServerOn(t, redistest.Mini, &limits, func(c *Config) { c.Observer, c.Audit = rec, audit })
			watched := env.createApp(apps.NewApplication{QuotaMode: "monitor"})
			if byDefault {
				watched = env.createApp(apps.NewApplication{})
			}
			enforced := env.createApp(apps.NewApplication{QuotaMode: "enforce"})
			if got := env.takeTokens(watched, 5); !slices.Equal(got, statuses(5, 0)) {
				t.Fatalf("a monitored quota of 2/h: %v, want every token", got)
			}
			if q, _, r, _, ok := rateLimit(t, env.tokenAnswer(watched, url.Values{}).Header); !ok || q != 2 || r != 0 {
				t.Errorf("a monitored quota past its end: q=%d r=%d (fields sent: %v)", q, r, ok)
			}
			if got := env.takeTokens(enforced, 3); !slices.Equal(got, statuses(2, 1)) {
				t.Errorf("an enforced quota: %v", got)
			}
			audit.mu.Lock()
			var monitored, refused int
			for _, e := range audit.events {
				switch {
				case e.Kind != issueQuota:
				case e.ClientID == watched.ClientID && e.Monitor:
					monitored++
				case e.ClientID == enforced.ClientID && !e.Monitor:
					refused++
				default:
					t.Errorf("quota event %+v", e)
				}
			}
			audit.mu.Unlock()
			if monitored != 4 || refused != 1 {
				t.Errorf("%d monitored and %d refused quota events, want 4 and 1", monitored, refused)
			}
			rec.mu.Lock()
			defer rec.mu.Unlock()
			if !slices.Equal(rec.monitored, slices.Repeat([]string{"issue"}, 4)) || !slices.Equal(rec.refusals, []string{"issue"}) {
				t.Errorf("metrics heard monitored %q, refused %q", rec.monitored, rec.refusals)
			}
		})
	}
}

// A daemon reads its budget from every token answer (and the 429 that
// ends it), as draft-ietf-httpapi-ratelimit-headers has them: the policy
// is its application's quota, and what is left goes down with each token.
func TestRateLimitFields(t *testing.T) {
	bothCaches(t, func(t *testing.T, cached bool) {
		limits := redis.LimitsConfig{Issue: redis.Rate{N: 1000, Per: time.Hour}}
		env := newTestServerOn(t, redistest.Mini, &limits)
		if cached {
			env.cacheApps()
		}
		dflt := env.createApp(apps.NewApplication{})
		if q, w, r, _, ok := rateLimit(t, env.tokenAnswer(dflt, url.Values{}).Header); !ok || q != 1000 || w != 3600 || r != 999 {
			t.Errorf("under limits.issue 1000/1h: q=%d w=%d r=%d", q, w, r)
		}
		app := env.createApp(apps.NewApplication{TokenQuota: "40/1h"})
		left := int64(40)
		for i := range 40 {
			res := env.tokenAnswer(app, url.Values{})
			q, w, r, reset, ok := rateLimit(t, res.Header)
			if res.StatusCode != 200 || !ok || q != 40 || w != 3600 {
				t.Fatalf("token %d: %d, policy q=%d w=%d (fields sent: %v)", i+1, res.StatusCode, q, w, ok)
			}
			if r != left-1 || reset < 1 || reset > 3600 {
				t.Fatalf("token %d: r=%d t=%d, want r=%d and t within the window", i+1, r, reset, left-1)
			}
			left = r
		}
		res := env.tokenAnswer(app, url.Values{})
		q, _, r, reset, ok := rateLimit(t, res.Header)
		if res.StatusCode != 429 || !ok || q != 40 || r != 0 || reset < 1 || res.Header.Get("Retry-After") == "" {
			t.Fatalf("past the quota: %d, q=%d r=%d t=%d, Retry-After %q", res.StatusCode, q, r, reset, res.Header.Get("Retry-After"))
		}
	})
}
