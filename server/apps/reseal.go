package apps

import (
	"context"
	"errors"
	"fmt"

	"github.com/oauthd/oauthd/store"
)

// ResealSecrets moves the sealed secrets of every client_secret_jwt
// application to a new sealing key, as 'oauthd keys reseal' moves the
// signing keys: each copy opens with open and is sealed again with seal,
// one application at a time (compare-and-swap). A copy that opens only
// with seal is moved already (an earlier run stopped half-way), so a run
// may be repeated. A copy that opens with neither stops it, naming the
// application; those done stay done. It returns how many secrets it
// moved. Only an admin key or the CLI may run it: it reads every
// application.
func (s *Service) ResealSecrets(ctx context.Context, open, seal, openNew func(context.Context, []byte) ([]byte, error)) (int, error) {
	if d := delegateFrom(ctx); d != nil {
		return 0, Forbidden("owner", "only an admin key can reseal secrets")
	}
	moved := 0
	for cursor := ""; ; {
		page, err := s.List(ctx, ListQuery{After: cursor, Limit: MaxPage})
		if err != nil {
			return moved, err
		}
		for _, l := range page.Apps {
			if l.Auth.Method != store.AuthSecretJWT {
				continue
			}
			n := 0
			_, err := s.store.UpdateApplication(ctx, l.ClientID, func(a store.Application) (store.Application, error) {
				n = 0
				secrets := append([]store.Secret(nil), a.Secrets...)
				for i, sec := range secrets {
					if len(sec.Sealed) == 0 {
						continue
					}
					plain, err := open(ctx, sec.Sealed)
					if err != nil {
						if _, done := openNew(ctx, sec.Sealed); done == nil {
							continue // moved by an earlier run
						}
						return a, fmt.Errorf("application %s, secret %s: %w", a.ClientID, sec.ID, err)
					}
					if secrets[i].Sealed, err = seal(ctx, plain); err != nil {
						return a, err
					}
					n++
				}
				a.Secrets = secrets
				return a, nil
			})
			if errors.Is(err, store.ErrNotFound) {
				continue // deleted meanwhile
			}
			if err != nil {
				return moved, err
			}
			moved += n
		}
		if cursor = page.Next; cursor == "" {
			return moved, nil
		}
	}
}
