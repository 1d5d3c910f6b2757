package introspectecho

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/oauthd/oauthd/server/introspect"
)

func TestMiddleware(t *testing.T) {
	// A minimal oauthd: every token is active with scope "sms".
	oauthd := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if id, secret, ok := r.BasicAuth(); !ok || id != "rs" || secret != "secret" {
			http.Error(w, `{"error":"invalid_client"}`, http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"active":true,"scope":"sms","client_id":"app1","token_type":"Bearer"}`)
	}))
	t.Cleanup(oauthd.Close)
	client, err := introspect.New(introspect.Config{Endpoint: oauthd.URL, ClientID: "rs", ClientSecret: "secret", Realm: "sms-api"})
	if err != nil {
		t.Fatal(err)
	}
	e := echo.New()
	whoami := func(c echo.Context) error {
		info, ok := Info(c)
		if !ok {
			return c.String(http.StatusInternalServerError, "no introspection answer")
		}
		return c.String(http.StatusOK, info.ClientID)
	}
	e.GET("/sms", whoami, Middleware(client, "sms"))
	e.GET("/groups", whoami, Middleware(client, "groups"))

	tests := []struct {
		path          string
		wantStatus    int
		wantBody      string
		wantChallenge string
	}{
		{"/sms", http.StatusOK, "app1", ""},
		{"/groups", http.StatusForbidden,
			`{"error":"insufficient_scope","error_description":"scope required: groups","scope":"groups"}`,
			`Bearer realm="sms-api", error="insufficient_scope", scope="groups", error_description="scope required: groups"`},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, tt.path, nil)
			req.Header.Set("Authorization", "Bearer tok")
			rec := httptest.NewRecorder()
			e.ServeHTTP(rec, req)
			if rec.Code != tt.wantStatus || rec.Body.String() != tt.wantBody {
				t.Errorf("GET %s = %d %q, want %d %q", tt.path, rec.Code, rec.Body, tt.wantStatus, tt.wantBody)
			}
			if got := rec.Header().Get("WWW-Authenticate"); got != tt.wantChallenge {
				t.Errorf("WWW-Authenticate = %q, want %q", got, tt.wantChallenge)
			}
		})
	}
}
