package dpop

import (
	"errors"
	"net/url"
	"path"
	"strings"
)

// NormalizeURL is raw as a DPoP htu is compared (RFC 9449 §4.3 step 9):
// without query and fragment, after RFC 3986 §6.2.2 and §6.2.3's syntax-
// and scheme-based normalisation (scheme and host lower-cased, the
// scheme's default port dropped, percent-encodings of unreserved
// characters decoded, dot segments removed, an empty path "/"). The
// server normalises the URLs that name its endpoint the same way, so one
// string comparison decides.
func NormalizeURL(raw string) (string, error) {
	if i := strings.IndexAny(raw, "?#"); i >= 0 {
		raw = raw[:i]
	}
	u, err := url.Parse(raw)
	if err != nil || u.Opaque != "" || u.User != nil || u.Host == "" {
		return "", errors.New("not an absolute http(s) URL")
	}
	scheme := strings.ToLower(u.Scheme)
	if scheme != "http" && scheme != "https" {
		return "", errors.New("not an http(s) URL")
	}
	host := strings.ToLower(u.Host)
	if h, port, ok := strings.Cut(host, ":"); ok && !strings.HasPrefix(host, "[") &&
		(port == "" || scheme == "http" && port == "80" || scheme == "https" && port == "443") {
		host = h
	} else if i := strings.LastIndex(host, "]:"); strings.HasPrefix(host, "[") && i > 0 {
		if port := host[i+2:]; scheme == "http" && port == "80" || scheme == "https" && port == "443" {
			host = host[:i+1]
		}
	}
	// Re-encoding the decoded path upper-cases percent-encodings and
	// decodes those of unreserved characters. A path whose encoding
	// carries meaning (an encoded "/") is taken as sent.
	p := (&url.URL{Path: u.Path}).EscapedPath()
	if strings.Contains(strings.ToUpper(u.RawPath), "%2F") {
		p = u.RawPath
	}
	if p == "" {
		p = "/"
	} else {
		trail := strings.HasSuffix(p, "/")
		p = path.Clean(p)
		if trail && p != "/" {
			p += "/"
		}
	}
	return scheme + "://" + host + p, nil
}
