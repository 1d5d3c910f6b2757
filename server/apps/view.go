package apps

import (
	"cmp"
	"time"

	"github.com/oauthd/oauthd/store"
)

// Application is the one JSON shape of an application, used by the admin
// API and printed by the CLI. ClientSecret is set only in the answer that
// creates the application (or resets its secret): it is shown once.
type Application struct {
	ClientID     string `json:"client_id"`
	ClientSecret string `json:"client_secret,omitempty"`
	Name         string `json:"name"`
	Description  string `json:"description"`
	// Owner is the account the application belongs to ("" for none).
	Owner    string            `json:"owner"`
	Metadata map[string]string `json:"metadata"`
	// TokenFormat is opaque or jwt.
	TokenFormat string `json:"token_format"`
	// Audiences name the resource servers its tokens are for.
	Audiences     []string  `json:"audiences"`
	Scopes        []string  `json:"scopes"`
	TokenLifetime string    `json:"token_lifetime"`
	IPAllowlist   []string  `json:"ip_allowlist"`
	Enabled       bool      `json:"enabled"`
	CreatedAt     time.Time `json:"created_at"`
	UpdatedAt     time.Time `json:"updated_at"`
	// LastUsedAt is when the application last got a token (to the minute),
	// null if never.
	LastUsedAt *time.Time `json:"last_used_at"`
	// TokensIssued counts the tokens the application has been issued.
	TokensIssued int64 `json:"tokens_issued"`
	// Secrets describes the application's secrets, never their values.
	Secrets []SecretJSON `json:"secrets"`
}

// SecretJSON describes one client secret.
type SecretJSON struct {
	ID         string     `json:"id"`
	CreatedAt  time.Time  `json:"created_at"`
	ExpiresAt  *time.Time `json:"expires_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
}

// ApplicationDetail renders an application with its usage and secrets.
func ApplicationDetail(a store.Application, u store.Usage) Application {
	out := ApplicationJSON(a)
	out.LastUsedAt = TimePtr(u.LastUsed)
	out.TokensIssued = u.Issued
	out.Secrets = make([]SecretJSON, 0, len(a.Secrets))
	for _, s := range a.Secrets {
		out.Secrets = append(out.Secrets, SecretJSON{
			ID: s.ID, CreatedAt: s.CreatedAt, ExpiresAt: TimePtr(s.ExpiresAt), LastUsedAt: TimePtr(u.SecretLastUsed[s.ID]),
		})
	}
	return out
}

// TimePtr is nil for the zero time, so JSON shows null for "never".
func TimePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// ApplicationJSON renders a stored application. Secrets' digests are never
// rendered.
func ApplicationJSON(a store.Application) Application {
	out := Application{
		ClientID:      a.ClientID,
		Name:          a.Name,
		Description:   a.Description,
		Owner:         a.Owner,
		Metadata:      a.Metadata,
		TokenFormat:   cmp.Or(a.TokenFormat, store.TokenOpaque),
		Audiences:     a.Audiences,
		Scopes:        a.Scopes,
		TokenLifetime: FormatLifetime(a.TokenLifetime),
		IPAllowlist:   FormatAllowlist(a.IPAllowlist),
		Secrets:       []SecretJSON{},
		Enabled:       a.Enabled,
		CreatedAt:     a.CreatedAt,
		UpdatedAt:     a.UpdatedAt,
	}
	if out.Audiences == nil {
		out.Audiences = []string{}
	}
	if out.Metadata == nil {
		out.Metadata = map[string]string{}
	}
	if out.Scopes == nil {
		out.Scopes = []string{}
	}
	return out
}
