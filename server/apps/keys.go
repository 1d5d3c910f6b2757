package apps

import (
	"context"
	"time"

	"github.com/oauthd/oauthd/server/signing"
	"github.com/oauthd/oauthd/store"
)

// KeyRing is what the service needs of the JWT signing keys.
type KeyRing interface {
	Rotate(ctx context.Context, publishFor, maxLifetime time.Duration) (signing.Key, error)
	Load(ctx context.Context) error
	Published() []signing.Key
}

// ErrNoKeyRing is a key operation on a service configured without one:
// there are no keys to list or rotate. oauthd has none exactly when no
// sealing key is configured.
var ErrNoKeyRing = &Error{Code: CodeNotFound, Message: "this server signs no JWT access tokens: no JWT sealing key is configured (set jwt.sealing_key_file or jwt.sealing_key, OAUTHD_JWT_SEALING_KEY)"}

// minKeyRetirement is the shortest an old key stays published after the
// new one starts signing, whatever the applications' lifetimes: tokens
// of an application switched from jwt since are covered too.
const minKeyRetirement = 24 * time.Hour

// SigningKeys lists the published keys: the one that signs, the next one
// and the retiring ones.
func (s *Service) SigningKeys(ctx context.Context) ([]signing.Key, error) {
	if s.opts.Keys == nil {
		return nil, ErrNoKeyRing
	}
	if err := s.opts.Keys.Load(ctx); err != nil {
		return nil, err
	}
	return s.opts.Keys.Published(), nil
}

// RotateSigningKey makes a new key, published at once and signing after
// Options.KeyPublishDelay (so every verifier's cache has it first), and
// retires the current one when every token it signed has expired: after
// the longest lifetime of the applications issuing JWTs (at least a day).
// Only an admin key may rotate.
func (s *Service) RotateSigningKey(ctx context.Context) (signing.Key, error) {
	if s.opts.Keys == nil {
		return signing.Key{}, ErrNoKeyRing
	}
	if delegateFrom(ctx) != nil {
		return signing.Key{}, Forbidden("keys", "only an admin key may rotate the signing keys")
	}
	longest := minKeyRetirement
	err := s.eachApplication(ctx, func(a store.Application) {
		if a.TokenFormat == store.TokenJWT && a.TokenLifetime > longest {
			longest = a.TokenLifetime
		}
	})
	if err != nil {
		return signing.Key{}, err
	}
	k, err := s.opts.Keys.Rotate(ctx, s.opts.KeyPublishDelay, longest)
	if err != nil {
		return signing.Key{}, err
	}
	s.audit(ctx, "signing_key.rotated", "", map[string]any{"kid": k.ID, "alg": k.Alg, "signs_from": k.ActiveAt, "old_keys_retire_after": longest.String()})
	return k, nil
}
