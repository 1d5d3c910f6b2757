package server

import (
	"context"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/oauthd/oauthd/server/apps"
	"github.com/oauthd/oauthd/store"
)

// recorder is an Observer that keeps what it heard.
type recorder struct {
	mu                                                          sync.Mutex
	requests, auth, introspect, iss, locks, refusals, monitored []string
}

func (r *recorder) LockedOut(scope string) {
	r.mu.Lock()
	r.locks = append(r.locks, scope)
	r.mu.Unlock()
}
func (r *recorder) QuotaRefused(budget string) {
	r.mu.Lock()
	r.refusals = append(r.refusals, budget)
	r.mu.Unlock()
}
func (r *recorder) QuotaMonitored(budget string) {
	r.mu.Lock()
	r.monitored = append(r.monitored, budget)
	r.mu.Unlock()
}

func (r *recorder) Request(route, method string, status int, _ time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.requests = append(r.requests, method+" "+route+" "+http.StatusText(status))
}
func (r *recorder) TokenIssued() { r.mu.Lock(); r.iss = append(r.iss, "issued"); r.mu.Unlock() }
func (r *recorder) ClientAuthFailed(reason string) {
	r.mu.Lock()
	r.auth = append(r.auth, reason)
	r.mu.Unlock()
}
func (r *recorder) Introspected(result string) {
	r.mu.Lock()
	r.introspect = append(r.introspect, result)
	r.mu.Unlock()
}

// The observer hears route patterns, never raw paths, and learns issued
// tokens, failed authentications and introspection results from what the
// handlers already record.
func TestObserver(t *testing.T) {
	bothCaches(t, func(t *testing.T, cached bool) {
		rec := &recorder{}
		env := newTestServer(t, func(c *Config) { c.Observer = rec })
		if cached {
			env.cacheApps()
		}
		app := env.createApp(apps.NewApplication{})
		rs := env.createApp(apps.NewApplication{Scopes: []string{"tokens:introspect"}})
		tok := env.issue(app, "")

		bad := formRequest("/oauth/token", url.Values{"grant_type": {"client_credentials"}})
		bad.Header.Set("Authorization", basic(app.ClientID, "ocs_wrong"))
		env.do(bad)
		env.introspect(rs, url.Values{"token": {tok}})
		env.introspect(rs, url.Values{"token": {"oat_" + app.ClientID + "_nosuchtokennosuchtokennosuchtokennosuchtok"}})
		env.introspect(rs, url.Values{"token": {"garbage"}})
		env.do(getRequest("/no/such/path/" + app.ClientID))

		want := []string{
			"POST /oauth/token OK",
			"POST /oauth/token Unauthorized",
			"POST /oauth/introspect OK",
			"POST /oauth/introspect OK",
			"POST /oauth/introspect OK",
			"GET unmatched Not Found",
		}
		if !slices.Equal(rec.requests, want) {
			t.Errorf("requests\n got %q\nwant %q", rec.requests, want)
		}
		if len(rec.iss) != 1 || !slices.Equal(rec.auth, []string{"wrong secret"}) {
			t.Errorf("issued %v, auth failures %q", rec.iss, rec.auth)
		}
		if len(rec.introspect) != 3 || rec.introspect[0] != "active" || rec.introspect[2] != "malformed" || rec.introspect[1] == "active" || rec.introspect[1] == "" {
			t.Errorf("introspections %q", rec.introspect)
		}
	})
}

// scriptedLimits locks out on the first failure and has spent every
// quota, enforced or, with monitor, monitored: what the metrics must hear
// about.
type scriptedLimits struct {
	noLimits
	monitor bool
}

func (scriptedLimits) ClientFailed(context.Context, string, netip.Addr, bool) (store.Lockout, error) {
	return store.Lockout{For: time.Minute, New: true, Scope: "client"}, nil
}
func (l scriptedLimits) TakeIssue(context.Context, *store.Application) (store.Allowance, error) {
	return store.Allowance{Rate: store.Rate{N: 1, Per: time.Hour}, Reset: time.Hour, Wait: time.Second, Monitor: l.monitor}, nil
}
func (l scriptedLimits) TakeIntrospect(ctx context.Context, a *store.Application) (store.Allowance, error) {
	return l.TakeIssue(ctx, a)
}

// Lock-outs and spent quotas reach the observer (oauthd_lockouts_total,
// oauthd_quota_refusals_total) from what the handlers logged.
func TestObserverLimits(t *testing.T) {
	rec := &recorder{}
	env := newTestServer(t, func(c *Config) { c.Observer = rec; c.Limits = scriptedLimits{} })
	app := env.createApp(apps.NewApplication{})
	rs := env.createApp(apps.NewApplication{Scopes: []string{"tokens:introspect"}})
	bad := formRequest("/oauth/token", url.Values{"grant_type": {"client_credentials"}})
	bad.Header.Set("Authorization", basic(app.ClientID, "ocs_wrong"))
	if w := env.do(bad); w.Code != 429 {
		t.Fatalf("wrong secret under a scripted lock-out: %d", w.Code)
	}
	good := formRequest("/oauth/token", url.Values{"grant_type": {"client_credentials"}})
	good.Header.Set("Authorization", basic(app.ClientID, app.Secret))
	if w := env.do(good); w.Code != 429 {
		t.Fatalf("token with the quota spent: %d", w.Code)
	}
	env.introspect(rs, url.Values{"token": {"garbage"}})
	if !slices.Equal(rec.locks, []string{"client"}) || !slices.Equal(rec.refusals, []string{"issue", "introspect"}) {
		t.Errorf("lock-outs %q, quota refusals %q", rec.locks, rec.refusals)
	}
	// A refused introspection is the resource server's problem, not an
	// error of oauthd's (the IntrospectionErrors alert counts errors).
	if !slices.Equal(rec.introspect, []string{"refused"}) {
		t.Errorf("introspections %q, want one refused", rec.introspect)
	}
}
