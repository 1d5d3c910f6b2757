package main

import (
	"net/http"
	"testing"
	"time"
)

// The whole program logs route patterns: a secret pasted into a path, on
// the admin API or nowhere at all, stays out of the log.
func TestLogNamesRoutesNotPaths(t *testing.T) {
	t.Parallel()
	p := startOAuthd(t, nil, "--log-buffer", "0s")
	for _, path := range []string{"/admin/v1/applications/ocs_SECRETLOOKINGTHING", "/nope/ocs_X", "/oauth/token/ocs_Y?ocs_Z"} {
		resp, err := http.Get(p.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	want := []string{`"route":"/admin/v1/applications/:id","status":401`, `"route":"unmatched","status":404`}
	deadline := time.Now().Add(5 * time.Second)
	for _, w := range want {
		for !contains(p.Logs.String(), w) {
			if time.Now().After(deadline) {
				t.Fatalf("no line with %s:\n%s", w, p.Logs)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	if contains(p.Logs.String(), "ocs_") {
		t.Fatalf("a path reached the log:\n%s", p.Logs)
	}
}
