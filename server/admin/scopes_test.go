package admin

import (
	"context"
	"slices"
	"strings"
	"testing"

	goredis "github.com/redis/go-redis/v9"

	"github.com/oauthd/oauthd/server/apps"
	"github.com/oauthd/oauthd/store"
)

// The catalogue routes: GET lists it with the forms; PUT adds (201) or
// describes (200); DELETE refuses a held scope with its holders (409)
// unless forced, never deletes tokens:introspect (403), and says 404 for a
// scope the catalogue lacks.
func TestScopeRoutes(t *testing.T) {
	env := newAdminEnv(t)
	code, list := env.call(adminKey, "GET", "/scopes", nil)
	if code != 200 || len(list["scopes"].([]any)) != 16 || strings.Join(toStrings(list["forms"]), " ") != "all:any" {
		t.Fatalf("GET /scopes: %d %v", code, list)
	}
	if first := list["scopes"].([]any)[0].(map[string]any); first["name"] != "sms" || first["description"] == "" {
		t.Fatalf("first scope %v", first)
	}
	w := env.recorded(adminKey, "PUT", "/scopes/messages:send", map[string]any{"description": "Send any message"})
	if w.Code != 201 || w.Header().Get("Location") != Prefix+"/scopes/messages:send" {
		t.Fatalf("PUT a new scope: %d %s, Location %q", w.Code, w.Body, w.Header().Get("Location"))
	}
	if code, sc := env.call(adminKey, "PUT", "/scopes/messages:send", map[string]any{"description": "Send"}); code != 200 || sc["description"] != "Send" {
		t.Fatalf("PUT a known scope: %d %v", code, sc)
	}
	if _, list := env.call(adminKey, "GET", "/scopes", nil); !strings.Contains(strings.Join(toStrings(list["forms"]), " "), "messages:*") {
		t.Fatalf("forms after adding messages:send: %v", list["forms"])
	}

	holder := env.createApp(apps.NewApplication{Scopes: []string{"messages:send sms"}})
	for _, tt := range []struct {
		method, path string
		body         any
		status       int
		field        string
	}{
		{"PUT", "/scopes/all:any", map[string]any{"description": "x"}, 400, "name"},
		{"PUT", "/scopes/messages:*", map[string]any{"description": "x"}, 400, "name"},
		{"PUT", "/scopes/Bad", map[string]any{"description": "x"}, 400, "name"},
		{"PUT", "/scopes/ok", map[string]any{"descripton": "x"}, 400, "descripton"},
		{"PUT", "/scopes/ok", map[string]any{"description": strings.Repeat("d", 201)}, 400, "description"},
		{"DELETE", "/scopes/messages:send?force=maybe", nil, 400, "force"},
		{"DELETE", "/scopes/messages:send?forced=true", nil, 400, "forced"},
		{"DELETE", "/scopes/nonesuch", nil, 404, ""},
		{"DELETE", "/scopes/tokens:introspect?force=true", nil, 403, ""},
	} {
		if code, body := env.call(adminKey, tt.method, tt.path, tt.body); code != tt.status || tt.field != "" && body["field"] != tt.field {
			t.Errorf("%s %s: %d %v; want %d on %q", tt.method, tt.path, code, body, tt.status, tt.field)
		}
	}

	code, refused := env.call(adminKey, "DELETE", "/scopes/messages:send", nil)
	detail, _ := refused["detail"].(map[string]any)
	if code != 409 || refused["error"] != "conflict" || detail["holders_total"] != float64(1) ||
		strings.Join(toStrings(detail["holders"]), " ") != holder.ClientID {
		t.Fatalf("DELETE a held scope: %d %v", code, refused)
	}
	if code, _ := env.call(adminKey, "DELETE", "/scopes/messages:send?force=true", nil); code != 204 {
		t.Fatalf("DELETE with force: %d", code)
	}
	if _, app := env.call(adminKey, "GET", "/applications/"+holder.ClientID, nil); strings.Join(toStrings(app["scopes"]), " ") != "sms" {
		t.Fatalf("the holder after the forced deletion: %v", app["scopes"])
	}
	_, ev := env.call(adminKey, "GET", "/events?client_id="+holder.ClientID+"&kind=application.updated", nil)
	if n := len(ev["events"].([]any)); n != 1 {
		t.Fatalf("the holder's application.updated events: %v", ev)
	}
	// Resource servers hear of it: a cached answer listing the scope is
	// wrong now.
	feed, err := env.redis.Client(t).XRange(context.Background(), "test:feed", "-", "+").Result()
	if err != nil || !slices.ContainsFunc(feed, func(m goredis.XMessage) bool {
		return m.Values["kind"] == store.FeedAppUpdated && m.Values["client_id"] == holder.ClientID
	}) {
		t.Fatalf("no %s feed event for the holder: %v, %v", store.FeedAppUpdated, feed, err)
	}
	if code, _ := env.call(adminKey, "DELETE", "/scopes/messages:send", nil); code != 404 {
		t.Fatalf("DELETE a deleted scope: %d", code)
	}
	for _, kind := range []string{"scope.created", "scope.updated", "scope.deleted"} {
		if _, ev := env.call(adminKey, "GET", "/events?kind="+kind, nil); len(ev["events"].([]any)) != 1 {
			t.Errorf("%s events: %v", kind, ev)
		}
	}
}

// A delegated administrator reads the catalogue and is refused any
// change, 403 naming the rule in the log.
func TestScopeRoutesDelegated(t *testing.T) {
	env := newAdminEnv(t)
	mgr := env.createApp(apps.NewApplication{Scopes: []string{"sms", "applications"}, Owner: "acct_1", TokenLifetime: "1h"})
	_, tok := env.tokenFor(mgr.ClientID, mgr.Secret, "")
	if code, _ := env.call(tok, "GET", "/scopes", nil); code != 200 {
		t.Fatalf("a delegate reading the catalogue: %d", code)
	}
	describe := map[string]any{"description": "x"}
	for _, tt := range []struct {
		method, path string
		body         any
	}{
		{"PUT", "/scopes/messages:send", describe},
		{"PUT", "/scopes/sms", describe},
		{"DELETE", "/scopes/viber", nil},
		{"DELETE", "/scopes/viber?force=true", nil},
	} {
		code, body := env.call(tok, tt.method, tt.path, tt.body)
		if code != 403 || body["error"] != "forbidden" || !strings.Contains(body["error_description"].(string), "catalogue") {
			t.Errorf("a delegate's %s %s: %d %v", tt.method, tt.path, code, body)
		}
	}
	if _, list := env.call(adminKey, "GET", "/scopes", nil); len(list["scopes"].([]any)) != 16 {
		t.Fatalf("a refused change changed the catalogue: %v", list)
	}
}

func toStrings(v any) []string {
	var out []string
	for _, s := range v.([]any) {
		out = append(out, s.(string))
	}
	return out
}
