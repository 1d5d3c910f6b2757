package apps

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/oauthd/oauthd/server/credential"
	"github.com/oauthd/oauthd/store"
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

// Secrets imported as digests (from an export) are stored as given, ids
// and expiries included, less those expired already; only an admin key or
// the CLI may import them, and never beside a secret in clear.
func TestImportDigests(t *testing.T) {
	env := newTestEnv(t, Options{})
	admin := WithActor(context.Background(), Actor{Name: "test"})
	now := time.Now().UTC().Truncate(time.Millisecond)
	secrets := []store.Secret{
		{ID: "old", Digest: store.Sum("ocs_old"), CreatedAt: now.Add(-48 * time.Hour), ExpiresAt: now.Add(-time.Hour)},
		{ID: "grace", Digest: store.Sum("ocs_grace"), CreatedAt: now.Add(-24 * time.Hour), ExpiresAt: now.Add(time.Hour)},
		{ID: "current", Digest: store.Sum("ocs_current"), CreatedAt: now.Add(-time.Hour)},
	}
	in := ImportedApplication{NewApplication: NewApplication{Name: "moved", Scopes: []string{"sms"}}, ClientID: "moved", Secrets: secrets, Disabled: true}
	a, err := env.apps.Import(admin, in)
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Secrets) != 2 || a.Secrets[0].ID != "grace" || !a.Secrets[0].ExpiresAt.Equal(secrets[1].ExpiresAt) || a.Enabled {
		t.Fatalf("imported %+v", a)
	}
	if !a.VerifySecret("ocs_grace", now) || !a.VerifySecret("ocs_current", now) || a.VerifySecret("ocs_old", now) {
		t.Fatal("the imported digests do not verify their secrets")
	}
	delegate := WithActor(context.Background(), Actor{Name: "client:x", Delegate: &Delegate{ClientID: "x", Owner: "acct", Scopes: []string{"sms", "applications"}}})
	in.ClientID = "by-delegate"
	var e *Error
	if _, err := env.apps.Import(delegate, in); !errors.As(err, &e) || e.Code != CodeForbidden {
		t.Fatalf("a delegate importing digests: %v", err)
	}
	if _, _, err := env.apps.Export(delegate, "", 10, true); !errors.As(err, &e) || e.Code != CodeForbidden {
		t.Fatalf("a delegate exporting digests: %v", err)
	}
	in.ClientID, in.ClientSecret = "both", credential.NewSecret()
	if _, err := env.apps.Import(admin, in); !errors.As(err, &e) || e.Field != "client_secret" {
		t.Fatalf("digests and a secret in clear: %v", err)
	}
}
