package dashboard_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/oauthd/oauthd/server/apps"
	"github.com/oauthd/oauthd/store"
	"github.com/oauthd/oauthd/store/redis/redistest"
)

// The application page shows and its form sets the binding policy (issue
// 19): DPoP-bound tokens only and the profile, read strictly.
func TestBindingPolicyOnTheApplicationPage(t *testing.T) {
	env := newTestEnv(t, redistest.Mini)
	app, _ := env.createApp(apps.NewApplication{Name: "bound"})
	b := env.signedIn()
	path := "/dashboard/applications/" + app.ClientID
	page := b.get(path)
	mustContain(t, "application page", page.body, `<dd id="binding">the server&#39;s default profile</dd>`,
		`id="profile-default" name="profile" value="" checked`)
	if strings.Contains(page.body, `name="dpop_bound" value="on" checked`) {
		t.Error("an application without the policy shows DPoP-bound checked")
	}
	form := url.Values{"name": {"bound"}, "scopes": {"sms"}, "token_lifetime": {"24h"}, "token_format": {"opaque"},
		"dpop_bound": {"on"}, "profile": {"fapi1"}}
	if a := b.post(path, form); a.status != http.StatusBadRequest || !strings.Contains(a.body, "which sends") {
		t.Fatalf("profile=fapi1: %d, want 400 saying what the form sends", a.status)
	}
	form.Set("profile", "fapi2")
	if a := b.post(path, form); a.status != http.StatusSeeOther {
		t.Fatalf("save: %d\n%s", a.status, a.body)
	}
	got, err := env.store.GetApplication(context.Background(), app.ClientID)
	if err != nil || !got.DPoPBound || got.Profile != store.ProfileFAPI2 {
		t.Fatalf("stored: DPoPBound %v, Profile %q, %v", got.DPoPBound, got.Profile, err)
	}
	page = b.get(path)
	mustContain(t, "application page", page.body, "FAPI 2.0: DPoP or certificate-bound tokens only; DPoP-bound tokens only",
		`name="dpop_bound" value="on" checked`, `id="profile-fapi2" name="profile" value="fapi2" checked`)
	form.Del("dpop_bound")
	form.Set("profile", "")
	if a := b.post(path, form); a.status != http.StatusSeeOther {
		t.Fatalf("save: %d", a.status)
	}
	if got, _ := env.store.GetApplication(context.Background(), app.ClientID); got.DPoPBound || got.Profile != "" {
		t.Errorf("cleared: DPoPBound %v, Profile %q", got.DPoPBound, got.Profile)
	}
}
