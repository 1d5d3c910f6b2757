package main

import (
	"net/http"
	"os"
	"path/filepath"
	"testing"
)

// A replica that has not reached Redis does not know its signing keys:
// its JWKS is a 503 nobody caches, not an empty set that verifiers would
// cache for five minutes and refuse every token with.
func TestJWKSWhileRedisIsDown(t *testing.T) {
	keyFile := filepath.Join(t.TempDir(), "sealing.key")
	if err := os.WriteFile(keyFile, make([]byte, 32), 0o600); err != nil {
		t.Fatal(err)
	}
	p := startOAuthd(t, nil, "--redis-url", "redis://127.0.0.1:1", "--jwt-sealing-key-file", keyFile)
	resp, err := http.Get(p.URL + "/.well-known/jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	body := getJSON(t, resp)
	if resp.StatusCode != http.StatusServiceUnavailable || body["error"] != "temporarily_unavailable" ||
		resp.Header.Get("Cache-Control") != "no-store" || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("jwks while Redis is down: %d %v, Cache-Control %q, Retry-After %q",
			resp.StatusCode, body, resp.Header.Get("Cache-Control"), resp.Header.Get("Retry-After"))
	}
}
