package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/oauthd/oauthd/server/introspect"
)

// TestRoutes: both routes write the same answer; only /v1/groups asks for
// a token, and asks oauthd once for a repeated one.
func TestRoutes(t *testing.T) {
	asked := 0
	oauthd := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked++
		w.Header().Set("Content-Type", "application/json")
		if r.FormValue("token") != "good" {
			fmt.Fprint(w, `{"active":false}`)
			return
		}
		fmt.Fprint(w, `{"active":true,"scope":"groups","client_id":"app1","token_type":"Bearer"}`)
	}))
	t.Cleanup(oauthd.Close)
	client, err := introspect.New(introspect.Config{Endpoint: oauthd.URL, ClientID: "rs", ClientSecret: "s"})
	if err != nil {
		t.Fatal(err)
	}
	e := routes(client)
	for _, tc := range []struct {
		path, auth string
		status     int
	}{
		{"/bare", "", http.StatusOK},
		{"/v1/groups", "", http.StatusUnauthorized},
		{"/v1/groups", "Bearer bad", http.StatusUnauthorized},
		{"/v1/groups", "Bearer good", http.StatusOK},
		{"/v1/groups", "Bearer good", http.StatusOK},
	} {
		req := httptest.NewRequest(http.MethodGet, tc.path, nil)
		if tc.auth != "" {
			req.Header.Set("Authorization", tc.auth)
		}
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, req)
		if rec.Code != tc.status {
			t.Errorf("GET %s (%q): %d, want %d", tc.path, tc.auth, rec.Code, tc.status)
		}
		if tc.status == http.StatusOK && rec.Body.String() != body {
			t.Errorf("GET %s: body %q, want sms-api's", tc.path, rec.Body)
		}
	}
	if asked != 2 {
		t.Errorf("oauthd asked %d times, want 2 (bad once, good once: then cached)", asked)
	}
}

func TestRunNeedsCredentials(t *testing.T) {
	err := run(t.Context(), []string{"-issuer", "http://127.0.0.1:1"}, func(string) string { return "" }, &testWriter{t})
	if err == nil {
		t.Fatal("run without credentials: no error")
	}
}

type testWriter struct{ t *testing.T }

func (w *testWriter) Write(p []byte) (int, error) { w.t.Log(string(p)); return len(p), nil }
