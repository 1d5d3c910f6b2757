package server

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/oauthd/oauthd/server/apps"
)

// FuzzTokenRequest: whatever the body, content type and Authorization
// header, the token endpoint answers a JSON 4xx or a 200, never a 5xx or a
// panic. `go test` runs the seeds; `go test -fuzz FuzzTokenRequest` explores.
func FuzzTokenRequest(f *testing.F) {
	env := newTestServer(f)
	app := env.createApp(apps.NewApplication{})
	good := basic(app.ClientID, app.Secret)
	seeds := []struct{ ct, body, auth string }{
		{"application/x-www-form-urlencoded", "grant_type=client_credentials", good},
		{"application/x-www-form-urlencoded", "grant_type=client_credentials&scope=%00", good},
		{"application/x-www-form-urlencoded; charset=%%%", "grant_type=client_credentials", good},
		{"application/x-www-form-urlencoded", "grant_type=client_credentials&scope=" + strings.Repeat("a ", 3000), good},
		{"application/x-www-form-urlencoded", "a=%zz&&&==", "Basic ==="},
		{"multipart/form-data; boundary=x", "--x--", good},
		{"application/x-www-form-urlencoded", "grant_type=client_credentials", "Basic " + b64("\xff\xfe:\x00")},
		{"application/x-www-form-urlencoded", "client_id=%7B%7D&client_secret=x&grant_type=client_credentials", ""},
		{"", "", ""},
	}
	for _, s := range seeds {
		f.Add(s.ct, s.body, s.auth)
	}
	f.Fuzz(func(t *testing.T, ct, body, auth string) {
		r := httptest.NewRequest(http.MethodPost, "/oauth/token", strings.NewReader(body))
		r.Header.Set("Content-Type", ct)
		if auth != "" {
			r.Header.Set("Authorization", auth)
		}
		w := env.do(r)
		if w.Code >= 500 {
			t.Fatalf("status %d for ct=%q body=%q auth=%q: %s", w.Code, ct, body, auth, w.Body)
		}
		if !strings.HasPrefix(w.Header().Get("Content-Type"), "application/json") {
			t.Fatalf("non-JSON answer %q", w.Header().Get("Content-Type"))
		}
	})
}
