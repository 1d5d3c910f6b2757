package clientauth

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"golang.org/x/sync/singleflight"
)

// ValidateJWKSURI checks a jwks_uri (or a trusted issuer's URL) an
// operator registers: an absolute https URL with a host, no userinfo (a
// credential in a URL leaks to logs) and no fragment. Whether its address
// is public is checked when it is fetched, on the resolved address.
func ValidateJWKSURI(uri string) error {
	if len(uri) > 2048 {
		return errors.New("URL is longer than 2048 characters")
	}
	u, err := url.Parse(uri)
	if err != nil {
		return errors.New("not a URL")
	}
	switch {
	case u.Scheme != "https":
		return fmt.Errorf("URL scheme must be https, not %q", u.Scheme)
	case u.Host == "" || u.Hostname() == "":
		return errors.New("URL has no host")
	case u.User != nil:
		return errors.New("URL must not carry userinfo")
	case u.Fragment != "" || strings.Contains(uri, "#"):
		return errors.New("URL must not carry a fragment")
	}
	return nil
}

// Kinds of remote key sources.
const (
	sourceJWKS   = "jwks"   // a JWK Set URL
	sourceIssuer = "issuer" // an OIDC issuer: discovery, then its jwks_uri
)

type source struct{ kind, url string }

func (s source) key() string { return s.kind + " " + s.url }

// remoteEntry is the cache's state of one source.
type remoteEntry struct {
	keys      *keySet
	fetched   time.Time // last successful fetch
	expires   time.Time // fresh until
	failedAt  time.Time // last failed fetch
	failure   error
	refreshed time.Time // last fetch (either outcome) triggered by an unknown kid or certificate
}

// remoteKeys fetches and caches key sets: bounded LRU by source, fetches
// coalesced per source by singleflight.
type remoteKeys struct {
	v     *Verifier
	mu    sync.Mutex
	cache *lru.Cache[string, *remoteEntry]
	group singleflight.Group
}

func newRemoteKeys(v *Verifier) (*remoteKeys, error) {
	c, err := lru.New[string, *remoteEntry](cacheEntries)
	if err != nil {
		return nil, fmt.Errorf("clientauth: %w", err)
	}
	return &remoteKeys{v: v, cache: c}, nil
}

// get returns the key set of src: cached while fresh; fetched otherwise.
// refresh asks for a fetch despite a fresh copy (an unknown kid), granted
// when the copy is older than RefetchInterval and no refresh was made
// within it. A failed fetch leaves a copy younger than
// staleLimit in use.
func (r *remoteKeys) get(ctx context.Context, src source, refresh bool) (*keySet, error) {
	now := r.v.cfg.Now()
	r.mu.Lock()
	e, _ := r.cache.Get(src.key())
	var cur remoteEntry
	if e != nil {
		cur = *e
	}
	r.mu.Unlock()
	switch {
	case cur.keys != nil && !refresh && now.Before(cur.expires):
		return cur.keys, nil
	case cur.keys != nil && refresh && (now.Sub(cur.refreshed) < RefetchInterval || now.Sub(cur.fetched) < RefetchInterval):
		// Fetched moments ago: a fresher copy is unlikely, and an
		// attacker's made-up kids must not multiply fetches.
		return cur.keys, nil
	case cur.failure != nil && now.Sub(cur.failedAt) < failureBackoff:
		if cur.keys != nil && now.Sub(cur.fetched) < staleLimit {
			return cur.keys, nil
		}
		return nil, cur.failure
	}
	ch := r.group.DoChan(src.key(), func() (any, error) {
		// A fetch that ended between this caller's look at the cache and
		// its DoChan (singleflight forgets a call once it returns) left a
		// fresh copy: no second fetch for it.
		r.mu.Lock()
		if e, ok := r.cache.Get(src.key()); ok && e.keys != nil && e.failure == nil && !e.fetched.Before(now) {
			r.mu.Unlock()
			return e, nil
		}
		r.mu.Unlock()
		// The fetch outlives a caller that gives up: others wait on it.
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.v.cfg.FetchTimeout)
		defer cancel()
		ks, ttl, err := r.fetch(fctx, src)
		done := r.v.cfg.Now()
		r.mu.Lock()
		defer r.mu.Unlock()
		next := remoteEntry{}
		if old, ok := r.cache.Get(src.key()); ok {
			next = *old
		}
		if refresh {
			next.refreshed = done
		}
		if err != nil {
			next.failure, next.failedAt = err, done
		} else {
			next = remoteEntry{keys: ks, fetched: done, expires: done.Add(ttl), refreshed: next.refreshed}
		}
		r.cache.Add(src.key(), &next)
		return &next, nil
	})
	var got *remoteEntry
	select {
	case res := <-ch:
		got = res.Val.(*remoteEntry)
	case <-ctx.Done():
		return nil, unavailable("fetching keys from %s: %v", src.url, ctx.Err())
	}
	if got.keys != nil && (got.failure == nil || r.v.cfg.Now().Sub(got.fetched) < staleLimit) {
		return got.keys, nil
	}
	return nil, got.failure
}

// fetch gets src's key set and how long to keep it.
func (r *remoteKeys) fetch(ctx context.Context, src source) (*keySet, time.Duration, error) {
	jwksURI := src.url
	if src.kind == sourceIssuer {
		var err error
		if jwksURI, err = r.discover(ctx, src.url); err != nil {
			return nil, 0, err
		}
	}
	body, ttl, err := r.v.get(ctx, jwksURI)
	if err != nil {
		return nil, 0, err
	}
	ks, err := parseKeySet(body, false)
	if err != nil {
		return nil, 0, unavailable("jwks_uri %s: %v", jwksURI, err)
	}
	return ks, ttl, nil
}

// discover reads an OIDC issuer's discovery document (OpenID Connect
// Discovery 1.0 §4) for its jwks_uri. The document's issuer must be the
// issuer asked for (§4.3), so a document served elsewhere cannot stand in.
func (r *remoteKeys) discover(ctx context.Context, issuer string) (string, error) {
	u := strings.TrimSuffix(issuer, "/") + "/.well-known/openid-configuration"
	body, _, err := r.v.get(ctx, u)
	if err != nil {
		return "", err
	}
	var doc struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return "", unavailable("issuer discovery %s: not a JSON object", u)
	}
	if doc.Issuer != issuer {
		return "", unavailable("issuer discovery %s: the document names issuer %q, not %q", u, truncate(doc.Issuer, 128), issuer)
	}
	if err := ValidateJWKSURI(doc.JWKSURI); err != nil {
		return "", unavailable("issuer discovery %s: jwks_uri: %v", u, err)
	}
	return doc.JWKSURI, nil
}

// get fetches an https URL: no redirect, at most MaxFetchBytes, status
// 200. It returns the body and how long it may be cached (Cache-Control
// max-age within [MinCacheTTL, MaxCacheTTL], else CacheTTL).
func (v *Verifier) get(ctx context.Context, u string) ([]byte, time.Duration, error) {
	if err := ValidateJWKSURI(u); err != nil {
		return nil, 0, unavailable("fetching %s: %v", truncate(u, 256), err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, 0, unavailable("fetching %s: %v", u, err)
	}
	req.Header.Set("Accept", "application/json, application/jwk-set+json")
	resp, err := v.client.Do(req)
	if err != nil {
		return nil, 0, unavailable("fetching %s: %v", u, fetchCause(err))
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, 0, unavailable("fetching %s: status %d", u, resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, v.cfg.MaxFetchBytes+1))
	if err != nil {
		return nil, 0, unavailable("fetching %s: %v", u, fetchCause(err))
	}
	if int64(len(body)) > v.cfg.MaxFetchBytes {
		return nil, 0, unavailable("fetching %s: the document is over the limit of %d bytes", u, v.cfg.MaxFetchBytes)
	}
	return body, cacheTTL(resp.Header.Get("Cache-Control"), v.cfg.CacheTTL), nil
}

// fetchCause is a fetch error's cause, without the URL net/http repeats.
func fetchCause(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return errors.New("timed out")
	}
	return err
}

// cacheTTL is the max-age of a Cache-Control header clamped to
// [MinCacheTTL, MaxCacheTTL], def without one; no-store and no-cache are
// taken as the minimum.
func cacheTTL(header string, def time.Duration) time.Duration {
	for _, d := range strings.Split(header, ",") {
		name, val, _ := strings.Cut(strings.TrimSpace(d), "=")
		switch strings.ToLower(name) {
		case "no-store", "no-cache":
			return MinCacheTTL
		case "max-age":
			n, err := strconv.ParseInt(strings.Trim(val, `"`), 10, 64)
			if err != nil || n < 0 {
				return def
			}
			return min(max(time.Duration(min(n, int64(MaxCacheTTL/time.Second)))*time.Second, MinCacheTTL), MaxCacheTTL)
		}
	}
	return def
}

var errRedirect = errors.New("redirect refused: register the final URL")

// fetchClient is the HTTP client of key fetches: cfg.HTTPClient's, or a
// built-in one with timeouts, no proxy (a proxy would dial for us, past
// the guard), the address guard, and cfg.FetchRootCAs. Either way a
// redirect is refused: a public URL cannot redirect to an internal one.
func fetchClient(cfg Config) *http.Client {
	if cfg.HTTPClient != nil {
		c := *cfg.HTTPClient
		c.CheckRedirect = func(*http.Request, []*http.Request) error { return errRedirect }
		return &c
	}
	d := &net.Dialer{Timeout: cfg.FetchTimeout}
	if !cfg.AllowPrivateAddrs {
		d.Control = guardDial
	}
	return &http.Client{
		Timeout: cfg.FetchTimeout,
		Transport: &http.Transport{
			Proxy:                  nil,
			DialContext:            d.DialContext,
			TLSClientConfig:        &tls.Config{RootCAs: cfg.FetchRootCAs, MinVersion: tls.VersionTLS12},
			TLSHandshakeTimeout:    cfg.FetchTimeout,
			ResponseHeaderTimeout:  cfg.FetchTimeout,
			MaxIdleConns:           16,
			IdleConnTimeout:        90 * time.Second,
			MaxResponseHeaderBytes: 16 << 10,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return errRedirect },
	}
}

// guardDial refuses a connection to an address that is not public. It
// runs on the address being dialled, after DNS resolution, so a name that
// resolves (or re-resolves: DNS rebinding) to an internal address is
// refused too.
func guardDial(network, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return fmt.Errorf("address %q: %v", address, err)
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return fmt.Errorf("address %q is not an IP address", address)
	}
	if !publicAddr(ip) {
		return fmt.Errorf("address %s is not public (loopback, private, link-local or reserved); allow it with client_auth.allow_private_jwks_uri", ip)
	}
	return nil
}

// nonPublic are ranges beyond netip's predicates that no jwks_uri has a
// business reaching: "this network", carrier-grade NAT, IETF protocol
// assignments, benchmarking, reserved and broadcast.
var nonPublic = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),
	netip.MustParsePrefix("100.64.0.0/10"),
	netip.MustParsePrefix("192.0.0.0/24"),
	netip.MustParsePrefix("198.18.0.0/15"),
	netip.MustParsePrefix("240.0.0.0/4"),
}

// nat64 embeds an IPv4 address in its last 32 bits (RFC 6052).
var nat64 = netip.MustParsePrefix("64:ff9b::/96")

// publicAddr reports whether ip is a public unicast address.
func publicAddr(ip netip.Addr) bool {
	ip = ip.Unmap()
	if nat64.Contains(ip) {
		b := ip.As16()
		return publicAddr(netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]}))
	}
	if ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() ||
		ip.IsInterfaceLocalMulticast() || ip.IsMulticast() || ip.IsUnspecified() || !ip.IsValid() {
		return false
	}
	for _, p := range nonPublic {
		if p.Contains(ip) {
			return false
		}
	}
	return true
}

// verifyRemote checks a's signature with the key set at src, fetching it
// again (at most once per RefetchInterval) when a names a kid the cached
// set lacks: the client has rotated its keys.
func (v *Verifier) verifyRemote(ctx context.Context, a *Assertion, src source) error {
	ks, err := v.remote.get(ctx, src, false)
	if err != nil {
		return err
	}
	err = verifyWith(a, ks)
	if errors.Is(err, errUnknownKid) {
		if ks, ferr := v.remote.get(ctx, src, true); ferr == nil {
			err = verifyWith(a, ks)
		}
	}
	return asError(err)
}
