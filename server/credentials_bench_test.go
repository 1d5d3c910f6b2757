package server

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/oauthd/oauthd/server/credential"
	"github.com/oauthd/oauthd/store"
)

// BenchmarkClientAuthentication is what authenticating a token request
// costs once the application is in memory: reading and form-decoding HTTP
// Basic credentials, then comparing the secret's SHA-256 with the stored
// digests in constant time. (A slow password hash would cost milliseconds
// here: secrets carry 256 random bits, so it would buy nothing.)
func BenchmarkClientAuthentication(b *testing.B) {
	secret := credential.NewSecret()
	app := store.Application{ClientID: credential.NewClientID(), Enabled: true,
		Secrets: []store.Secret{{ID: "old", Digest: store.Sum(credential.NewSecret())}, {ID: "new", Digest: store.Sum(secret)}}}
	r := httptest.NewRequest(http.MethodPost, "/oauth/token", nil)
	r.Header.Set("Authorization", basic(app.ClientID, secret))
	form := url.Values{"grant_type": {"client_credentials"}}
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		cr, err := readClientCredentials(r, form, nil)
		if err != nil || cr.id != app.ClientID {
			b.Fatal(err)
		}
		if _, ok := app.MatchSecret(cr.secret, now); !ok {
			b.Fatal("secret does not match")
		}
	}
}

// BenchmarkTokenGeneration is making an access token: 256 random bits,
// base64url, and the SHA-256 digest its record is stored under.
func BenchmarkTokenGeneration(b *testing.B) {
	id := credential.NewClientID()
	bucket := store.ExpiryBucket(time.Now().Add(24*time.Hour), 24*time.Hour)
	b.ReportAllocs()
	for b.Loop() {
		raw, ref := credential.NewToken(id, bucket)
		if len(raw) == 0 || ref.ClientID != id {
			b.Fatal(raw)
		}
	}
}

// BenchmarkParseToken is the check every introspected token goes through
// before Redis is asked anything.
func BenchmarkParseToken(b *testing.B) {
	raw, _ := credential.NewToken(credential.NewClientID(), store.ExpiryBucket(time.Now().Add(time.Hour), time.Hour))
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := credential.Parse(raw); !ok {
			b.Fatal(raw)
		}
	}
}
