package apps

import (
	"context"
	"fmt"
	"unicode"

	"github.com/oauthd/oauthd/server/credential"
	"github.com/oauthd/oauthd/store"
)

// MinImportedSecret is the shortest secret Import accepts. Generated
// secrets from Hydra and Keycloak are 26 to 32 characters or more; a
// shorter one is most likely a hand-typed password that should be reset,
// not carried over.
const MinImportedSecret = 16

// ImportedApplication is an application brought over from another
// authorization server with the credentials its daemons already hold.
type ImportedApplication struct {
	NewApplication
	ClientID     string
	ClientSecret string
}

// Import stores an application under the given client ID with the given
// secret, so daemons moving from Hydra, Keycloak or another server keep
// their credentials. Like Create, it keeps only the secret's SHA-256
// digest. An ID that exists already is store.ErrAlreadyExists (409): import
// never overwrites.
func (s *Service) Import(ctx context.Context, in ImportedApplication) (store.Application, error) {
	// The id travels inside every token (oat_<client_id>_...), so it is
	// held to the alphabet the token endpoint accepts.
	if !credential.ValidClientID(in.ClientID) {
		return store.Application{}, Invalid("client_id", fmt.Sprintf("use 1 to %d letters, digits, '-', '.' or '~' (no '_': it separates the parts of a token)", credential.MaxClientID))
	}
	if err := checkImportedSecret(in.ClientSecret); err != nil {
		return store.Application{}, err
	}
	return s.add(ctx, "application.imported", in.ClientID, in.ClientSecret, in.NewApplication)
}

func checkImportedSecret(secret string) error {
	if len(secret) < MinImportedSecret || len(secret) > credential.MaxSecret {
		return Invalid("client_secret", fmt.Sprintf("must be %d to %d bytes; reset a shorter secret instead of importing it", MinImportedSecret, credential.MaxSecret))
	}
	for _, r := range secret {
		if r > unicode.MaxASCII || !unicode.IsPrint(r) || r == ' ' {
			return Invalid("client_secret", "printable ASCII without spaces only")
		}
	}
	return nil
}
