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

// The authentication form of an application that takes its secret either
// way (method "", every application's default) has that choice checked,
// and saving it so changes nothing; an application on one of the two
// methods is not offered it, and a form that sends it anyway is refused.
func TestAuthFormSecretEitherWay(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t, redistest.Mini)
	either, b := env.appPage("either")
	page := b.get("/dashboard/applications/" + either.ClientID)
	radio := `name="token_endpoint_auth_method" value="" checked`
	if !strings.Contains(page.body, radio) {
		t.Fatalf("the page of an application taking its secret either way has no checked choice for it (%s)", radio)
	}
	// Method names wrap only after an underscore, not mid-word, in a
	// phone's column.
	if !strings.Contains(page.body, "<code>client_<wbr>secret_<wbr>basic</code> or <code>client_<wbr>secret_<wbr>post</code>") {
		t.Error("the method fact's names may break inside a word")
	}
	a := b.post("/dashboard/applications/"+either.ClientID+"/auth", url.Values{"token_endpoint_auth_method": {""}})
	if a.status != http.StatusSeeOther || !strings.HasSuffix(a.header.Get("Location"), "done=auth-same") {
		t.Fatalf("saving it unchanged answered %d %s: %s", a.status, a.header.Get("Location"), a.body)
	}
	if got, _, err := env.apps.Get(context.Background(), either.ClientID); err != nil || got.Auth.Method != "" || len(got.Secrets) != 1 {
		t.Fatalf("stored: %+v, %d secrets, %v", got.Auth, len(got.Secrets), err)
	}

	basic, _ := env.createApp(apps.NewApplication{Name: "basic"})
	ctx := apps.WithActor(context.Background(), apps.Actor{Name: "test"})
	if _, _, err := env.apps.Patch(ctx, basic.ClientID, apps.ApplicationPatch{Auth: &store.ClientAuth{Method: store.AuthSecretBasic}}); err != nil {
		t.Fatal(err)
	}
	page = b.get("/dashboard/applications/" + basic.ClientID)
	if strings.Contains(page.body, `name="token_endpoint_auth_method" value=""`) {
		t.Error("a client_secret_basic application is offered the secret either way")
	}
	if !strings.Contains(page.body, `value="client_secret_basic" checked`) {
		t.Error("a client_secret_basic application's method is not checked")
	}
	a = b.post("/dashboard/applications/"+basic.ClientID+"/auth", url.Values{"token_endpoint_auth_method": {""}})
	if a.status != http.StatusBadRequest || !strings.Contains(a.body, "choose how the application authenticates") {
		t.Fatalf("moving back to the secret either way answered %d: %s", a.status, a.body)
	}
	if got, _, err := env.apps.Get(context.Background(), basic.ClientID); err != nil || got.Auth.Method != store.AuthSecretBasic {
		t.Fatalf("stored: %+v, %v", got.Auth, err)
	}
}
