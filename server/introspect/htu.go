package introspect

import (
	"net/http"
	"net/url"
	"strings"
)

// A DPoP proof's htu must name the request it comes with, without query
// or fragment (RFC 9449 §4.3 step 9). Both sides are compared after the
// syntax- and scheme-based normalizations of RFC 3986 §6.2.2 and §6.2.3:
// scheme and host lower-cased, the scheme's default port dropped,
// percent-encodings upper-cased and decoded where they encode an
// unreserved character, dot segments removed, an empty path made "/".
//
// The request's own URI is what its client meant to reach: behind a
// proxy, not the address the proxy forwarded it to. Config.PublicURL
// says what that is; without it, the scheme is the connection's (https
// with TLS) and the host the Host header, which a client chooses: a proof
// made for another server that shares this one's keys and Host-routing
// would pass. Production deployments set PublicURL.

// origin is where the request's URI starts: a normalized scheme and host
// (with a non-default port), and the path prefix PublicURL names.
type origin struct {
	scheme, host, prefix string
}

// parsePublicURL reads Config.PublicURL.
func parsePublicURL(raw string) (origin, bool) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil ||
		u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.Contains(raw, "#") {
		return origin{}, false
	}
	scheme := strings.ToLower(u.Scheme)
	prefix := strings.TrimSuffix(normalizePath(u.EscapedPath()), "/")
	return origin{scheme: scheme, host: normalizeHost(scheme, u.Host), prefix: prefix}, true
}

// requestOrigin is r's origin when no PublicURL is configured.
func requestOrigin(r *http.Request) origin {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return origin{scheme: scheme, host: normalizeHost(scheme, r.Host)}
}

// normalizeHost lower-cases host and drops the scheme's default port (and
// an empty one: "host:" is "host").
func normalizeHost(scheme, host string) string {
	host = strings.ToLower(host)
	if i := strings.LastIndexByte(host, ':'); i >= 0 && !strings.Contains(host[i:], "]") {
		port := host[i+1:]
		if port == "" || scheme == "http" && port == "80" || scheme == "https" && port == "443" {
			host = host[:i]
		}
	}
	return host
}

// htuMatches reports whether htu names the request whose origin is o and
// whose path (escaped, as sent) is path. The common case, an htu spelled
// exactly as normalized, costs no allocation.
func htuMatches(htu string, o origin, path string) bool {
	if o.host == "" {
		return false // an HTTP/1.0 request without Host, and no PublicURL
	}
	if i := strings.IndexAny(htu, "?#"); i >= 0 {
		htu = htu[:i]
	}
	if path == "" {
		path = "/"
	}
	if rest, ok := strings.CutPrefix(htu, o.scheme); ok {
		if rest, ok = strings.CutPrefix(rest, "://"); ok {
			if rest, ok = strings.CutPrefix(rest, o.host); ok {
				if rest, ok = strings.CutPrefix(rest, o.prefix); ok && rest == path {
					return true
				}
			}
		}
	}
	u, err := url.Parse(htu)
	if err != nil || u.Opaque != "" || u.User != nil || u.Host == "" {
		return false
	}
	scheme := strings.ToLower(u.Scheme)
	return scheme == o.scheme && normalizeHost(scheme, u.Host) == o.host &&
		normalizePath(u.EscapedPath()) == normalizePath(o.prefix+path)
}

// normalizePath applies RFC 3986 §6.2.2.1, §6.2.2.2 and §6.2.2.3 to an
// escaped path: percent-encodings upper-cased, those of unreserved
// characters decoded, dot segments removed. An empty path is "/"
// (§6.2.3).
func normalizePath(p string) string {
	var b strings.Builder
	b.Grow(len(p))
	for i := 0; i < len(p); i++ {
		c := p[i]
		if c != '%' || i+2 >= len(p) || !isHex(p[i+1]) || !isHex(p[i+2]) {
			b.WriteByte(c)
			continue
		}
		d := unhex(p[i+1])<<4 | unhex(p[i+2])
		if unreserved(d) {
			b.WriteByte(d)
		} else {
			b.WriteByte('%')
			b.WriteByte(upper(p[i+1]))
			b.WriteByte(upper(p[i+2]))
		}
		i += 2
	}
	out := removeDotSegments(b.String())
	if out == "" {
		return "/"
	}
	return out
}

// removeDotSegments is RFC 3986 §5.2.4.
func removeDotSegments(in string) string {
	if !strings.Contains(in, ".") {
		return in
	}
	var out []string // output segments, each with its leading "/"
	for in != "" {
		switch {
		case strings.HasPrefix(in, "../"):
			in = in[3:]
		case strings.HasPrefix(in, "./"):
			in = in[2:]
		case strings.HasPrefix(in, "/./"):
			in = in[2:]
		case in == "/.":
			in = "/"
		case strings.HasPrefix(in, "/../"):
			in = in[3:]
			if len(out) > 0 {
				out = out[:len(out)-1]
			}
		case in == "/..":
			in = "/"
			if len(out) > 0 {
				out = out[:len(out)-1]
			}
		case in == "." || in == "..":
			in = ""
		default:
			// The first segment, with its leading "/" if any, up to
			// (not including) the next "/".
			j := strings.IndexByte(in[1:], '/')
			if j < 0 {
				out = append(out, in)
				in = ""
			} else {
				out = append(out, in[:j+1])
				in = in[j+1:]
			}
		}
	}
	return strings.Join(out, "")
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c >= 'a':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}

func upper(c byte) byte {
	if 'a' <= c && c <= 'f' {
		return c - 'a' + 'A'
	}
	return c
}

// unreserved is RFC 3986 §2.3's set.
func unreserved(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}
