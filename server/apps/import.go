package apps

import (
	"context"
	"fmt"
	"math"
	"strings"
	"time"
	"unicode"

	"github.com/oauthd/oauthd/server/credential"
	"github.com/oauthd/oauthd/store"
)

// An imported secret is held to a floor, since nobody can tell how it was
// made: at least MinImportedSecret characters and MinImportedBits by
// secretBits. Generated secrets pass: Hydra's (26 of 66 characters,
// about 157 bits), Keycloak's (32 letters and digits), 32 hex digits or
// more, oauthd's own. A hand-typed password should be reset, not carried
// over.
const (
	// MinImportedSecret is the shortest secret Import accepts: Hydra's
	// generated ones, the shortest we know of, are 26 characters.
	MinImportedSecret = 26
	// MinImportedBits is the least estimated strength Import accepts:
	// what 32 random hex digits (128 bits) score.
	MinImportedBits = 128
)

// ImportedApplication is an application brought over from another
// authorization server, or from another oauthd (a backup, a move to
// another Redis), with the credentials its daemons already hold: a
// secret in clear, or the secrets as an oauthd export carries them.
type ImportedApplication struct {
	NewApplication
	ClientID string
	// ClientSecret is a secret in clear, held to the strength floor and
	// stored as its digest.
	ClientSecret string
	// Secrets are the secrets as another oauthd stored them (Export):
	// ids, digests, creation and expiry times. Not with ClientSecret.
	// Only an admin key or the CLI may import them: a digest is taken on
	// trust, with no floor to hold it to.
	Secrets []store.Secret
	// Disabled imports the application disabled.
	Disabled bool
}

// Import stores an application under the given client ID with the given
// secret, or secret digests, so daemons moving from Hydra, Keycloak or
// another oauthd keep their credentials. Like Create, it keeps only
// digests. An ID that exists already is store.ErrAlreadyExists (409):
// import never overwrites. Secrets that have expired are left out.
func (s *Service) Import(ctx context.Context, in ImportedApplication) (store.Application, error) {
	// The id travels inside every token (oat_<client_id>_...), so it is
	// held to the alphabet the token endpoint accepts.
	if !credential.ValidClientID(in.ClientID) {
		return store.Application{}, Invalid("client_id", fmt.Sprintf("use 1 to %d letters, digits, '-', '.' or '~' (no '_': it separates the parts of a token)", credential.MaxClientID))
	}
	a, err := s.validateNew(ctx, in.ClientID, in.NewApplication)
	if err != nil {
		return store.Application{}, err
	}
	a.Enabled = !in.Disabled
	extra := map[string]any{"enabled": a.Enabled}
	switch {
	case !a.Auth.UsesSecret():
		if in.ClientSecret != "" || len(in.Secrets) > 0 {
			return store.Application{}, Invalid("client_secret", fmt.Sprintf("an application authenticating with %s holds no shared secret: leave out client_secret and secret_digests", a.Auth.Method))
		}
		extra["secrets"] = "none"
	case in.ClientSecret != "" && len(in.Secrets) > 0:
		return store.Application{}, Invalid("client_secret", "give client_secret or secret_digests, not both")
	case len(in.Secrets) > 0:
		if delegateFrom(ctx) != nil {
			return store.Application{}, Forbidden("secret_digests", "only an admin key can import secret digests: they are taken on trust; import a client_secret instead")
		}
		if a.Secrets, err = checkImportedDigests(in.Secrets, s.now()); err != nil {
			return store.Application{}, err
		}
		for i, sec := range a.Secrets {
			switch {
			case a.Auth.Method != store.AuthSecretJWT:
				// Only client_secret_jwt keeps a sealed copy.
				a.Secrets[i].Sealed = nil
			case len(sec.Sealed) == 0:
				return store.Application{}, Invalid("secret_digests", fmt.Sprintf("secret %s has no sealed copy, which client_secret_jwt needs to check an assertion: export it from an oauthd that seals them, or import the client_secret in clear", sec.ID))
			}
		}
		extra["secrets"], extra["secret_ids"] = "digests", secretIDs(a.Secrets)
	default:
		if err := checkImportedSecret(in.ClientSecret); err != nil {
			return store.Application{}, err
		}
		sec := store.Secret{ID: credential.NewID(), Digest: store.Sum(in.ClientSecret), CreatedAt: a.CreatedAt}
		if a.Auth.Method == store.AuthSecretJWT {
			if sec.Sealed, err = s.seal(ctx, in.ClientSecret); err != nil {
				return store.Application{}, err
			}
		}
		a.Secrets = []store.Secret{sec}
		extra["secrets"], extra["secret_ids"] = "clear", secretIDs(a.Secrets)
	}
	return s.add(ctx, "application.imported", a, extra)
}

// Export returns a page of applications, in creation order, for a backup
// or a move to another oauthd: Import takes each back with its secrets'
// digests (withSecrets), and a client_secret_jwt application's sealed
// secrets, which open only with the same sealing key, so every daemon
// keeps working; the authentication setting (method, keys) travels with
// every application, since it holds nothing secret. The digests are
// what the store holds and never leave it otherwise: only an admin key or
// the CLI may export them. Without them a delegated administrator may
// export its own owner's applications, as it may list them. Each page is
// audited.
func (s *Service) Export(ctx context.Context, cursor string, limit int, withSecrets bool) ([]store.Application, string, error) {
	if withSecrets && delegateFrom(ctx) != nil {
		return nil, "", Forbidden("secret_digests", "only an admin key can export secret digests; export without them (secrets=none, or oauthd apps export --without-secrets)")
	}
	// Creation order over every application (no search: never capped).
	res, err := s.List(ctx, ListQuery{After: cursor, Limit: limit})
	if err != nil {
		return nil, "", err
	}
	page, next := res.Apps, res.Next
	out := make([]store.Application, len(page))
	secrets := "none"
	for i, l := range page {
		out[i] = l.Application
		if !withSecrets {
			out[i].Secrets = nil
		}
	}
	if withSecrets {
		secrets = "digests"
	}
	s.audit(ctx, "applications.exported", "", map[string]any{"count": len(out), "secrets": secrets})
	return out, next, nil
}

// maxSecretID bounds an imported secret's id; oauthd's own are 26
// characters.
const maxSecretID = 64

// checkImportedDigests accepts the secrets of an export: at most
// MaxSecrets, each with an id of the client ID's alphabet used once, a
// digest, a creation time, and an expiry after it; those expired at now
// are dropped, and at least one must remain.
func checkImportedDigests(list []store.Secret, now time.Time) ([]store.Secret, error) {
	if len(list) > MaxSecrets {
		return nil, Invalid("secret_digests", fmt.Sprintf("at most %d secrets", MaxSecrets))
	}
	var out []store.Secret
	seen := map[string]bool{}
	for _, sec := range list {
		switch {
		case len(sec.ID) > maxSecretID || !credential.ValidClientID(sec.ID):
			return nil, Invalid("secret_digests", fmt.Sprintf("id %q: 1 to %d letters, digits, '-', '.' or '~'", truncate(sec.ID, 70), maxSecretID))
		case seen[sec.ID]:
			return nil, Invalid("secret_digests", fmt.Sprintf("id %q given twice", sec.ID))
		case sec.Digest == store.Digest{}:
			return nil, Invalid("secret_digests", fmt.Sprintf("secret %s: no sha256", sec.ID))
		case sec.CreatedAt.IsZero():
			return nil, Invalid("secret_digests", fmt.Sprintf("secret %s: no created_at", sec.ID))
		case !sec.ExpiresAt.IsZero() && !sec.ExpiresAt.After(sec.CreatedAt):
			return nil, Invalid("secret_digests", fmt.Sprintf("secret %s: expires_at is not after created_at", sec.ID))
		}
		seen[sec.ID] = true
		if sec.Active(now) {
			sec.CreatedAt, sec.ExpiresAt = sec.CreatedAt.UTC(), sec.ExpiresAt.UTC()
			out = append(out, sec)
		}
	}
	if len(out) == 0 {
		return nil, Invalid("secret_digests", "every secret has expired, so no daemon could authenticate: import a client_secret instead")
	}
	return out, nil
}

func secretIDs(list []store.Secret) []string {
	ids := make([]string, len(list))
	for i, s := range list {
		ids[i] = s.ID
	}
	return ids
}

// importAdvice ends every refusal of an imported secret.
const importAdvice = "import a randomly generated secret instead (e.g. 32 random letters and digits, or 40 hex digits; reset it at the old server first), or create the application here and let oauthd generate its secret"

func checkImportedSecret(secret string) error {
	if len(secret) < MinImportedSecret || len(secret) > credential.MaxSecret {
		return Invalid("client_secret", fmt.Sprintf("must be %d to %d characters: %s", MinImportedSecret, credential.MaxSecret, importAdvice))
	}
	for _, r := range secret {
		if r > unicode.MaxASCII || !unicode.IsPrint(r) || r == ' ' {
			return Invalid("client_secret", "printable ASCII without spaces only")
		}
	}
	if bits := secretBits(secret); bits < MinImportedBits {
		return Invalid("client_secret", fmt.Sprintf(
			"too easy to guess: an estimated %d bits, at least %d needed (runs such as 12345 or aaaaa, repeated stretches and few distinct characters count for little); %s",
			int(bits), MinImportedBits, importAdvice))
	}
	return nil
}

// secretBits estimates, from the secret alone, how many bits an attacker
// must guess: each character that neither continues a run nor repeats an
// earlier stretch counts as a pick from the secret's alphabet. A run is
// the fifth character on of a step of 0 or ±1 (aaaaa, 12345, edcba); a
// stretch is five or more characters seen before (passwordpassword).
// (Shorter ones occur by chance in random secrets.) The
// alphabet is what the character classes used span (hex digits 16;
// lower, upper case 26 each; digits 10; other symbols 32), but no more
// than twice the distinct characters the secret shows: a random string
// shows about as many as its alphabet has, up to its length, so few
// distinct characters mean a small alphabet, whatever the classes.
// Dictionary words are not recognised: this is a floor, not a meter.
func secretBits(secret string) float64 {
	n := len(secret)
	guessed := make([]bool, n) // continues a run or repeats a stretch
	for i := 4; i < n; i++ {
		d := int(secret[i]) - int(secret[i-1])
		guessed[i] = d >= -1 && d <= 1
		for k := i - 1; k > i-4; k-- {
			guessed[i] = guessed[i] && int(secret[k])-int(secret[k-1]) == d
		}
	}
	for i := 1; i < n; {
		longest := 0
		for j := range i {
			l := 0
			for i+l < n && secret[j+l] == secret[i+l] {
				l++
			}
			longest = max(longest, l)
		}
		if longest < 5 {
			i++
			continue
		}
		for k := i; k < i+longest; k++ {
			guessed[k] = true
		}
		i += longest
	}
	var lower, upper, digit, other bool
	seen := map[byte]bool{}
	picks := 0
	for i := range n {
		c := secret[i]
		seen[c] = true
		switch {
		case c >= 'a' && c <= 'z':
			lower = true
		case c >= 'A' && c <= 'Z':
			upper = true
		case c >= '0' && c <= '9':
			digit = true
		default:
			other = true
		}
		if !guessed[i] {
			picks++
		}
	}
	alphabet := 0
	for _, class := range []struct {
		used bool
		size int
	}{{lower, 26}, {upper, 26}, {digit, 10}, {other, 32}} {
		if class.used {
			alphabet += class.size
		}
	}
	if strings.Trim(secret, "0123456789abcdef") == "" || strings.Trim(secret, "0123456789ABCDEF") == "" {
		alphabet = min(alphabet, 16)
	}
	alphabet = min(alphabet, 2*len(seen))
	return float64(picks) * math.Log2(float64(alphabet))
}
