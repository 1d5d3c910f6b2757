package admin

import (
	"cmp"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/oauthd/oauthd/server/admin/adminapi"
	"github.com/oauthd/oauthd/server/apps"
	"github.com/oauthd/oauthd/server/signing"
	"github.com/oauthd/oauthd/store"
)

// The answers are adminapi's shapes, made here from the service's
// records: nothing the service holds reaches the wire unless named here,
// and a secret's digest only in an export (exportedOf), which admin keys
// alone may ask for.

// applicationOf is an application with its usage (the zero Usage for
// answers that show none). Empty lists and maps are [] and {}, never null.
func applicationOf(a store.Application, u store.Usage) adminapi.Application {
	metadata := a.Metadata
	if metadata == nil {
		metadata = map[string]string{}
	}
	return adminapi.Application{
		ClientID:           a.ClientID,
		Name:               a.Name,
		Description:        a.Description,
		Owner:              a.Owner,
		Metadata:           metadata,
		TokenFormat:        cmp.Or(a.TokenFormat, store.TokenOpaque),
		Audiences:          orEmpty(a.Audiences),
		Scopes:             orEmpty(a.Scopes),
		TokenLifetime:      apps.FormatLifetime(a.TokenLifetime),
		IPAllowlist:        apps.FormatAllowlist(a.IPAllowlist),
		Enabled:            a.Enabled,
		TokenQuota:         apps.FormatQuota(a.TokenQuota),
		IntrospectionQuota: apps.FormatQuota(a.IntrospectionQuota),
		QuotaMode:          a.QuotaMode,
		DPoPBound:          a.DPoPBound,
		Profile:            a.Profile,
		ClientAuth:         authOf(a.Auth),
		CreatedAt:          a.CreatedAt,
		UpdatedAt:          a.UpdatedAt,
		LastUsedAt:         timePtr(u.LastUsed),
		TokensIssued:       u.Issued,
		Secrets:            secretsOf(a, u),
	}
}

func secretsOf(a store.Application, u store.Usage) []adminapi.Secret {
	out := make([]adminapi.Secret, 0, len(a.Secrets))
	for _, s := range a.Secrets {
		out = append(out, adminapi.Secret{
			ID: s.ID, CreatedAt: s.CreatedAt, ExpiresAt: timePtr(s.ExpiresAt), LastUsedAt: timePtr(u.SecretLastUsed[s.ID]),
		})
	}
	return out
}

func orEmpty(list []string) []string {
	if list == nil {
		return []string{}
	}
	return list
}

// timePtr is nil for the zero time, so JSON shows null for "never".
func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func tokenOf(t store.Token) adminapi.Token {
	return adminapi.Token{JTI: t.ID, Kind: cmp.Or(t.Kind, "access_token"), Name: t.Name, Scopes: t.Scopes,
		IssuedAt: t.IssuedAt, ExpiresAt: timePtr(t.ExpiresAt)}
}

func eventOf(e store.Event) adminapi.Event {
	return adminapi.Event{ID: e.ID, Time: e.Time, Kind: e.Kind, Actor: e.Actor, ClientID: e.ClientID, IP: e.IP, Detail: e.Detail}
}

func signingKeyOf(k signing.Key) adminapi.SigningKey {
	return adminapi.SigningKey{KID: k.ID, Alg: k.Alg, CreatedAt: k.CreatedAt, SignsFrom: k.ActiveAt, RetiresAt: timePtr(k.RetireAt)}
}

// exportedOf is an application as PUT /applications/{id} takes it back:
// every field, its authentication (method and keys, nothing secret),
// enabled, and its secrets' digests (and sealed copies) when the service
// gave them (an export with secrets).
func exportedOf(a store.Application) adminapi.ExportedApplication {
	app := applicationOf(a, store.Usage{})
	enabled := a.Enabled
	out := adminapi.ExportedApplication{ClientID: a.ClientID, ImportApplicationRequest: adminapi.ImportApplicationRequest{
		NewApplicationRequest: adminapi.NewApplicationRequest{
			Name: app.Name, Description: app.Description, Scopes: app.Scopes, Owner: app.Owner, Metadata: app.Metadata,
			TokenLifetime: app.TokenLifetime, IPAllowlist: app.IPAllowlist, TokenFormat: app.TokenFormat, Audiences: app.Audiences,
			TokenQuota: app.TokenQuota, IntrospectionQuota: app.IntrospectionQuota, QuotaMode: app.QuotaMode,
			DPoPBound: app.DPoPBound, Profile: app.Profile,
			ClientAuth: app.ClientAuth,
		},
		Enabled: &enabled,
	}}
	for _, s := range a.Secrets {
		out.SecretDigests = append(out.SecretDigests, adminapi.SecretDigest{
			ID: s.ID, SHA256: hex.EncodeToString(s.Digest[:]), CreatedAt: s.CreatedAt, ExpiresAt: timePtr(s.ExpiresAt),
			Sealed: s.Sealed,
		})
	}
	return out
}

// secretsFrom reads the secret digests of an import request.
func secretsFrom(list []adminapi.SecretDigest) ([]store.Secret, error) {
	var out []store.Secret
	for _, d := range list {
		s := store.Secret{ID: d.ID, CreatedAt: d.CreatedAt, Sealed: d.Sealed}
		b, err := hex.DecodeString(d.SHA256)
		if err != nil || len(b) != len(s.Digest) {
			return nil, apps.Invalid("secret_digests", fmt.Sprintf("secret %q: sha256 must be 64 hex digits", truncate(d.ID, 40)))
		}
		copy(s.Digest[:], b)
		if d.ExpiresAt != nil {
			s.ExpiresAt = *d.ExpiresAt
		}
		out = append(out, s)
	}
	return out, nil
}

// authOf is an application's authentication as the admin API shows it:
// the RFC 7591 / RFC 8705 client metadata.
func authOf(c store.ClientAuth) adminapi.ClientAuth {
	out := adminapi.ClientAuth{
		TokenEndpointAuthMethod: c.Method, JWKS: c.JWKS, JWKSURI: c.JWKSURI,
		TLSClientAuthSubjectDN: c.SubjectDN, TLSClientAuthSANDNS: c.SANDNS, TLSClientAuthSANURI: c.SANURI,
		TLSClientAuthSANIP: c.SANIP, TLSClientAuthSANEmail: c.SANEmail,
	}
	if c.TrustedIssuer != "" {
		out.WorkloadIdentity = &adminapi.WorkloadIdentity{Issuer: c.TrustedIssuer, JWKSURI: c.TrustedJWKSURI,
			Subject: c.TrustedSubject, Audience: c.TrustedAudience}
	}
	return out
}

// authFrom is authOf's inverse, for requests; the service validates it.
func authFrom(c adminapi.ClientAuth) store.ClientAuth {
	out := store.ClientAuth{
		Method: c.TokenEndpointAuthMethod, JWKS: c.JWKS, JWKSURI: c.JWKSURI,
		SubjectDN: c.TLSClientAuthSubjectDN, SANDNS: c.TLSClientAuthSANDNS, SANURI: c.TLSClientAuthSANURI,
		SANIP: c.TLSClientAuthSANIP, SANEmail: c.TLSClientAuthSANEmail,
	}
	if w := c.WorkloadIdentity; w != nil {
		out.TrustedIssuer, out.TrustedJWKSURI, out.TrustedSubject, out.TrustedAudience = w.Issuer, w.JWKSURI, w.Subject, w.Audience
	}
	return out
}

// newApplicationFrom is a create (or import) request as the service takes it.
func newApplicationFrom(r adminapi.NewApplicationRequest) apps.NewApplication {
	return apps.NewApplication{
		Name: r.Name, Description: r.Description, Scopes: r.Scopes, Owner: r.Owner, Metadata: r.Metadata,
		TokenLifetime: r.TokenLifetime, IPAllowlist: r.IPAllowlist, TokenFormat: r.TokenFormat, Audiences: r.Audiences,
		TokenQuota: r.TokenQuota, IntrospectionQuota: r.IntrospectionQuota, QuotaMode: r.QuotaMode,
		Auth: authFrom(r.ClientAuth), DPoPBound: r.DPoPBound, Profile: r.Profile,
	}
}

// patchFrom is a PATCH request as the service takes it: the
// authentication only when the request sets some of it.
func patchFrom(r adminapi.ApplicationPatchRequest) apps.ApplicationPatch {
	p := apps.ApplicationPatch{
		Name: r.Name, Description: r.Description, Scopes: r.Scopes, TokenLifetime: r.TokenLifetime, IPAllowlist: r.IPAllowlist,
		Enabled: r.Enabled, Owner: r.Owner, Metadata: r.Metadata, TokenFormat: r.TokenFormat, Audiences: r.Audiences,
		TokenQuota: r.TokenQuota, IntrospectionQuota: r.IntrospectionQuota, QuotaMode: r.QuotaMode,
		DPoPBound: r.DPoPBound, Profile: r.Profile,
	}
	if !r.ClientAuth.IsZero() {
		auth := authFrom(r.ClientAuth)
		p.Auth = &auth
	}
	return p
}
