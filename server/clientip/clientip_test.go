package clientip

import (
	"net/http/httptest"
	"net/netip"
	"testing"
)

func TestClientAddr(t *testing.T) {
	proxies := NewProxies([]netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8")})
	tests := []struct {
		name    string
		peer    string
		headers map[string][]string
		want    string
	}{
		{"direct", "203.0.113.7:5000", nil, "203.0.113.7"},
		{"untrusted peer's header ignored", "203.0.113.7:5000", map[string][]string{"X-Forwarded-For": {"198.51.100.1"}}, "203.0.113.7"},
		{"trusted peer, XFF", "10.0.0.2:5000", map[string][]string{"X-Forwarded-For": {"198.51.100.1"}}, "198.51.100.1"},
		{"spoofed leftmost entry ignored", "10.0.0.2:5000", map[string][]string{"X-Forwarded-For": {"1.2.3.4, 198.51.100.1"}}, "198.51.100.1"},
		{"trusted hops skipped", "10.0.0.2:5000", map[string][]string{"X-Forwarded-For": {"198.51.100.1, 10.0.0.9, 10.0.0.8"}}, "198.51.100.1"},
		{"several header lines", "10.0.0.2:5000", map[string][]string{"X-Forwarded-For": {"1.2.3.4", "198.51.100.1, 10.0.0.9"}}, "198.51.100.1"},
		{"garbage hop stops the walk", "10.0.0.2:5000", map[string][]string{"X-Forwarded-For": {"198.51.100.1, nonsense, 10.0.0.9"}}, "10.0.0.2"},
		{"only trusted hops", "10.0.0.2:5000", map[string][]string{"X-Forwarded-For": {"10.0.0.3"}}, "10.0.0.2"},
		{"mapped address", "10.0.0.2:5000", map[string][]string{"X-Forwarded-For": {"::ffff:198.51.100.1"}}, "198.51.100.1"},
		{"Forwarded", "10.0.0.2:5000", map[string][]string{"Forwarded": {`for=1.2.3.4, for=198.51.100.1;proto=https`}}, "198.51.100.1"},
		{"Forwarded IPv6 with port", "[fd00::1]:5000", map[string][]string{"Forwarded": {`for="[2001:db8::7]:4711"`}}, "2001:db8::7"},
		{"Forwarded v4 with port", "10.0.0.2:5000", map[string][]string{"Forwarded": {`for="198.51.100.1:4711"`}}, "198.51.100.1"},
		{"Forwarded wins over XFF", "10.0.0.2:5000", map[string][]string{"Forwarded": {"for=198.51.100.1"}, "X-Forwarded-For": {"198.51.100.2"}}, "198.51.100.1"},
		{"Forwarded obfuscated", "10.0.0.2:5000", map[string][]string{"Forwarded": {"for=_hidden"}}, "10.0.0.2"},
		{"Forwarded unknown", "10.0.0.2:5000", map[string][]string{"Forwarded": {"for=unknown"}}, "10.0.0.2"},
		{"zone refused", "10.0.0.2:5000", map[string][]string{"X-Forwarded-For": {"fe80::1%eth0"}}, "10.0.0.2"},
		{"unparsable peer", "pipe", nil, "invalid IP"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = tt.peer
			for k, vs := range tt.headers {
				for _, v := range vs {
					r.Header.Add(k, v)
				}
			}
			if got := proxies.ClientAddr(r).String(); got != tt.want {
				t.Fatalf("ClientAddr = %s, want %s", got, tt.want)
			}
		})
	}
	// No trusted proxies: headers never count.
	r := httptest.NewRequest("GET", "/", nil)
	r.RemoteAddr = "10.0.0.2:1"
	r.Header.Set("X-Forwarded-For", "198.51.100.1")
	if got := NewProxies(nil).ClientAddr(r).String(); got != "10.0.0.2" {
		t.Fatalf("without trusted proxies: %s", got)
	}
}

func TestClientAddrLongChain(t *testing.T) {
	proxies := NewProxies([]netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")})
	r := httptest.NewRequest("GET", "/", nil)
	r.RemoteAddr = "10.0.0.2:1"
	chain := "198.51.100.1"
	for range 30 {
		chain += ", 10.0.0.9"
	}
	r.Header.Set("X-Forwarded-For", chain)
	if got := proxies.ClientAddr(r).String(); got != "10.0.0.2" {
		t.Fatalf("a chain past maxHops answered %s, want the peer", got)
	}
}

func TestTrustsPeer(t *testing.T) {
	proxies := NewProxies([]netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")})
	for peer, want := range map[string]bool{
		"10.0.0.2:1":          true,
		"[::ffff:10.0.0.2]:1": true, // mapped: the rule unmaps
		"203.0.113.7:1":       false,
		"not an address":      false,
		"10.0.0.2":            false, // no port: not a socket peer
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = peer
		// What the peer claims about others never matters here.
		r.Header.Set("X-Forwarded-For", "10.0.0.3")
		if got := proxies.TrustsPeer(r); got != want {
			t.Errorf("TrustsPeer from %q = %v, want %v", peer, got, want)
		}
	}
}
