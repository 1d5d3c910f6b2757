package introspect

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
)

// The middleware sends oauthd the address its caller came from (through
// trusted proxies only), caches answers per token and address, and
// exposes the token's owner.
func TestGateSendsClientIP(t *testing.T) {
	f := newFake(t)
	f.set("tok", answer{http.StatusOK, `{"active":true,"scope":"sms","client_id":"app1","owner":"acct_7"}`})
	cfg := f.config()
	cfg.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var owner string
	h := c.Require("sms")(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		resp, _ := FromContext(r.Context())
		owner = resp.Owner
	}))
	call := func(peer, xff string) (int, string) {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = peer
		r.Header.Set("Authorization", "Bearer tok")
		if xff != "" {
			r.Header.Set("X-Forwarded-For", xff)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		f.mu.Lock()
		defer f.mu.Unlock()
		return w.Code, f.lastForm.Get(ClientIPParam)
	}
	tests := []struct {
		peer, xff, want string
		lookups         int64
	}{
		{"203.0.113.5:1000", "", "203.0.113.5", 1},
		{"203.0.113.5:1001", "", "203.0.113.5", 1},                    // cached for this address
		{"203.0.113.6:1000", "", "203.0.113.6", 2},                    // another address asks again
		{"203.0.113.7:1000", "198.51.100.1", "203.0.113.7", 3},        // untrusted peer: header ignored
		{"10.0.0.2:1000", "1.1.1.1, 198.51.100.1", "198.51.100.1", 4}, // trusted proxy: rightmost untrusted hop
	}
	for _, tt := range tests {
		code, sent := call(tt.peer, tt.xff)
		if code != 200 || sent != tt.want || f.introspections.Load() != tt.lookups {
			t.Errorf("peer %s xff %q: status %d, sent client_ip %q after %d lookups; want 200, %q, %d",
				tt.peer, tt.xff, code, sent, f.introspections.Load(), tt.want, tt.lookups)
		}
	}
	if owner != "acct_7" {
		t.Errorf("owner %q from the context, want acct_7", owner)
	}

	cfg.OmitClientIP = true
	quiet, _ := New(cfg)
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("Authorization", "Bearer tok")
	quiet.Require("sms")(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})).ServeHTTP(httptest.NewRecorder(), r)
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.lastForm.Has(ClientIPParam) {
		t.Errorf("OmitClientIP sent client_ip %q", f.lastForm.Get(ClientIPParam))
	}
}
