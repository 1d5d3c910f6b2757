package dashboard_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/oauthd/oauthd/server/apps"
	"github.com/oauthd/oauthd/store/redis/redistest"
)

// The application page shows what quota holds the application and its
// use this hour against it; the form sets its own quotas and mode, a
// malformed quota answered by its field.
func TestQuotaOnTheApplicationPage(t *testing.T) {
	env := newTestEnv(t, redistest.Mini)
	app, secret := env.createApp(apps.NewApplication{Name: "metered", TokenQuota: "100/1h"})
	tok, err := http.PostForm(env.url+"/oauth/token", url.Values{"grant_type": {"client_credentials"}, "client_id": {app.ClientID}, "client_secret": {secret}})
	if err != nil || tok.StatusCode != http.StatusOK {
		t.Fatalf("token: %v %v", tok, err)
	}
	tok.Body.Close()
	b := env.signedIn()
	page := b.get("/dashboard/applications/" + app.ClientID)
	mustContain(t, "application page", page.body, `<dd id="quota-token">100/1h</dd>`, "1 of 100 tokens an hour", `<dd id="quota-mode">enforce (the default)</dd>`,
		`id="token_quota" name="token_quota" value="100/1h"`, `id="qm-default" name="quota_mode" value="" checked`)
	if strings.Contains(page.body, `id="quota-introspection"`) {
		t.Error("the page of an application that is no resource server shows an introspection budget")
	}

	form := url.Values{"name": {"metered"}, "scopes": {"sms", "tokens:introspect"}, "token_lifetime": {"24h"}, "token_format": {"opaque"},
		"token_quota": {"every hour"}, "introspection_quota": {""}, "quota_mode": {"monitor"}}
	a := b.post("/dashboard/applications/"+app.ClientID, form)
	if a.status != http.StatusBadRequest || !strings.Contains(a.body, `id="token-quota-error"`) {
		t.Fatalf("a malformed quota: %d, want the error by the quota field", a.status)
	}
	form.Set("token_quota", "unlimited")
	form.Set("introspection_quota", "500/1s")
	if a := b.post("/dashboard/applications/"+app.ClientID, form); a.status != http.StatusSeeOther {
		t.Fatalf("save: %d\n%s", a.status, a.body)
	}
	page = b.get("/dashboard/applications/" + app.ClientID)
	mustContain(t, "application page", page.body, `<dd id="quota-token">unlimited</dd>`, `<dd id="quota-introspection">500/1s, monitored only</dd>`,
		`<dd id="quota-mode">monitor</dd>`, `id="qm-monitor" name="quota_mode" value="monitor" checked`)
	if strings.Contains(page.body, `id="quota-use"`) {
		t.Error("an unlimited application's page shows its use against a quota")
	}
}
