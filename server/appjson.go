package server

import (
	"time"

	"github.com/oauthd/oauthd/store"
)

// Application is the one JSON shape of an application, used by the admin
// API and printed by the CLI. ClientSecret is set only in the answer that
// creates the application (or resets its secret): it is shown once.
type Application struct {
	ClientID      string    `json:"client_id"`
	ClientSecret  string    `json:"client_secret,omitempty"`
	Name          string    `json:"name"`
	Description   string    `json:"description"`
	Scopes        []string  `json:"scopes"`
	TokenLifetime string    `json:"token_lifetime"`
	IPAllowlist   []string  `json:"ip_allowlist"`
	Enabled       bool      `json:"enabled"`
	CreatedAt     time.Time `json:"created_at"`
	UpdatedAt     time.Time `json:"updated_at"`
}

// ApplicationJSON renders a stored application. Secrets' digests are never
// rendered.
func ApplicationJSON(a store.Application) Application {
	out := Application{
		ClientID:      a.ClientID,
		Name:          a.Name,
		Description:   a.Description,
		Scopes:        a.Scopes,
		TokenLifetime: FormatLifetime(a.TokenLifetime),
		IPAllowlist:   make([]string, 0, len(a.IPAllowlist)),
		Enabled:       a.Enabled,
		CreatedAt:     a.CreatedAt,
		UpdatedAt:     a.UpdatedAt,
	}
	for _, p := range a.IPAllowlist {
		if p.IsSingleIP() {
			out.IPAllowlist = append(out.IPAllowlist, p.Addr().String())
		} else {
			out.IPAllowlist = append(out.IPAllowlist, p.String())
		}
	}
	if out.Scopes == nil {
		out.Scopes = []string{}
	}
	return out
}
