// Package clientip decides which address a request came from: the socket
// peer, or the client a trusted proxy names. oauthd (allowlists, lock-outs,
// the admin API and the dashboard) and the resource-server package
// (server/introspect) apply the same rule, so it lives here, on the
// standard library alone.
package clientip

import (
	"fmt"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"unicode"
)

// Proxies finds the address a request came from. It is the socket's peer
// unless that peer is one of the trusted proxies: then the Forwarded
// header (RFC 7239), or X-Forwarded-For when there is none, is read from
// the right, skipping trusted hops, and the first untrusted hop is the
// client. The leftmost entries are never believed: a client writes them.
type Proxies struct {
	trusted []netip.Prefix
}

// NewProxies trusts the given networks. With none, forwarded headers are
// ignored and the peer address is the client's.
func NewProxies(trusted []netip.Prefix) *Proxies {
	return &Proxies{trusted: trusted}
}

// maxHops bounds how far back a chain is read: a longer one is an attack,
// not a network.
const maxHops = 20

// ClientAddr returns r's client address, or the zero Addr when the peer
// address does not parse (a test recorder, a Unix socket).
func (p *Proxies) ClientAddr(r *http.Request) netip.Addr {
	peer := PeerAddr(r)
	if !p.isTrusted(peer) {
		return peer
	}
	if values := r.Header.Values("Forwarded"); len(values) > 0 {
		if a, ok := p.rightmostUntrusted(values, forwardedFor); ok {
			return a
		}
		return peer
	}
	if values := r.Header.Values("X-Forwarded-For"); len(values) > 0 {
		if a, ok := p.rightmostUntrusted(values, plainAddr); ok {
			return a
		}
	}
	return peer
}

// TrustsPeer reports whether r comes straight from one of the trusted
// proxies, whose forwarded headers (the client's address, its TLS
// certificate) may then be believed.
func (p *Proxies) TrustsPeer(r *http.Request) bool {
	return p.isTrusted(PeerAddr(r))
}

// PeerAddr is the socket peer's address, IPv4-mapped addresses unmapped.
func PeerAddr(r *http.Request) netip.Addr {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}

func (p *Proxies) isTrusted(a netip.Addr) bool {
	if !a.IsValid() {
		return false
	}
	for _, n := range p.trusted {
		if n.Contains(a) {
			return true
		}
	}
	return false
}

// rightmostUntrusted walks the comma-separated hops of every header line
// from the last one back. A hop that does not parse ends the walk without
// an answer: whatever is left of it was written by someone untrusted.
func (p *Proxies) rightmostUntrusted(values []string, parse func(string) (netip.Addr, bool)) (netip.Addr, bool) {
	seen := 0
	for i := len(values) - 1; i >= 0; i-- {
		hops := strings.Split(values[i], ",")
		for j := len(hops) - 1; j >= 0; j-- {
			if seen++; seen > maxHops {
				return netip.Addr{}, false
			}
			a, ok := parse(strings.TrimSpace(hops[j]))
			if !ok {
				return netip.Addr{}, false
			}
			if !p.isTrusted(a) {
				return a, true
			}
		}
	}
	return netip.Addr{}, false
}

// plainAddr reads an X-Forwarded-For hop: an address, perhaps with a port.
func plainAddr(s string) (netip.Addr, bool) {
	if a, err := netip.ParseAddr(s); err == nil && a.Zone() == "" {
		return a.Unmap(), true
	}
	if ap, err := netip.ParseAddrPort(s); err == nil && ap.Addr().Zone() == "" {
		return ap.Addr().Unmap(), true
	}
	return netip.Addr{}, false
}

// forwardedFor reads the for= parameter of one Forwarded element (RFC 7239
// §4, §6): a quoted or bare address, IPv6 in brackets, perhaps with a port.
// An obfuscated identifier ("_hidden", "unknown") is no address.
func forwardedFor(elem string) (netip.Addr, bool) {
	for _, pair := range strings.Split(elem, ";") {
		k, v, ok := strings.Cut(strings.TrimSpace(pair), "=")
		if !ok || !strings.EqualFold(k, "for") {
			continue
		}
		v = strings.Trim(v, `"`)
		if strings.HasPrefix(v, "[") {
			end := strings.IndexByte(v, ']')
			if end < 0 {
				return netip.Addr{}, false
			}
			v = v[1:end]
		} else if host, _, found := strings.Cut(v, ":"); found && strings.Count(v, ":") == 1 {
			v = host
		}
		return plainAddr(v)
	}
	return netip.Addr{}, false
}

// ParsePrefixes reads CIDRs ("10.0.0.0/8") and single addresses
// ("192.0.2.7", stored as a /32 or /128), separated by commas or spaces,
// in any of list's items. Duplicates are dropped. It is the one parser of
// address lists: IP allowlists and trusted proxies alike.
func ParsePrefixes(list []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, item := range list {
		for _, s := range strings.FieldsFunc(item, func(r rune) bool { return r == ',' || unicode.IsSpace(r) }) {
			var p netip.Prefix
			if strings.Contains(s, "/") {
				var err error
				if p, err = netip.ParsePrefix(s); err != nil {
					return nil, fmt.Errorf("%q is not a CIDR such as 10.0.0.0/8 or 2001:db8::/32", s)
				}
				if p.Addr().Is4In6() {
					return nil, fmt.Errorf("%q: write IPv4 ranges in IPv4 form", s)
				}
				p = p.Masked()
			} else {
				addr, err := netip.ParseAddr(s)
				if err != nil || addr.Zone() != "" {
					return nil, fmt.Errorf("%q is not an IP address or CIDR", s)
				}
				addr = addr.Unmap()
				p = netip.PrefixFrom(addr, addr.BitLen())
			}
			if !slices.Contains(out, p) {
				out = append(out, p)
			}
		}
	}
	return out, nil
}
