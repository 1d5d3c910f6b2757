package admin

import (
	"context"
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/oauthd/oauthd/server/admin/adminapi"
	"github.com/oauthd/oauthd/server/apps"
)

// GET /export gives every application whole, with its secrets' digests,
// and PUT /applications/{id} on another oauthd's Redis takes each back:
// the daemons' secrets, the one in its grace period included, get tokens
// there. Only admin keys handle digests; the export and the import are
// audited without them.
func TestExportImportDigests(t *testing.T) {
	from, to := newAdminEnv(t), newAdminEnv(t)
	app := from.createApp(apps.NewApplication{Name: "billing", Description: "invoices", Owner: "acct_1",
		Metadata: map[string]string{"env": "prod"}, Scopes: []string{"sms", "groups"}, TokenLifetime: "1h",
		IPAllowlist: []string{"127.0.0.0/8", "192.0.2.1"}, TokenFormat: "jwt", Audiences: []string{"https://sms.example"}})
	plain := from.createApp(apps.NewApplication{Owner: "acct_1"})
	_, newSecret, _, err := from.apps.ResetSecret(apps.WithActor(context.Background(), apps.Actor{Name: "test"}), plain.ClientID, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	off := false
	if _, err := from.apps.Update(apps.WithActor(context.Background(), apps.Actor{Name: "test"}), app.ClientID, apps.ApplicationPatch{Enabled: &off}); err != nil {
		t.Fatal(err)
	}

	code, raw := from.call(adminKey, "GET", "/export?limit=1", nil)
	if code != 200 || raw["next_cursor"] == nil {
		t.Fatalf("export page 1: %d %v", code, raw)
	}
	var pages []adminapi.ExportedApplication
	for cursor := ""; ; {
		var page adminapi.ApplicationExport
		code, raw := from.call(adminKey, "GET", "/export?limit=1&cursor="+cursor, nil)
		if code != 200 || json.Unmarshal([]byte(toJSON(raw)), &page) != nil {
			t.Fatalf("export: %d %v", code, raw)
		}
		pages = append(pages, page.Applications...)
		if cursor = page.NextCursor; cursor == "" {
			break
		}
	}
	// Both were made within a millisecond or so: find them by id.
	i := slices.IndexFunc(pages, func(a adminapi.ExportedApplication) bool { return a.ClientID == plain.ClientID })
	if len(pages) != 2 || i < 0 {
		t.Fatalf("exported %+v", pages)
	}
	exported := pages[i]
	if len(exported.SecretDigests) != 2 || exported.SecretDigests[0].ExpiresAt == nil || exported.SecretDigests[1].ExpiresAt != nil {
		t.Fatalf("exported %+v", exported)
	}
	for _, a := range pages {
		if code, out := to.call(adminKey, "PUT", "/applications/"+a.ClientID, a.ImportApplicationRequest); code != 201 {
			t.Fatalf("import %s: %d %v", a.ClientID, code, out)
		}
	}
	// Every field arrived as it was.
	strip := func(m map[string]any) map[string]any {
		m = maps.Clone(m)
		for _, k := range []string{"created_at", "updated_at", "last_used_at", "tokens_issued"} {
			delete(m, k)
		}
		secrets := m["secrets"].([]any)
		for i := range secrets {
			s := maps.Clone(secrets[i].(map[string]any))
			delete(s, "last_used_at")
			secrets[i] = s
		}
		return m
	}
	for _, id := range []string{app.ClientID, plain.ClientID} {
		_, was := from.call(adminKey, "GET", "/applications/"+id, nil)
		_, is := to.call(adminKey, "GET", "/applications/"+id, nil)
		if a, b := toJSON(strip(was)), toJSON(strip(is)); a != b {
			t.Errorf("%s exported as\n%s\nimported as\n%s", id, a, b)
		}
	}
	for _, secret := range []string{plain.Secret, newSecret} {
		if code, _ := to.tokenFor(plain.ClientID, secret, ""); code != 200 {
			t.Errorf("a secret of the export gets %d from the importing side", code)
		}
	}
	if code, _ := to.tokenFor(app.ClientID, app.Secret, ""); code != 401 {
		t.Errorf("an application exported disabled gets %d", code)
	}

	// The audit logs say what moved, never a digest.
	digest := exported.SecretDigests[0].SHA256
	for name, env := range map[string]*adminEnv{"exporting": from, "importing": to} {
		_, ev := env.call(adminKey, "GET", "/events", nil)
		if s := toJSON(ev); strings.Contains(s, digest) {
			t.Errorf("the %s audit log holds a digest: %s", name, s)
		}
	}
	if _, ev := from.call(adminKey, "GET", "/events?kind=applications.exported", nil); !strings.Contains(toJSON(ev), `"secrets":"digests"`) {
		t.Errorf("export not audited: %v", ev)
	}
	if _, ev := to.call(adminKey, "GET", "/events?client_id="+plain.ClientID, nil); !strings.Contains(toJSON(ev), `"secrets":"digests"`) {
		t.Errorf("digest import not audited as such: %v", ev)
	}

	// A delegated administrator handles no digests.
	mgr := to.createApp(apps.NewApplication{Scopes: []string{"sms", "applications"}, Owner: "acct_1", TokenLifetime: "1h"})
	_, tok := to.tokenFor(mgr.ClientID, mgr.Secret, "")
	if code, out := to.call(tok, "GET", "/export", nil); code != 403 {
		t.Errorf("a delegate exporting digests: %d %v", code, out)
	}
	if code, out := to.call(tok, "GET", "/export?secrets=none", nil); code != 200 || strings.Contains(toJSON(out), "secret_digests") {
		t.Errorf("a delegate exporting without secrets: %d %v", code, out)
	}
	entry := exported.ImportApplicationRequest
	entry.TokenLifetime = "30m"
	if code, out := to.call(tok, "PUT", "/applications/by-delegate", entry); code != 403 || !strings.Contains(toJSON(out), "admin key") {
		t.Errorf("a delegate importing digests: %d %v", code, out)
	}

	bad := func(edit func(*adminapi.ImportApplicationRequest)) adminapi.ImportApplicationRequest {
		in := exported.ImportApplicationRequest
		in.SecretDigests = append([]adminapi.SecretDigest(nil), in.SecretDigests...)
		edit(&in)
		return in
	}
	past := time.Now().Add(-time.Minute)
	for name, in := range map[string]adminapi.ImportApplicationRequest{
		"digest not hex":   bad(func(in *adminapi.ImportApplicationRequest) { in.SecretDigests[0].SHA256 = "zz" }),
		"digest too short": bad(func(in *adminapi.ImportApplicationRequest) { in.SecretDigests[0].SHA256 = digest[:62] }),
		"id twice":         bad(func(in *adminapi.ImportApplicationRequest) { in.SecretDigests[1].ID = in.SecretDigests[0].ID }),
		"bad id":           bad(func(in *adminapi.ImportApplicationRequest) { in.SecretDigests[0].ID = "a b" }),
		"no created_at":    bad(func(in *adminapi.ImportApplicationRequest) { in.SecretDigests[0].CreatedAt = time.Time{} }),
		"all expired": bad(func(in *adminapi.ImportApplicationRequest) {
			in.SecretDigests = in.SecretDigests[:1]
			in.SecretDigests[0].CreatedAt, in.SecretDigests[0].ExpiresAt = past.Add(-time.Hour), &past
		}),
		"clear and digests": bad(func(in *adminapi.ImportApplicationRequest) { in.ClientSecret = "Keycloak-Generated-Secret-0123456789" }),
	} {
		code, out := to.call(adminKey, "PUT", "/applications/rejected", in)
		if code != 400 || (out["field"] != "secret_digests" && out["field"] != "client_secret") {
			t.Errorf("%s: %d %v, want 400 on secret_digests or client_secret", name, code, out)
		}
	}
	if code, out := from.call(adminKey, "GET", "/export?secrets=all", nil); code != 400 || out["field"] != "secrets" {
		t.Errorf("export with secrets=all: %d %v", code, out)
	}
}
