package dashboard

import (
	"cmp"
	"time"

	"github.com/oauthd/oauthd/server/apps"
	"github.com/oauthd/oauthd/store"
)

// application is an application as the pages show it: the record and its
// usage, with the lifetime and the allowlist as an operator writes them.
// Zero times read "never" (the when function).
type application struct {
	ClientID, Name, Description, Owner string
	Metadata                           map[string]string
	// TokenFormat is opaque or jwt.
	TokenFormat   string
	TokenLifetime string
	Audiences     []string
	Scopes        []string
	IPAllowlist   []string
	// TokenQuota, IntrospectionQuota and QuotaMode are its own, as the
	// service writes them ("" for the server's).
	TokenQuota, IntrospectionQuota, QuotaMode string
	Enabled                                   bool
	CreatedAt                                 time.Time
	LastUsedAt                                time.Time
	TokensIssued                              int64
	Secrets                                   []secretRow
	// Auth is how it authenticates (issue 18).
	Auth authView
	// DPoPBound and Profile are its binding policy (binding.go).
	DPoPBound bool
	Profile   string
}

// secretRow describes a client secret, never its value.
type secretRow struct {
	ID                               string
	CreatedAt, ExpiresAt, LastUsedAt time.Time
}

// applicationOf is what the pages show of an application and its usage
// (the zero Usage on pages that show none).
func applicationOf(a store.Application, u store.Usage) application {
	out := application{
		ClientID: a.ClientID, Name: a.Name, Description: a.Description, Owner: a.Owner, Metadata: a.Metadata,
		TokenFormat:   cmp.Or(a.TokenFormat, store.TokenOpaque),
		TokenLifetime: apps.FormatLifetime(a.TokenLifetime),
		Audiences:     a.Audiences, Scopes: a.Scopes, IPAllowlist: apps.FormatAllowlist(a.IPAllowlist),
		TokenQuota: apps.FormatQuota(a.TokenQuota), IntrospectionQuota: apps.FormatQuota(a.IntrospectionQuota), QuotaMode: a.QuotaMode,
		Enabled: a.Enabled, CreatedAt: a.CreatedAt, LastUsedAt: u.LastUsed, TokensIssued: u.Issued,
		Auth:      authViewOf(a.Auth),
		DPoPBound: a.DPoPBound, Profile: a.Profile,
	}
	for _, s := range a.Secrets {
		out.Secrets = append(out.Secrets, secretRow{ID: s.ID, CreatedAt: s.CreatedAt, ExpiresAt: s.ExpiresAt, LastUsedAt: u.SecretLastUsed[s.ID]})
	}
	return out
}
