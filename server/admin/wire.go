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
// every field, enabled, and its secrets' digests when the service gave
// them (an export with secrets).
func exportedOf(a store.Application) adminapi.ExportedApplication {
	app := applicationOf(a, store.Usage{})
	enabled := a.Enabled
	out := adminapi.ExportedApplication{ClientID: a.ClientID, ImportApplicationRequest: adminapi.ImportApplicationRequest{
		NewApplicationRequest: adminapi.NewApplicationRequest{
			Name: app.Name, Description: app.Description, Scopes: app.Scopes, Owner: app.Owner, Metadata: app.Metadata,
			TokenLifetime: app.TokenLifetime, IPAllowlist: app.IPAllowlist, TokenFormat: app.TokenFormat, Audiences: app.Audiences,
			TokenQuota: app.TokenQuota, IntrospectionQuota: app.IntrospectionQuota, QuotaMode: app.QuotaMode,
			DPoPBound: app.DPoPBound, Profile: app.Profile,
		},
		Enabled: &enabled,
	}}
	for _, s := range a.Secrets {
		out.SecretDigests = append(out.SecretDigests, adminapi.SecretDigest{
			ID: s.ID, SHA256: hex.EncodeToString(s.Digest[:]), CreatedAt: s.CreatedAt, ExpiresAt: timePtr(s.ExpiresAt),
		})
	}
	return out
}

// secretsFrom reads the secret digests of an import request.
func secretsFrom(list []adminapi.SecretDigest) ([]store.Secret, error) {
	var out []store.Secret
	for _, d := range list {
		s := store.Secret{ID: d.ID, CreatedAt: d.CreatedAt}
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
