package apps

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/oauthd/oauthd/server/credential"
)

// The attack of issue 17, item 1 (4), replayed: secrets imported through
// PUT /admin/v1/applications/{id} or 'oauthd apps import' had no strength
// floor beyond 16 characters, so a password such as
// "password1234567890password123456" was carried over, and guessed in
// few tries whatever the lock-outs. Now a weak one is refused, on field
// client_secret, with a message saying what is accepted; generated
// secrets (Hydra's, Keycloak's, hex, oauthd's own) are imported.
func TestImportedSecretFloor(t *testing.T) {
	env := newTestEnv(t, Options{})
	ctx := WithActor(context.Background(), Actor{Name: "test"})
	n := 0
	imp := func(secret string) error {
		n++
		_, err := env.apps.Import(ctx, ImportedApplication{
			NewApplication: NewApplication{Name: "imported", Scopes: []string{"sms"}},
			ClientID:       fmt.Sprint("imported-", n), ClientSecret: secret,
		})
		return err
	}
	for _, weak := range []string{
		"password1234567890password123456",
		"password1234567890password1234567890",
		"Password!Password!Password!Password!",
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
		"abcdefghijklmnopqrstuvwxyz0123456789",
		"correcthorsebatterystaplecorrecthorse",
		"qwertyuiopasdfghjklzxcvbnmqwertyuiop",
		"0110100110010110100101100110100110010110", // two characters, shuffled
		"Tr0ub4dor&3-Tr0ub4dor&3",                  // short
	} {
		err := imp(weak)
		var ve *Error
		if !errors.As(err, &ve) || ve.Code != CodeInvalid || ve.Field != "client_secret" || !strings.Contains(ve.Message, "let oauthd generate") {
			t.Errorf("importing %q: %v, want a validation error on client_secret saying what to do", weak, err)
		}
	}
	for _, strong := range []string{
		"V4kq-Xz9mT_bL2.pWn7cR~e5Hs",               // Hydra's shape: 26 of a-zA-Z0-9_-.~
		"h7GkP2qZxW9mB4vT1nR8sLc3YdJ6fQ0a",         // Keycloak's: 32 letters and digits
		"3f9c2b7e1a6d48c0b5e2f7a9d1c6b384",         // 32 hex digits
		"9b1e4f7a2c8d5e0b3a6f9c2d7e4b1a8f5c0d3e6b", // 40 hex digits
		"Keycloak-Generated-Secret-0123456789",
	} {
		if err := imp(strong); err != nil {
			t.Errorf("importing %q: %v, want it accepted", strong, err)
		}
	}
	for range 200 {
		if err := imp(credential.NewSecret()); err != nil {
			t.Fatalf("importing one of oauthd's own secrets: %v", err)
		}
	}
}
