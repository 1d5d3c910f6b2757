package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/oauthd/oauthd/server/apps"
	"github.com/oauthd/oauthd/store"
	"github.com/oauthd/oauthd/store/redis"
	"github.com/oauthd/oauthd/store/redis/redistest"
)

// defaultLimits are oauthd's default abuse limits (cmd/oauthd's limits.*).
var defaultLimits = redis.LimitsConfig{
	ClientFailures: redis.Rate{N: 10, Per: time.Minute},
	AddrFailures:   redis.Rate{N: 100, Per: time.Minute},
	Lockout:        time.Minute, MaxLockout: time.Hour,
}

// answer is what a client authentication got.
type answer struct {
	status int
	code   string
	// description with its number of seconds blanked out, and Retry-After
	description string
	retry       int
}

var seconds = regexp.MustCompile(`[0-9]+s`)

// authAt sends id and secret from addr to an endpoint that authenticates
// clients: /oauth/token, /oauth/introspect, /oauth/revoke or the feed.
// Introspection and revocation send token, or a malformed one.
func (e *testEnv) authAt(path, id, secret, addr string, token ...string) answer {
	e.t.Helper()
	var r *http.Request
	switch path {
	case "/oauth/token":
		r = formRequest(path, url.Values{"grant_type": {"client_credentials"}})
	case FeedPath:
		r = getRequest(path)
	default:
		r = formRequest(path, url.Values{"token": append(token, "oat_x_1_x")[:1]})
	}
	r.Header.Set("Authorization", basic(id, secret))
	r.RemoteAddr = addr + ":40000"
	w := e.do(r)
	a := answer{status: w.Code}
	if w.Code != http.StatusOK {
		body := decode[oauthError](e.t, w.Body)
		a.code, a.description = body.Error, seconds.ReplaceAllString(body.Description, "Ns")
		a.retry, _ = strconv.Atoi(w.Header().Get("Retry-After"))
	}
	return a
}

// sameAnswer fails unless a wrong and the right secret got the same 429:
// the same error and description, and Retry-After within a second (the
// two were computed a moment apart from the same lock).
func sameAnswer(t *testing.T, what string, wrong, right answer) {
	t.Helper()
	if wrong.status != http.StatusTooManyRequests || right.status != wrong.status || right.code != wrong.code ||
		right.description != wrong.description || right.retry < wrong.retry-1 || right.retry > wrong.retry+1 {
		t.Fatalf("%s: a wrong secret got %+v, the right one %+v: the answer tells them apart", what, wrong, right)
	}
}

// stubFeed serves the feed route; every test here expects a refusal
// before it is subscribed to.
type stubFeed struct{}

func (stubFeed) Subscribe(context.Context, string) (store.FeedSubscription, error) {
	return nil, errors.New("the feed was reached")
}

// The attack of issue 17, item 1 (1), replayed end to end: lock an
// address out with 110 invented client_ids, then guess a real client's
// secret 1,000 times from it. Before, every guess got 429 uncounted and
// the right secret then got 200. Now the right secret gets the same 429
// as a wrong one, at the token endpoint, introspection, revocation and
// the revocation feed, and a daemon elsewhere is untouched.
func TestAddressLockIsNoOracle(t *testing.T) {
	for _, kind := range redistest.Kinds {
		t.Run(string(kind), func(t *testing.T) {
			bothCaches(t, func(t *testing.T, cached bool) {
				env := newTestServerOn(t, kind, &defaultLimits, func(c *Config) { c.Feed = stubFeed{} })
				if cached {
					env.cacheApps()
				}
				app := env.createApp(apps.NewApplication{Scopes: []string{"sms"}})
				rs := env.createApp(apps.NewApplication{Scopes: []string{"tokens:introspect"}})
				const attacker, daemon = "198.51.100.66", "203.0.113.5"
				_, tok := env.issueFrom(app, daemon)
				var a answer
				for i := range 110 {
					a = env.authAt("/oauth/token", fmt.Sprintf("invented%d", i), "ocs_guess", attacker)
				}
				if a.status != http.StatusTooManyRequests {
					t.Fatalf("110 invented client_ids from one address: %+v, want it locked out", a)
				}
				for i := range 1000 {
					if a = env.authAt("/oauth/token", app.ClientID, fmt.Sprintf("ocs_guess%d", i), attacker); a.status != http.StatusTooManyRequests {
						t.Fatalf("wrong guess %d from the locked address: %+v, want 429", i+1, a)
					}
				}
				sameAnswer(t, "token", env.authAt("/oauth/token", app.ClientID, "ocs_wrong", attacker),
					env.authAt("/oauth/token", app.ClientID, app.Secret, attacker))
				sameAnswer(t, "revocation", env.authAt("/oauth/revoke", app.ClientID, "ocs_wrong", attacker),
					env.authAt("/oauth/revoke", app.ClientID, app.Secret, attacker))
				sameAnswer(t, "introspection", env.authAt("/oauth/introspect", rs.ClientID, "ocs_wrong", attacker),
					env.authAt("/oauth/introspect", rs.ClientID, rs.Secret, attacker))
				sameAnswer(t, "introspecting a token", env.authAt("/oauth/introspect", rs.ClientID, "ocs_wrong", attacker, tok),
					env.authAt("/oauth/introspect", rs.ClientID, rs.Secret, attacker, tok))
				sameAnswer(t, "feed", env.authAt(FeedPath, rs.ClientID, "ocs_wrong", attacker),
					env.authAt(FeedPath, rs.ClientID, rs.Secret, attacker))
				if a := env.authAt("/oauth/token", app.ClientID, app.Secret, daemon); a.status != http.StatusOK {
					t.Fatalf("the daemon from its own address: %+v, want 200", a)
				}
			})
		})
	}
}

// auditLog records security events.
type auditLog struct {
	mu     sync.Mutex
	events []store.SecurityEvent
}

func (a *auditLog) Security(_ context.Context, e store.SecurityEvent) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.events = append(a.events, e)
}

func (a *auditLog) count(kind, clientID, reason string) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	n := 0
	for _, e := range a.events {
		if e.Kind == kind && e.ClientID == clientID && e.Reason == reason {
			n++
		}
	}
	return n
}

// The attack of issue 17, item 1 (2), replayed end to end: 30 addresses ×
// 10 wrong guesses against one client, each address within
// limits.client_failures. With the default ceiling (300 an hour) the
// 300 are answered, and then the client is locked out from every
// address (a siege, in the audit log): a wrong guess and the right secret
// from a new address get the same 429, at every endpoint that
// authenticates clients. A client with an IP allowlist is besieged the
// same way, but not inside its allowlist.
func TestDistributedGuessingCeiling(t *testing.T) {
	for _, kind := range redistest.Kinds {
		t.Run(string(kind), func(t *testing.T) {
			bothCaches(t, func(t *testing.T, cached bool) {
				limits := defaultLimits
				limits.ClientCeiling = redis.Rate{N: 300, Per: time.Hour}
				audit := &auditLog{}
				env := newTestServerOn(t, kind, &limits, func(c *Config) { c.Feed, c.Audit = stubFeed{}, audit })
				if cached {
					env.cacheApps()
				}
				app := env.createApp(apps.NewApplication{Scopes: []string{"sms", "tokens:introspect"}})
				fenced := env.createApp(apps.NewApplication{Scopes: []string{"sms"}, IPAllowlist: []string{"10.0.0.0/8"}})
				_, tok := env.issueFrom(app, "203.0.113.5")
				for _, target := range []testApp{app, fenced} {
					for a := range 30 {
						for i := range 10 {
							if got := env.authAt("/oauth/token", target.ClientID, fmt.Sprintf("ocs_guess%d", i), fmt.Sprintf("198.51.100.%d", a)); got.status != http.StatusUnauthorized {
								t.Fatalf("address %d, guess %d: %+v, want 401", a, i+1, got)
							}
						}
					}
				}
				for _, path := range []string{"/oauth/token", "/oauth/revoke", "/oauth/introspect", FeedPath} {
					sameAnswer(t, path, env.authAt(path, app.ClientID, "ocs_wrong", "192.0.2.1"), env.authAt(path, app.ClientID, app.Secret, "192.0.2.2"))
				}
				sameAnswer(t, "introspecting a token", env.authAt("/oauth/introspect", app.ClientID, "ocs_wrong", "192.0.2.1", tok),
					env.authAt("/oauth/introspect", app.ClientID, app.Secret, "192.0.2.2", tok))
				if n := audit.count("client.locked_out", app.ClientID, "siege"); n != 1 {
					t.Fatalf("%d client.locked_out events with reason siege, want 1", n)
				}

				sameAnswer(t, "outside the allowlist", env.authAt("/oauth/token", fenced.ClientID, "ocs_wrong", "192.0.2.1"),
					env.authAt("/oauth/token", fenced.ClientID, fenced.Secret, "192.0.2.2"))
				if a := env.authAt("/oauth/token", fenced.ClientID, "ocs_wrong", "10.1.2.3"); a.status != http.StatusUnauthorized {
					t.Fatalf("a wrong secret inside the allowlist during the siege: %+v, want 401", a)
				}
				for _, path := range []string{"/oauth/token", "/oauth/revoke"} {
					if a := env.authAt(path, fenced.ClientID, fenced.Secret, "10.1.2.4"); a.status != http.StatusOK {
						t.Fatalf("%s: the right secret inside the allowlist during the siege: %+v, want 200", path, a)
					}
				}
			})
		})
	}
}

// The attack of issue 17, item 1 (3), replayed end to end: a host with a
// /64 guesses from a new IPv6 address every time. Its addresses share one
// budget: the 11th guess is locked out, the right secret from yet another
// of its addresses gets the same 429, and the next /64 is not held.
func TestIPv6PrefixSharesOneBudget(t *testing.T) {
	for _, kind := range redistest.Kinds {
		t.Run(string(kind), func(t *testing.T) {
			env := newTestServerOn(t, kind, &defaultLimits)
			app := env.createApp(apps.NewApplication{Scopes: []string{"sms"}})
			from := func(net string, h int) string { return fmt.Sprintf("[%s::%x]", net, h) }
			for h := range 10 {
				if a := env.authAt("/oauth/token", app.ClientID, fmt.Sprintf("ocs_guess%d", h), from("2001:db8:1:2", h+1)); a.status != http.StatusUnauthorized {
					t.Fatalf("guess %d: %+v, want 401", h+1, a)
				}
			}
			sameAnswer(t, "the same /64", env.authAt("/oauth/token", app.ClientID, "ocs_wrong", from("2001:db8:1:2", 0xbeef)),
				env.authAt("/oauth/token", app.ClientID, app.Secret, from("2001:db8:1:2", 0xcafe)))
			if a := env.authAt("/oauth/token", app.ClientID, app.Secret, from("2001:db8:1:3", 1)); a.status != http.StatusOK {
				t.Fatalf("the next /64: %+v, want 200", a)
			}
		})
	}
}
