package clientauth

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oauthd/oauthd/store"
)

// keyServer is a client's (or an issuer's) https server publishing a JWK
// Set at /jwks and an OIDC discovery document, counting fetches.
type keyServer struct {
	*httptest.Server
	mu           sync.Mutex
	jwks         []byte
	cacheControl string
	status       int
	issuer       string // discovery's issuer; "" = the server's URL
	hits         atomic.Int64
	gate         chan struct{} // when set, /jwks waits for it
	started      chan struct{} // when set, /jwks sends on it before waiting
}

func newKeyServer(t testing.TB, jwks []byte) *keyServer {
	ks := &keyServer{jwks: jwks, status: http.StatusOK}
	mux := http.NewServeMux()
	mux.HandleFunc("/jwks", func(w http.ResponseWriter, r *http.Request) {
		ks.hits.Add(1)
		ks.mu.Lock()
		body, cc, status, gate, started := ks.jwks, ks.cacheControl, ks.status, ks.gate, ks.started
		ks.mu.Unlock()
		if started != nil {
			select {
			case started <- struct{}{}:
			default:
			}
		}
		if gate != nil {
			<-gate
		}
		if cc != "" {
			w.Header().Set("Cache-Control", cc)
		}
		w.WriteHeader(status)
		_, _ = w.Write(body)
	})
	mux.HandleFunc("/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		ks.mu.Lock()
		iss := ks.issuer
		ks.mu.Unlock()
		if iss == "" {
			iss = ks.URL
		}
		_, _ = w.Write([]byte(`{"issuer":"` + iss + `","jwks_uri":"` + ks.URL + `/jwks"}`))
	})
	mux.HandleFunc("/redirect", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/jwks", http.StatusFound)
	})
	mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{"keys":[` + strings.Repeat(" ", DefaultMaxFetchBytes) + `]}`))
	})
	// /slow never answers: it is held until the test ends, whatever its
	// connection does, and then sends nothing. Waiting on the request's
	// context instead let net/http answer 200 with an empty body now and
	// then under -race on a busy machine, before the client's timeout.
	release := make(chan struct{})
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-time.After(time.Minute):
		}
		panic(http.ErrAbortHandler)
	})
	ks.Server = httptest.NewTLSServer(mux)
	t.Cleanup(ks.Close)
	t.Cleanup(func() { close(release) }) // first: Close waits for handlers
	return ks
}

func (ks *keyServer) set(f func(*keyServer)) {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	f(ks)
}

// remoteVerifier trusts ks (its client, private addresses allowed) on clk.
func remoteVerifier(t testing.TB, ks *keyServer, clk *clock, change func(*Config)) *Verifier {
	return newVerifier(t, func(c *Config) {
		c.HTTPClient = ks.Client()
		c.AllowPrivateAddrs = true
		c.Now = clk.Now
		if change != nil {
			change(c)
		}
	})
}

func uriApp(uri string) *store.Application {
	return &store.Application{ClientID: testClient, Auth: store.ClientAuth{Method: store.AuthPrivateKeyJWT, JWKSURI: uri}}
}

// A jwks_uri is fetched once, cached for CacheTTL, and fetched again
// early (at most once per RefetchInterval) for a kid it lacks, so a
// client rotates by publishing its new key first.
func TestJWKSURICacheAndRotation(t *testing.T) {
	k1 := signer{key: edKey(t), alg: "EdDSA", kid: "k1"}
	k2 := signer{key: edKey(t), alg: "EdDSA", kid: "k2"}
	k3 := signer{key: edKey(t), alg: "EdDSA", kid: "k3"}
	ks := newKeyServer(t, jwks(t, k1))
	clk := &clock{now: testNow}
	v := remoteVerifier(t, ks, clk, nil)
	app := uriApp(ks.URL + "/jwks")
	assert := func(s signer, want string, hits int64) {
		t.Helper()
		claims := claimsFor(testClient)
		claims["iat"], claims["exp"] = clk.Now().Unix(), clk.Now().Add(time.Minute).Unix()
		_, err := verify(v, app, sign(t, s, claims))
		wantRefusal(t, err, want)
		if got := ks.hits.Load(); got != hits {
			t.Fatalf("%d fetches, want %d", got, hits)
		}
	}
	assert(k1, "", 1)
	assert(k1, "", 1) // cached
	clk.Advance(DefaultCacheTTL + time.Second)
	assert(k1, "", 2) // stale: fetched again

	// The client publishes k2 and signs with it: one early fetch, once
	// the copy is RefetchInterval old.
	ks.set(func(ks *keyServer) { ks.jwks = jwks(t, k1, k2) })
	assert(k2, `no registered key matches kid "k2"`, 2)
	clk.Advance(RefetchInterval)
	assert(k2, "", 3)
	// A kid it never published: at most one fetch per RefetchInterval.
	clk.Advance(time.Second)
	assert(signer{key: k3.key, alg: "EdDSA", kid: "nope"}, `no registered key matches kid "nope"`, 3)
	ks.set(func(ks *keyServer) { ks.jwks = jwks(t, k1, k2, k3) })
	assert(k3, `no registered key matches kid "k3"`, 3)
	clk.Advance(RefetchInterval)
	assert(k3, "", 4)
	// A key the client removed stays usable only until the next fetch.
	ks.set(func(ks *keyServer) { ks.jwks = jwks(t, k3) })
	clk.Advance(DefaultCacheTTL + time.Second)
	assert(signer{key: k1.key, alg: "EdDSA"}, "does not verify", 5)
}

// Cache-Control max-age sets how long a key set is kept, within
// [MinCacheTTL, MaxCacheTTL].
func TestCacheTTL(t *testing.T) {
	def := 5 * time.Minute
	tests := []struct {
		header string
		want   time.Duration
	}{
		{"", def},
		{"public", def},
		{"max-age=600", 10 * time.Minute},
		{"public, max-age=120, must-revalidate", 2 * time.Minute},
		{"max-age=1", MinCacheTTL},
		{"max-age=0", MinCacheTTL},
		{"no-store", MinCacheTTL},
		{"No-Cache", MinCacheTTL},
		{"max-age=86400", MaxCacheTTL},
		{"max-age=99999999999999999999", def},
		{"max-age=9223372036854775807", MaxCacheTTL},
		{"max-age=-5", def},
		{`max-age="300"`, 5 * time.Minute},
		{"max-age=soon", def},
	}
	for _, tt := range tests {
		if got := cacheTTL(tt.header, def); got != tt.want {
			t.Errorf("cacheTTL(%q) = %s, want %s", tt.header, got, tt.want)
		}
	}
	// And a fetch honours it.
	k1 := signer{key: edKey(t), alg: "EdDSA"}
	ks := newKeyServer(t, jwks(t, k1))
	ks.set(func(ks *keyServer) { ks.cacheControl = "max-age=1800" })
	clk := &clock{now: testNow}
	v := remoteVerifier(t, ks, clk, nil)
	for _, step := range []time.Duration{0, 20 * time.Minute, 11 * time.Minute} {
		clk.Advance(step)
		claims := with(claimsFor(testClient), "iat", clk.Now().Unix(), "exp", clk.Now().Add(time.Minute).Unix())
		if _, err := verify(v, uriApp(ks.URL+"/jwks"), sign(t, k1, claims)); err != nil {
			t.Fatal(err)
		}
	}
	if n := ks.hits.Load(); n != 2 {
		t.Errorf("%d fetches over 31 minutes with max-age=1800, want 2", n)
	}
}

// A fetch that fails is refused as Temporary (the client may have done
// nothing wrong); redirects, oversized bodies, bad statuses, garbage,
// plain http and timeouts all fail.
func TestJWKSURIFailures(t *testing.T) {
	k1 := signer{key: edKey(t), alg: "EdDSA"}
	ks := newKeyServer(t, jwks(t, k1))
	raw := sign(t, k1, claimsFor(testClient))
	tests := []struct {
		name   string
		uri    string
		change func(*keyServer)
		want   string
	}{
		{"redirect", ks.URL + "/redirect", nil, "redirect refused"},
		{"too large", ks.URL + "/big", nil, "over the limit"},
		{"status 500", ks.URL + "/jwks", func(ks *keyServer) { ks.status = 500 }, "status 500"},
		{"not a JWK Set", ks.URL + "/jwks", func(ks *keyServer) { ks.jwks = []byte("<html>") }, "not a JWK Set"},
		{"plain http", strings.Replace(ks.URL, "https://", "http://", 1) + "/jwks", nil, "https"},
		{"not found", ks.URL + "/nope", nil, "status 404"},
		{"timeout", ks.URL + "/slow", nil, "timed out"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ks.set(func(ks *keyServer) { ks.status, ks.jwks = http.StatusOK, jwks(t, k1) })
			if tt.change != nil {
				ks.set(tt.change)
			}
			v := remoteVerifier(t, ks, &clock{now: testNow}, func(c *Config) { c.FetchTimeout = 200 * time.Millisecond })
			_, err := verify(v, uriApp(tt.uri), raw)
			wantRefusal(t, err, tt.want)
			var e *Error
			if errors.As(err, &e) && !e.Temporary {
				t.Errorf("fetch failure %q is not Temporary", e.Reason)
			}
		})
	}
}

// When a refresh fails, the last key set stays in use up to an hour, so a
// publisher's short outage locks no one out; past that, it is refused.
func TestJWKSURIStaleOnFailure(t *testing.T) {
	k1 := signer{key: edKey(t), alg: "EdDSA"}
	ks := newKeyServer(t, jwks(t, k1))
	clk := &clock{now: testNow}
	v := remoteVerifier(t, ks, clk, nil)
	app := uriApp(ks.URL + "/jwks")
	check := func(want string) {
		t.Helper()
		claims := with(claimsFor(testClient), "iat", clk.Now().Unix(), "exp", clk.Now().Add(time.Minute).Unix())
		_, err := verify(v, app, sign(t, k1, claims))
		wantRefusal(t, err, want)
	}
	check("")
	ks.set(func(ks *keyServer) { ks.status = http.StatusServiceUnavailable })
	clk.Advance(DefaultCacheTTL + time.Second)
	check("") // refresh failed: the old set is used
	hits := ks.hits.Load()
	check("") // and the failure is remembered: no fetch per request
	if ks.hits.Load() != hits {
		t.Error("a failed jwks_uri was fetched again at once")
	}
	clk.Advance(staleLimit)
	check("status 503")
	ks.set(func(ks *keyServer) { ks.status = http.StatusOK })
	clk.Advance(failureBackoff)
	check("")
}

// Concurrent verifications needing the same key set make one fetch.
func TestJWKSURICoalesced(t *testing.T) {
	k1 := signer{key: edKey(t), alg: "EdDSA"}
	ks := newKeyServer(t, jwks(t, k1))
	gate, started := make(chan struct{}), make(chan struct{}, 1)
	ks.set(func(ks *keyServer) { ks.gate, ks.started = gate, started })
	v := remoteVerifier(t, ks, &clock{now: testNow}, nil)
	raw := sign(t, k1, claimsFor(testClient))
	const n = 8
	errs := make(chan error, n)
	for range n {
		go func() {
			_, err := verify(v, uriApp(ks.URL+"/jwks"), raw)
			errs <- err
		}()
	}
	// Release the fetch once it has started.
	select {
	case <-started:
	case <-time.After(10 * time.Second):
		t.Fatal("no fetch started")
	}
	close(gate)
	for range n {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	if got := ks.hits.Load(); got != 1 {
		t.Errorf("%d fetches for %d concurrent verifications, want 1", got, n)
	}
}

// The address guard refuses non-public addresses, checked on the address
// dialled (after DNS), unless AllowPrivateAddrs.
func TestDialGuard(t *testing.T) {
	tests := []struct {
		addr   string
		public bool
	}{
		{"127.0.0.1", false},
		{"127.8.9.10", false},
		{"10.1.2.3", false},
		{"172.16.0.1", false},
		{"192.168.1.1", false},
		{"169.254.169.254", false}, // cloud metadata
		{"100.64.0.1", false},
		{"0.0.0.0", false},
		{"0.1.2.3", false},
		{"224.0.0.1", false},
		{"255.255.255.255", false},
		{"198.18.0.1", false},
		{"::1", false},
		{"::", false},
		{"fe80::1", false},
		{"fc00::1", false},
		{"fd12:3456::1", false},
		{"ff02::1", false},
		{"::ffff:127.0.0.1", false},
		{"::ffff:10.0.0.1", false},
		{"64:ff9b::a9fe:a9fe", false}, // NAT64 of 169.254.169.254
		{"64:ff9b::5db8:d822", true},  // NAT64 of 93.184.216.34
		{"93.184.216.34", true},
		{"8.8.8.8", true},
		{"2606:4700::1111", true},
	}
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			ip := netip.MustParseAddr(tt.addr)
			if got := publicAddr(ip); got != tt.public {
				t.Errorf("publicAddr(%s) = %v, want %v", ip, got, tt.public)
			}
			err := guardDial("tcp", netip.AddrPortFrom(ip, 443).String(), nil)
			if (err == nil) != tt.public {
				t.Errorf("guardDial(%s) = %v", ip, err)
			}
		})
	}
}

// End to end with the built-in client: a jwks_uri on 127.0.0.1, or on a
// name resolving to it (localhost), is refused at dial time even though
// its certificate is trusted; allowed, it works.
func TestDialGuardBuiltInClient(t *testing.T) {
	k1 := signer{key: edKey(t), alg: "EdDSA"}
	ks := newKeyServer(t, jwks(t, k1))
	raw := sign(t, k1, claimsFor(testClient))
	roots := pool(ks.Certificate())
	byName := strings.Replace(ks.URL, "127.0.0.1", "localhost", 1)
	for _, tt := range []struct {
		name  string
		uri   string
		allow bool
		want  string
	}{
		{"loopback address refused", ks.URL + "/jwks", false, "is not public"},
		{"name resolving to loopback refused", byName + "/jwks", false, "is not public"},
		{"loopback allowed", ks.URL + "/jwks", true, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			v := newVerifier(t, func(c *Config) { c.FetchRootCAs, c.AllowPrivateAddrs = roots, tt.allow })
			hits := ks.hits.Load()
			_, err := verify(v, uriApp(tt.uri), raw)
			wantRefusal(t, err, tt.want)
			if tt.want != "" && ks.hits.Load() != hits {
				t.Error("the refused address was reached")
			}
		})
	}
	// A private address never answering (10.x, the metadata address):
	// refused before any packet is sent, so no timeout is waited for.
	for _, uri := range []string{"https://10.255.255.1/jwks", "https://169.254.169.254/jwks", "https://[::1]:1/jwks"} {
		t.Run(uri, func(t *testing.T) {
			v := newVerifier(t, func(c *Config) { c.FetchTimeout = 30 * time.Second })
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			a, err := ParseAssertion(raw)
			if err != nil {
				t.Fatal(err)
			}
			wantRefusal(t, v.VerifyAssertion(ctx, uriApp(uri), a), "is not public")
		})
	}
}

// A caller that gives up does not wait for a fetch in flight, and the
// fetch still completes for the others.
func TestJWKSURICallerGivesUp(t *testing.T) {
	k1 := signer{key: edKey(t), alg: "EdDSA"}
	ks := newKeyServer(t, jwks(t, k1))
	gate, started := make(chan struct{}), make(chan struct{}, 1)
	ks.set(func(ks *keyServer) { ks.gate, ks.started = gate, started })
	v := remoteVerifier(t, ks, &clock{now: testNow}, nil)
	raw := sign(t, k1, claimsFor(testClient))
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		a, _ := ParseAssertion(raw)
		errc <- v.VerifyAssertion(ctx, uriApp(ks.URL+"/jwks"), a)
	}()
	<-started
	cancel()
	err := <-errc
	wantRefusal(t, err, "context canceled")
	if e := err.(*Error); !e.Temporary {
		t.Error("a given-up fetch is not Temporary")
	}
	close(gate)
	if _, err := verify(v, uriApp(ks.URL+"/jwks"), raw); err != nil {
		t.Fatal(err)
	}
	if n := ks.hits.Load(); n != 1 {
		t.Errorf("%d fetches, want 1 (the given-up fetch completed and was cached)", n)
	}
}
