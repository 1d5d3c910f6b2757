package dashboard_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/oauthd/oauthd/server/apps"
	"github.com/oauthd/oauthd/store"
	"github.com/oauthd/oauthd/store/redis/redistest"
)

// An operator sets an application's client authentication on its page in
// a real browser: the form shows (and sends) only the fields of the method
// chosen, none for a shared secret; pastes a PEM public key for private_key_jwt (confirming
// that the secrets go), sees the key's type, algorithm and thumbprint and
// no secret reset any more; a tls_client_auth without a subject is
// refused next to the form with the input kept; a subject DN is shown in
// its normal form; back to client_secret_basic, the new secret is shown
// once and gets a token. The pages are screenshotted and checked with
// axe-core like every other.
func TestBrowserClientAuth(t *testing.T) {
	t.Parallel()
	ctx := newBrowser(t)
	env := newTestEnv(t, redistest.Mini)
	u := &ui{t: t, ctx: ctx, axe: axeSource(t), shot: shotDir(t)}
	a, _ := env.createApp(apps.NewApplication{Name: "billing", Owner: "acct_7", Scopes: []string{"sms"}})
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.MarshalPKIXPublicKey(&k.PublicKey)
	pubPEM := string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))

	// empty empties a field (SetValue refuses "").
	empty := func(id string) chromedp.Action[chromedp.Void] {
		return chromedp.Evaluate[chromedp.Void](`document.getElementById("` + id + `").value = ""`)
	}
	u.do("sign in", chromedp.Navigate(env.url+"/dashboard/"), chromedp.WaitVisible(chromedp.CSS("#admin_key")),
		chromedp.SendKeys(chromedp.CSS("#admin_key"), env.key+kb.Enter), chromedp.WaitVisible(chromedp.CSS("#ov-issued")))
	appURL := env.url + "/dashboard/applications/" + a.ClientID
	u.do("application page", chromedp.Navigate(appURL), chromedp.WaitVisible(chromedp.CSS("#auth-form")))
	if m := u.text("#auth-method"); !strings.Contains(m, "shared secret") {
		t.Errorf("method of a new application %q", m)
	}
	// Its method (a shared secret either way) is the form's checked choice.
	checked, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(function(){var e=document.querySelector("input[name=token_endpoint_auth_method]:checked");return e?"["+e.value+"]":"none"})()`))
	if err != nil {
		t.Fatal(err)
	}
	if checked != "[]" {
		t.Errorf("checked method of a new application: %s, want the shared secret either way ([])", checked)
	}
	// Saved as it is, it changes nothing (before, the form had no method
	// checked and refused to be saved without one).
	u.do("save the form unchanged", chromedp.Click(chromedp.CSS("#auth-form button.primary")),
		chromedp.WaitVisible(chromedp.CSS("p.notice")))
	if n := u.text("p.notice"); !strings.Contains(n, "Nothing changed") {
		t.Errorf("notice %q", n)
	}
	if got, _, err := env.apps.Get(context.Background(), a.ClientID); err != nil || got.Auth.Method != "" || len(got.Secrets) != 1 {
		t.Fatalf("stored after an unchanged save: %+v, %d secrets, %v", got.Auth, len(got.Secrets), err)
	}
	// shown says which of the form's fields are shown (and so sent).
	shown := func(ids ...string) string {
		var out []string
		for _, id := range ids {
			ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(function(){var e=document.getElementById("`+id+`");return e.offsetParent!==null&&!e.disabled})()`))
			if err != nil {
				t.Fatal(err)
			}
			if ok {
				out = append(out, id)
			}
		}
		return strings.Join(out, " ")
	}
	fields := []string{"auth-jwks", "auth-jwks-uri", "auth-subject-dn", "auth-san-email", "auth-issuer", "auth-audience"}
	if got := shown(fields...); got != "" {
		t.Errorf("a shared-secret application's form shows %q, want no key or certificate field", got)
	}
	for _, c := range []struct{ method, want string }{
		{"private_key_jwt", "auth-jwks auth-jwks-uri auth-issuer auth-audience"},
		{"self_signed_tls_client_auth", "auth-jwks auth-jwks-uri"},
		{"tls_client_auth", "auth-subject-dn auth-san-email"},
		{"client_secret_jwt", ""},
	} {
		u.do("choose "+c.method, chromedp.Click(chromedp.CSS(`input[name=token_endpoint_auth_method][value=`+c.method+`]`)))
		if got := shown(fields...); got != c.want {
			t.Errorf("%s shows %q, want %q", c.method, got, c.want)
		}
	}
	u.do("choose private_key_jwt and paste a PEM key", chromedp.Click(chromedp.CSS(`input[name=token_endpoint_auth_method][value=private_key_jwt]`)),
		chromedp.SetValue(chromedp.CSS("#auth-jwks"), pubPEM), chromedp.Click(chromedp.CSS("#auth-form button.primary")),
		chromedp.WaitVisible(chromedp.CSS("#confirm")))
	if w := u.text("main"); !strings.Contains(w, "client secrets are deleted") {
		t.Errorf("confirmation %q", w)
	}
	u.do("confirm", chromedp.Click(chromedp.CSS("main form button.danger")), chromedp.WaitVisible(chromedp.CSS("#auth-keys")))
	if row := u.text("#auth-keys tbody"); !strings.Contains(row, "EC") || !strings.Contains(row, "ES256") {
		t.Errorf("keys table %q", row)
	}
	if m := u.text("#auth-method"); m != "private_key_jwt" {
		t.Errorf("method %q", m)
	}
	if n := u.text("#no-secret"); !strings.Contains(n, "no shared secret") {
		t.Errorf("secrets section %q", n)
	}
	if ok, _ := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.querySelector('form[action$="/secrets"]') === null && document.getElementById("grace_period") === null`)); !ok {
		t.Error("a key-only application offers a secret reset")
	}
	got, _, err := env.apps.Get(context.Background(), a.ClientID)
	if err != nil || got.Auth.Method != store.AuthPrivateKeyJWT || len(got.Secrets) != 0 || len(apps.Keys(got.Auth.JWKS)) != 1 {
		t.Fatalf("stored: %+v %v", got.Auth, err)
	}
	u.check("application-keys")

	// Refused: the error by the form, the input kept.
	// The keys stay in their (hidden) field: not sent with tls_client_auth.
	u.do("tls_client_auth without a subject", chromedp.Click(chromedp.CSS(`input[name=token_endpoint_auth_method][value=tls_client_auth]`)),
		chromedp.SetValue(chromedp.CSS("#auth-san-email"), "not an address"),
		chromedp.Click(chromedp.CSS("#auth-form button.primary")), chromedp.WaitVisible(chromedp.CSS("#auth-error")))
	if e := u.text("#auth-error"); !strings.Contains(e, "tls_client_auth_san_email") {
		t.Errorf("error %q", e)
	}
	if v, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById("auth-san-email").value`)); v != "not an address" {
		t.Errorf("the input was not kept: %q", v)
	}
	u.do("tls_client_auth with a subject DN", empty("auth-san-email"),
		chromedp.SetValue(chromedp.CSS("#auth-subject-dn"), "CN=billing, O=Example"),
		chromedp.Click(chromedp.CSS("#auth-form button.primary")), chromedp.WaitVisible(chromedp.CSS("#auth-subject")))
	if s := u.text("#auth-subject"); s != "CN=billing,O=Example" {
		t.Errorf("subject %q", s)
	}

	// Back to a shared secret: shown once, and it gets a token.
	// The subject stays in its hidden field, not sent with a secret method.
	u.do("back to client_secret_basic", chromedp.Click(chromedp.CSS(`input[name=token_endpoint_auth_method][value=client_secret_basic]`)),
		chromedp.Click(chromedp.CSS("#auth-form button.primary")),
		chromedp.WaitVisible(chromedp.CSS("#credential")))
	secret := u.text("#credential")
	u.do("activity", chromedp.Navigate(appURL), chromedp.WaitVisible(chromedp.CSS("#events-h")))
	if ev := u.text("#events-h + ul.events"); !strings.Contains(ev, "Authentication changed") || !strings.Contains(ev, "Secrets deleted") {
		t.Errorf("the activity list does not tell the authentication changes: %q", ev)
	}
	if got, _, _ := env.apps.Get(context.Background(), a.ClientID); !got.VerifySecret(secret, got.CreatedAt.Add(1)) || got.Auth.Method != store.AuthSecretBasic {
		t.Fatalf("the shown secret is not the application's: %+v", got.Auth)
	}

	// A new application made for a certificate from the start: no secret.
	u.do("new application with tls_client_auth", chromedp.Navigate(env.url+"/dashboard/applications/new"), chromedp.WaitVisible(chromedp.CSS("#name")),
		chromedp.SendKeys(chromedp.CSS("#name"), "mtls-daemon"), chromedp.Click(chromedp.CSS(`input[name=scopes][value="sms"]`)),
		chromedp.Click(chromedp.CSS("details.auth-new summary")),
		chromedp.Click(chromedp.CSS(`input[name=token_endpoint_auth_method][value=tls_client_auth]`)),
		chromedp.Click(chromedp.CSS("main form button.primary")), chromedp.WaitVisible(chromedp.CSS("#auth-error")))
	if e := u.text("#auth-error"); !strings.Contains(e, "tls_client_auth_subject_dn") {
		t.Errorf("new application without a subject: %q", e)
	}
	u.do("with a subject", chromedp.SendKeys(chromedp.CSS("#auth-subject-dn"), "CN=mtls-daemon"),
		chromedp.Click(chromedp.CSS("main form button.primary")), chromedp.WaitVisible(chromedp.CSS("#no-secret")))
	u.check("application-created-keys")
	if ok, _ := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.getElementById("client-secret") === null && document.getElementById("curl") === null`)); !ok {
		t.Error("a tls_client_auth application was shown a secret")
	}
	id := u.text("#client-id")
	if got, _, err := env.apps.Get(context.Background(), id); err != nil || got.Auth.SubjectDN != "CN=mtls-daemon" || len(got.Secrets) != 0 {
		t.Fatalf("created: %+v %v", got, err)
	}
}
