package dashboard_test

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/oauthd/oauthd/scopes"
	"github.com/oauthd/oauthd/server/apps"
	"github.com/oauthd/oauthd/store/redis/redistest"
)

// The Scopes page lists the catalogue in Redis and changes it: a scope
// added there is offered by the application form (with its group form);
// deleting a held scope first names its holders, and confirming takes it
// from them; tokens:introspect has no delete button and cannot be deleted.
func TestScopesPage(t *testing.T) {
	env := newTestEnv(t, redistest.Mini)
	b := env.signedIn()
	page := b.get("/dashboard/scopes")
	mustContain(t, "the scopes page", page.body, "<code>sms</code>", "Send SMS messages", "<code>all:any</code>", `id="scope-name"`)
	if strings.Contains(page.body, `name="name" value="tokens:introspect"`) {
		t.Error("tokens:introspect has a delete button")
	}

	a := b.post("/dashboard/scopes", url.Values{"name": {"messages:send"}, "description": {"Send any message"}})
	if a.status != http.StatusSeeOther || a.header.Get("Location") != "/dashboard/scopes?done=scope-added" {
		t.Fatalf("adding a scope: %d %s", a.status, a.header.Get("Location"))
	}
	mustContain(t, "the page after adding", b.get("/dashboard/scopes?done=scope-added").body, "Scope added", "<code>messages:send</code>", "<code>messages:*</code>")
	if a := b.get("/dashboard/scopes?edit=messages:send"); !strings.Contains(a.body, `value="Send any message"`) {
		t.Error("?edit does not fill the form with the scope's description")
	}
	mustContain(t, "the new application form", b.get("/dashboard/applications/new").body, `value="messages:send"`, `value="messages:*"`, `value="all:any"`)

	a = b.post("/dashboard/scopes", url.Values{"name": {"all:any"}, "description": {"x"}})
	if a.status != http.StatusBadRequest || !strings.Contains(a.body, `id="scope-name-error"`) || !strings.Contains(a.body, `value="all:any"`) {
		t.Fatalf("adding all:any: %d, want 400 by the name field, what was typed kept", a.status)
	}

	holder, _ := env.createApp(apps.NewApplication{Name: "holder", Scopes: []string{"sms messages:send"}})
	b.get("/dashboard/scopes")
	a = b.post("/dashboard/scopes/delete", url.Values{"name": {"messages:send"}})
	if a.status != http.StatusOK || !strings.Contains(a.body, `id="holders"`) || !strings.Contains(a.body, holder.ClientID) || !strings.Contains(a.body, `name="force" value="true"`) {
		t.Fatalf("deleting a held scope: %d, want a confirmation naming the holder\n%s", a.status, a.body)
	}
	if cat, _ := env.apps.Catalogue(context.Background()); !cat.Has("messages:send") {
		t.Fatal("asking deleted")
	}
	a = b.post("/dashboard/scopes/delete", url.Values{"name": {"messages:send"}, "confirm": {"yes"}, "force": {"true"}})
	if a.status != http.StatusSeeOther {
		t.Fatalf("confirmed deletion: %d\n%s", a.status, a.body)
	}
	if got, _, _ := env.apps.Get(context.Background(), holder.ClientID); !slices.Equal(got.Scopes, []string{"sms"}) {
		t.Fatalf("the holder after the deletion: %v", got.Scopes)
	}
	// Confirmed without force while held (a holder came meanwhile): asked
	// again, naming it.
	env.createApp(apps.NewApplication{Name: "late", Scopes: []string{"viber"}})
	b.get("/dashboard/scopes")
	if a := b.post("/dashboard/scopes/delete", url.Values{"name": {"viber"}, "confirm": {"yes"}}); a.status != http.StatusOK || !strings.Contains(a.body, `id="holders"`) {
		t.Fatalf("a confirmed deletion of a held scope without force: %d", a.status)
	}
	b.get("/dashboard/scopes")
	if a := b.post("/dashboard/scopes/delete", url.Values{"name": {scopes.Introspect}, "confirm": {"yes"}, "force": {"true"}}); a.status != http.StatusForbidden {
		t.Fatalf("deleting tokens:introspect: %d, want 403", a.status)
	}
	b.get("/dashboard/scopes")
	if a := b.post("/dashboard/scopes/delete", url.Values{"name": {"nonesuch"}}); a.status != http.StatusNotFound {
		t.Fatalf("deleting an unknown scope: %d, want 404", a.status)
	}
}

// A delegated administrator sees the catalogue without the forms that
// change it, and a crafted post is refused.
func TestScopesPageDelegated(t *testing.T) {
	env := newTestEnv(t, redistest.Mini)
	portal, secret := env.createApp(apps.NewApplication{Name: "portal", Owner: "acct_1", Scopes: []string{scopes.Admin, "sms"}})
	b := env.browser()
	b.signIn(url.Values{"method": {"client"}, "client_id": {portal.ClientID}, "client_secret": {secret}})
	page := b.get("/dashboard/scopes")
	mustContain(t, "a delegate's scopes page", page.body, "<code>sms</code>", "an admin key changes it")
	if strings.Contains(page.body, `id="scope-name"`) || strings.Contains(page.body, "/dashboard/scopes/delete") {
		t.Error("a delegate is offered forms that change the catalogue")
	}
	for path, form := range map[string]url.Values{
		"/dashboard/scopes":        {"name": {"x"}, "description": {"y"}},
		"/dashboard/scopes/delete": {"name": {"viber"}, "confirm": {"yes"}, "force": {"true"}},
	} {
		b.get("/dashboard/scopes")
		if a := b.post(path, form); a.status != http.StatusForbidden {
			t.Errorf("a delegate's POST %s: %d, want 403", path, a.status)
		}
	}
	if cat, _ := env.apps.Catalogue(context.Background()); cat.Has("x") || !cat.Has("viber") {
		t.Fatal("a delegate changed the catalogue")
	}
}
