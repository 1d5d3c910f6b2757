package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/oauthd/oauthd/store/redis/redistest"
)

// The attacks of issue 17, item 1, replayed against the whole program with
// its default limits (no limits.* set), behind a proxy it trusts so each
// request can come from its own address: an address locked out with
// invented client_ids is no oracle; 30 addresses × 10 guesses bring the
// client-wide ceiling down on it; the addresses of one IPv6 /64 share a
// budget; a weak secret cannot be imported, through the admin API or
// straight into Redis.
func TestBruteForceWholeProgram(t *testing.T) {
	t.Parallel()
	for _, kind := range redistest.Kinds {
		t.Run(string(kind), func(t *testing.T) {
			rs := startScannedRedis(t, kind)
			key, digest := newAdminKey(t)
			p := startOAuthd(t, map[string]string{"OAUTHD_ADMIN_KEY_SHA256": digest}, "--redis-url", rs.URL, "--http-trusted-proxies", "127.0.0.1/32")
			remote := map[string]string{"OAUTHD_ENDPOINT": p.URL, "OAUTHD_ADMIN_KEY": key}
			create := func(name string) app {
				t.Helper()
				out, err := runCLI(t, remote, "apps", "create", "--json", "--name", name, "--scopes", "sms")
				var a app
				if err != nil || json.Unmarshal([]byte(out), &a) != nil || a.ClientSecret == "" {
					t.Fatalf("create %s: %v\n%s", name, err, out)
				}
				return a
			}
			// token asks for a token as id from addr; it returns the status
			// and Retry-After.
			token := func(id, secret, addr string) (int, string) {
				t.Helper()
				req, err := http.NewRequest(http.MethodPost, p.URL+"/oauth/token", strings.NewReader("grant_type=client_credentials"))
				if err != nil {
					t.Fatal(err)
				}
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				req.Header.Set("Authorization", basicAuth(id, secret))
				req.Header.Set("X-Forwarded-For", addr)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				return resp.StatusCode, resp.Header.Get("Retry-After")
			}
			same := func(what string, wrong, right func() (int, string)) {
				t.Helper()
				ws, wr := wrong()
				rs, rr := right()
				if ws != http.StatusTooManyRequests || rs != ws || (rr != wr && rr != fmt.Sprint(atoi(wr)-1)) {
					t.Fatalf("%s: a wrong secret got %d (Retry-After %s), the right one %d (%s)", what, ws, wr, rs, rr)
				}
			}

			// (1) An address locked with invented client_ids: twice the
			// budget (limits.address_failures, 100/1m), as it refills a
			// failure every 0.6 s and a process starved under -race may
			// send them slowly.
			oracle := create("oracle")
			for i := range 200 {
				token(fmt.Sprint("invented", i), "ocs_guess", "198.51.100.66")
			}
			for i := range 50 {
				if code, _ := token(oracle.ClientID, fmt.Sprint("ocs_guess", i), "198.51.100.66"); code != http.StatusTooManyRequests {
					t.Fatalf("(1) guess %d from the locked address: %d", i+1, code)
				}
			}
			same("(1) the locked address",
				func() (int, string) { return token(oracle.ClientID, "ocs_wrong", "198.51.100.66") },
				func() (int, string) { return token(oracle.ClientID, oracle.ClientSecret, "198.51.100.66") })

			// (2) 30 addresses × 10 guesses: limits.client_ceiling's 300.
			besieged := create("besieged")
			for a := range 30 {
				for i := range 10 {
					if code, _ := token(besieged.ClientID, fmt.Sprint("ocs_guess", i), fmt.Sprint("203.0.113.", a)); code != http.StatusUnauthorized {
						t.Fatalf("(2) address %d, guess %d: %d, want 401", a, i+1, code)
					}
				}
			}
			same("(2) new addresses after 300 guesses",
				func() (int, string) { return token(besieged.ClientID, "ocs_wrong", "192.0.2.1") },
				func() (int, string) { return token(besieged.ClientID, besieged.ClientSecret, "192.0.2.2") })

			// (3) One /64, a new address per guess: limits.ipv6_prefix's 64.
			v6 := create("v6")
			for h := range 10 {
				if code, _ := token(v6.ClientID, fmt.Sprint("ocs_guess", h), fmt.Sprintf("2001:db8:1:2::%x", h+1)); code != http.StatusUnauthorized {
					t.Fatalf("(3) guess %d: %d, want 401", h+1, code)
				}
			}
			same("(3) the same /64",
				func() (int, string) { return token(v6.ClientID, "ocs_wrong", "2001:db8:1:2::beef") },
				func() (int, string) { return token(v6.ClientID, v6.ClientSecret, "2001:db8:1:2::cafe") })
			if code, _ := token(v6.ClientID, v6.ClientSecret, "2001:db8:1:3::1"); code != http.StatusOK {
				t.Fatalf("(3) the next /64: %d, want 200", code)
			}

			// (4) A weak secret, imported through the admin API and
			// straight into Redis: refused, saying what to do.
			weak := filepath.Join(t.TempDir(), "weak.secret")
			if err := os.WriteFile(weak, []byte("password1234567890password123456\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			for mode, env := range map[string]map[string]string{"remote": remote, "direct": {"OAUTHD_REDIS_URL": rs.URL}} {
				out, err := runCLI(t, env, "apps", "import", "weak-"+mode, "--name", "weak", "--scopes", "sms", "--secret-file", weak)
				if err == nil || !strings.Contains(out, "client_secret: too easy to guess") || !strings.Contains(out, "let oauthd generate") {
					t.Fatalf("(4) %s import of a weak secret: %v\n%s", mode, err, out)
				}
			}
		})
	}
}

func atoi(s string) int {
	var n int
	fmt.Sscan(s, &n)
	return n
}
