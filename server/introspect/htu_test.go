package introspect

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestHTUMatches(t *testing.T) {
	public, _ := parsePublicURL("https://API.example.com:443/sms/")
	plain, _ := parsePublicURL("http://localhost:8081")
	tests := []struct {
		htu  string
		o    origin
		path string
		want bool
	}{
		{"https://api.example.com/sms/v1/sms", public, "/v1/sms", true},
		{"https://api.example.com/sms/v1/sms?x=1#f", public, "/v1/sms", true},
		{"HTTPS://Api.Example.COM:443/sms/v1/sms", public, "/v1/sms", true},
		{"https://api.example.com:/sms/v1/sms", public, "/v1/sms", true},
		{"https://api.example.com/sms/v1/%73ms", public, "/v1/sms", true},
		{"https://api.example.com/sms/v1/a%2fb", public, "/v1/a%2Fb", true},
		{"https://api.example.com/sms/v1/./x/../sms", public, "/v1/sms", true},
		{"https://api.example.com/sms/", public, "/", true},
		{"https://api.example.com/sms", public, "", false},                    // the request is for /sms/
		{"https://api.example.com/v1/sms", public, "/v1/sms", false},          // the prefix is missing
		{"https://api.example.com:8443/sms/v1/sms", public, "/v1/sms", false}, // another port
		{"http://api.example.com/sms/v1/sms", public, "/v1/sms", false},
		{"https://api.example.com.evil/sms/v1/sms", public, "/v1/sms", false},
		{"https://user@api.example.com/sms/v1/sms", public, "/v1/sms", false},
		{"https://api.example.com/sms/v1/SMS", public, "/v1/sms", false}, // paths are case-sensitive
		{"https://api.example.com/sms/v1/a/b", public, "/v1/a%2Fb", false},
		{"/sms/v1/sms", public, "/v1/sms", false},
		{"http://localhost:8081/v1/sms", plain, "/v1/sms", true},
		{"http://localhost/v1/sms", plain, "/v1/sms", false},
		{"http://localhost:80/v1/sms", origin{scheme: "http", host: "localhost"}, "/v1/sms", true},
		{"http:///v1/sms", origin{scheme: "http"}, "/v1/sms", false}, // no Host
	}
	for _, tt := range tests {
		if got := htuMatches(tt.htu, tt.o, tt.path); got != tt.want {
			t.Errorf("htuMatches(%q, %+v, %q) = %v, want %v", tt.htu, tt.o, tt.path, got, tt.want)
		}
	}
}

func TestRequestOrigin(t *testing.T) {
	r := httptest.NewRequest("GET", "https://Sms.Example:443/v1", nil)
	if o := requestOrigin(r); o.scheme != "https" || o.host != "sms.example" {
		t.Errorf("https request: %+v", o)
	}
	r = httptest.NewRequest("GET", "http://[::1]:8081/v1", nil)
	if o := requestOrigin(r); o.scheme != "http" || o.host != "[::1]:8081" {
		t.Errorf("IPv6 request: %+v", o)
	}
	for _, bad := range []string{"ftp://x", "https://", "https://x/?q", "https://x/#f", "https://u@x", "/relative"} {
		if _, ok := parsePublicURL(bad); ok {
			t.Errorf("parsePublicURL(%q) accepted", bad)
		}
	}
}

func TestNormalizePath(t *testing.T) {
	for in, want := range map[string]string{
		"":                    "/",
		"/":                   "/",
		"/a/b/c/./../../g":    "/a/g",
		"/mid/content=5/../6": "/mid/6",
		"/a/%7e%2D%2f%2a":     "/a/~-%2F%2A",
		"/..":                 "/",
		"/a/..":               "/",
		"/a/%zz":              "/a/%zz",
		"/a/%4":               "/a/%4",
	} {
		if got := normalizePath(in); got != want {
			t.Errorf("normalizePath(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestCanonicalHeaderKeys(t *testing.T) {
	if dpopHeader != http.CanonicalHeaderKey("DPoP") || nonceHeader != http.CanonicalHeaderKey("DPoP-Nonce") {
		t.Fatal("dpopHeader and nonceHeader must be net/http's canonical spellings")
	}
}
