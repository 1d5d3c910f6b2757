package admin

import (
	"testing"

	"github.com/oauthd/oauthd/store"
)

// The binding policy (issue 19) is set and shown through the admin API:
// dpop_bound_access_tokens and profile on create and on PATCH, stored, and
// an unknown profile refused naming the field.
func TestAdminBindingPolicy(t *testing.T) {
	env := newAdminEnv(t)
	code, app := env.call(adminKey, "POST", "/applications", map[string]any{
		"name": "bound", "scopes": []string{"sms"}, "dpop_bound_access_tokens": true, "profile": "FAPI2"})
	if code != 201 || app["dpop_bound_access_tokens"] != true || app["profile"] != "fapi2" {
		t.Fatalf("create: %d %v", code, app)
	}
	id := app["client_id"].(string)
	stored, err := env.store.GetApplication(t.Context(), id)
	if err != nil || !stored.DPoPBound || stored.Profile != store.ProfileFAPI2 {
		t.Fatalf("stored: %+v %v", stored, err)
	}
	code, app = env.call(adminKey, "PATCH", "/applications/"+id, map[string]any{"dpop_bound_access_tokens": false, "profile": "none"})
	if code != 200 || app["dpop_bound_access_tokens"] != false || app["profile"] != "none" {
		t.Fatalf("patch: %d %v", code, app)
	}
	code, body := env.call(adminKey, "PATCH", "/applications/"+id, map[string]any{"profile": "fapi1"})
	if code != 400 || body["field"] != "profile" {
		t.Errorf("unknown profile: %d %v, want 400 naming profile", code, body)
	}
	_, app = env.call(adminKey, "GET", "/applications/"+id, nil)
	if app["profile"] != "none" {
		t.Errorf("a refused patch changed the profile: %v", app["profile"])
	}
}
