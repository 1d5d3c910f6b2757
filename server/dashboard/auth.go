package dashboard

import (
	"errors"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/oauthd/oauthd/server/apps"
	"github.com/oauthd/oauthd/store"
)

// authView is an application's client authentication as the application
// page shows it: the method, and its keys, URL, certificate subject or
// trusted issuer.
type authView struct {
	// Method is the stored method, "" for a shared secret by either
	// classic method.
	Method string
	// UsesSecret: the method authenticates with a shared secret, so the
	// page offers secret resets.
	UsesSecret bool
	Keys       []apps.KeyInfo
	JWKSURI    string
	// Subject names the certificate field tls_client_auth matches, and
	// its value.
	SubjectField, Subject string
	// Issuer, IssuerSubject, IssuerAudience and IssuerJWKSURI are the
	// trusted issuer of workload identity.
	Issuer, IssuerSubject, IssuerAudience, IssuerJWKSURI string
}

func authViewOf(c store.ClientAuth) authView {
	v := authView{Method: c.Method, UsesSecret: c.UsesSecret(), Keys: apps.Keys(c.JWKS), JWKSURI: c.JWKSURI,
		Issuer: c.TrustedIssuer, IssuerSubject: c.TrustedSubject, IssuerAudience: c.TrustedAudience, IssuerJWKSURI: c.TrustedJWKSURI}
	for _, f := range []struct{ name, v string }{
		{"Subject DN", c.SubjectDN}, {"SAN DNS name", c.SANDNS}, {"SAN URI", c.SANURI}, {"SAN IP address", c.SANIP}, {"SAN email", c.SANEmail},
	} {
		if f.v != "" {
			v.SubjectField, v.Subject = f.name, f.v
		}
	}
	return v
}

// authMethods are the choices of the form, in the order of the metadata
// documents, after the shared secret of either classic method.
var authMethods = append([]string{""}, store.AuthMethods...)

// authForm is the authentication form as posted (or, on the page, as
// the application has it), kept when refused so the operator's input
// stays.
type authForm struct {
	Method, Keys, JWKSURI                      string
	SubjectDN, SANDNS, SANURI, SANIP, SANEmail string
	Issuer, Subject, Audience, IssuerJWKS      string
	Methods                                    []string
	// Legacy offers the shared secret sent either way (method ""), the
	// default of a new application.
	Legacy bool
	// Field is the field a refusal names, Error its message.
	Field, Error string
}

// authFormOf is the form filled with what the application has: its keys
// as the JWK Set, so saving again changes nothing.
func authFormOf(c store.ClientAuth) authForm {
	return authForm{Method: c.Method, Keys: string(c.JWKS), JWKSURI: c.JWKSURI, SubjectDN: c.SubjectDN, SANDNS: c.SANDNS,
		SANURI: c.SANURI, SANIP: c.SANIP, SANEmail: c.SANEmail, Issuer: c.TrustedIssuer, Subject: c.TrustedSubject,
		Audience: c.TrustedAudience, IssuerJWKS: c.TrustedJWKSURI, Methods: authMethods,
		// An application that takes its secret either way (the default)
		// sees that choice, checked: otherwise no method would be, and a
		// save of the form would have to pick one of the two.
		Legacy: c.Method == ""}
}

func readAuthForm(c echo.Context) authForm {
	v := func(k string) string { return strings.TrimSpace(c.FormValue(k)) }
	return authForm{Method: v("token_endpoint_auth_method"), Keys: v("jwks"), JWKSURI: v("jwks_uri"),
		SubjectDN: v("tls_client_auth_subject_dn"), SANDNS: v("tls_client_auth_san_dns"), SANURI: v("tls_client_auth_san_uri"),
		SANIP: v("tls_client_auth_san_ip"), SANEmail: v("tls_client_auth_san_email"),
		Issuer: v("workload_issuer"), Subject: v("workload_subject"), Audience: v("workload_audience"), IssuerJWKS: v("workload_jwks_uri"),
		Methods: authMethods}
}

// authField reports whether a refusal's field is one of the
// authentication form's.
func authField(field string) bool {
	for _, p := range []string{"token_endpoint_auth_method", "jwks", "tls_client_auth_", "workload_identity"} {
		if strings.HasPrefix(field, p) {
			return true
		}
	}
	return false
}

// clientAuth is what the form sets, its keys read as operators paste
// them (apps.ParseKeys).
func (f authForm) clientAuth() (store.ClientAuth, error) {
	jwks, err := apps.ParseKeys([]byte(f.Keys))
	if err != nil {
		return store.ClientAuth{}, err
	}
	return store.ClientAuth{Method: f.Method, JWKS: jwks, JWKSURI: f.JWKSURI, SubjectDN: f.SubjectDN, SANDNS: f.SANDNS,
		SANURI: f.SANURI, SANIP: f.SANIP, SANEmail: f.SANEmail, TrustedIssuer: f.Issuer, TrustedSubject: f.Subject,
		TrustedAudience: f.Audience, TrustedJWKSURI: f.IssuerJWKS}, nil
}

// setAuth answers the authentication form: the method and its material
// replace the application's. A move from a secret to keys removes its
// secrets, so it is confirmed first; a move to a secret method shows the
// new secret once.
func (d *Dashboard) setAuth(c echo.Context) error {
	f := readAuthForm(c)
	failed := func(err error) error {
		return d.actionFailed(c, "auth", err, func(v *appView) {
			f.Error = apps.ErrorMessage(err)
			var e *apps.Error
			if errors.As(err, &e) {
				f.Field = e.Field
			}
			f.Legacy = v.AuthForm.Legacy // as the application's page offers it
			v.AuthForm = f
			delete(v.Errors, "auth")
		})
	}
	a, _, err := d.apps.Get(c.Request().Context(), c.Param("id"))
	if err != nil {
		return failed(err)
	}
	if f.Method == "" {
		// The shared secret either way is offered only to an application
		// that has it (authFormOf): saved as it is, nothing changes. An
		// application cannot move back to it: one of the two methods
		// says how its daemons send the secret.
		if a.Auth.Method == "" {
			return d.done(c, "auth-same")
		}
		return failed(apps.Invalid("token_endpoint_auth_method", "choose how the application authenticates"))
	}
	auth, err := f.clientAuth()
	if err != nil {
		return failed(err)
	}
	if a.Auth.UsesSecret() && !auth.UsesSecret() && len(a.Secrets) > 0 {
		if ok, err := d.confirmed(c, "Move %s to "+f.Method+"?",
			"Its client secrets are deleted: daemons still using one can get no new tokens. After this it has no shared secret at all.", "Move to "+f.Method); !ok {
			return err
		}
	}
	a, secret, err := d.apps.Patch(c.Request().Context(), c.Param("id"), apps.ApplicationPatch{Auth: &auth})
	if err != nil {
		return failed(err)
	}
	if secret == "" {
		return d.done(c, "auth")
	}
	v := secretView{App: applicationOf(a, store.Usage{}), Heading: "New client secret", Label: "Client secret", Value: secret,
		Note: "It authenticates with " + f.Method + " from now on."}
	if f.Method == store.AuthSecretBasic {
		v.Curl = d.curl(a.ClientID, secret) // HTTP Basic, the one method curl's example shows
	}
	return d.render(c, http.StatusCreated, "secret", page{Title: "New secret", Nav: "apps", Data: v})
}
