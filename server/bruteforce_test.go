package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
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
func (e *testEnv) authAt(path, id, secret, addr string) answer {
	e.t.Helper()
	var r *http.Request
	switch path {
	case "/oauth/token":
		r = formRequest(path, url.Values{"grant_type": {"client_credentials"}})
	case FeedPath:
		r = getRequest(path)
	default:
		r = formRequest(path, url.Values{"token": {"oat_x_1_x"}})
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
			env := newTestServerOn(t, kind, &defaultLimits, func(c *Config) { c.Feed = stubFeed{} })
			app := env.createApp(apps.NewApplication{Scopes: []string{"sms"}})
			rs := env.createApp(apps.NewApplication{Scopes: []string{"tokens:introspect"}})
			const attacker, daemon = "198.51.100.66", "203.0.113.5"
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
			sameAnswer(t, "feed", env.authAt(FeedPath, rs.ClientID, "ocs_wrong", attacker),
				env.authAt(FeedPath, rs.ClientID, rs.Secret, attacker))
			if a := env.authAt("/oauth/token", app.ClientID, app.Secret, daemon); a.status != http.StatusOK {
				t.Fatalf("the daemon from its own address: %+v, want 200", a)
			}
		})
	}
}
