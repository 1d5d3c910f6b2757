package apps

import (
	"strings"
	"time"

	"github.com/oauthd/oauthd/store"
)

// Sender-constrained tokens (issue 19): an application's binding policy,
// dpop_bound_access_tokens (RFC 9449 §5.2) and its profile.

// Profiles lists the profiles an application may name, for help texts.
var Profiles = []string{store.ProfileFAPI2, store.ProfileNone}

// ParseProfile reads an application's profile: fapi2 (the FAPI 2.0
// client-credentials profile), none (no profile, whatever the server's
// default), or "" for the server's default (fapi.default).
func ParseProfile(s string) (string, error) {
	switch p := strings.ToLower(strings.TrimSpace(s)); p {
	case "", store.ProfileFAPI2, store.ProfileNone:
		return p, nil
	}
	return "", Invalid("profile", "use fapi2 (FAPI 2.0: key or certificate authentication, sender-constrained tokens, TLS only), none, or leave it empty for the server's default")
}

// checkProfileLifetime refuses a FAPI 2.0 application (profile fapi2)
// whose tokens never expire: the server caps a FAPI application's tokens
// (fapi.max_token_lifetime, 10m by default) whatever its lifetime, and a
// lifetime of never that silently meant ten minutes would mislead whoever
// reads it. A finite lifetime longer than the cap is kept, and capped at
// issue (expires_in says so), since the cap is a server setting that may
// change. field names what the change set: token_lifetime or profile.
// An application under fapi.default (profile "") is capped at issue
// only: the service does not know the server's default.
func checkProfileLifetime(field, profile string, lifetime time.Duration) error {
	if profile == store.ProfileFAPI2 && lifetime == 0 {
		return Invalid(field, "a FAPI 2.0 application's tokens must expire: give it a finite token_lifetime (the server caps its tokens to fapi.max_token_lifetime, 10m by default)")
	}
	return nil
}

// bindingPatch is the binding fields of an ApplicationPatch, checked.
type bindingPatch struct {
	dpopBound *bool
	profile   *string
}

func (p ApplicationPatch) binding(changes map[string]any) (bindingPatch, error) {
	out := bindingPatch{dpopBound: p.DPoPBound}
	if p.DPoPBound != nil {
		changes["dpop_bound_access_tokens"] = *p.DPoPBound
	}
	if p.Profile != nil {
		prof, err := ParseProfile(*p.Profile)
		if err != nil {
			return out, err
		}
		out.profile = &prof
		changes["profile"] = prof
	}
	return out, nil
}

func (b bindingPatch) apply(a *store.Application) {
	if b.dpopBound != nil {
		a.DPoPBound = *b.dpopBound
	}
	if b.profile != nil {
		a.Profile = *b.profile
	}
}
