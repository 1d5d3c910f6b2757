package admin

import (
	"cmp"
	"time"

	"github.com/oauthd/oauthd/server/admin/adminapi"
	"github.com/oauthd/oauthd/server/apps"
	"github.com/oauthd/oauthd/server/signing"
	"github.com/oauthd/oauthd/store"
)

// The answers are adminapi's shapes, made here from the service's
// records: nothing the service holds reaches the wire unless named here,
// and a secret's digest never is.

// applicationOf is an application with its usage (the zero Usage for
// answers that show none). Empty lists and maps are [] and {}, never null.
func applicationOf(a store.Application, u store.Usage) adminapi.Application {
	metadata := a.Metadata
	if metadata == nil {
		metadata = map[string]string{}
	}
	return adminapi.Application{
		ClientID:      a.ClientID,
		Name:          a.Name,
		Description:   a.Description,
		Owner:         a.Owner,
		Metadata:      metadata,
		TokenFormat:   cmp.Or(a.TokenFormat, store.TokenOpaque),
		Audiences:     orEmpty(a.Audiences),
		Scopes:        orEmpty(a.Scopes),
		TokenLifetime: apps.FormatLifetime(a.TokenLifetime),
		IPAllowlist:   apps.FormatAllowlist(a.IPAllowlist),
		Enabled:       a.Enabled,
		CreatedAt:     a.CreatedAt,
		UpdatedAt:     a.UpdatedAt,
		LastUsedAt:    timePtr(u.LastUsed),
		TokensIssued:  u.Issued,
		Secrets:       secretsOf(a, u),
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
