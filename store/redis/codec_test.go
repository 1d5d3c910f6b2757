package redis

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/oauthd/oauthd/store"
)

func TestTokenRecordRoundTrip(t *testing.T) {
	t.Parallel()
	iat := time.UnixMilli(1_763_900_000_123).UTC()
	tests := []struct {
		name string
		tok  store.Token
		max  int // bytes the record may take
	}{
		{"day", store.Token{Scopes: []string{"sms"}, IssuedAt: iat, ExpiresAt: iat.Add(24 * time.Hour), Generation: 3}, 20},
		{"never", store.Token{Scopes: []string{"sms", "groups", "reports"}, IssuedAt: iat}, 30},
		{"no scopes", store.Token{IssuedAt: iat, ExpiresAt: iat.Add(time.Second)}, 12},
		{"big generation", store.Token{Scopes: []string{"a"}, IssuedAt: iat, ExpiresAt: iat.Add(10 * 365 * 24 * time.Hour), Generation: 1 << 40}, 30},
		{"api key", store.Token{Scopes: []string{"sms"}, IssuedAt: iat, Kind: KindAPIKey, Name: "billing — prod"}, 40},
		{"audiences", store.Token{Scopes: []string{"sms"}, IssuedAt: iat, ExpiresAt: iat.Add(time.Hour), Audiences: []string{"https://sms.example", "https://voice.example"}}, 62},
		{"api key with audience", store.Token{IssuedAt: iat, Kind: KindAPIKey, Name: "k", Audiences: []string{"sms-api"}}, 30},
		{"dpop bound", store.Token{Scopes: []string{"sms"}, IssuedAt: iat, ExpiresAt: iat.Add(time.Hour), Confirmation: store.Confirmation{JKT: strings.Repeat("j", 43)}}, 64},
		{"certificate bound with audience", store.Token{IssuedAt: iat, ExpiresAt: iat.Add(time.Hour), Audiences: []string{"sms-api"},
			Confirmation: store.Confirmation{X5TS256: strings.Repeat("x", 43)}}, 72},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ref := store.TokenRef{ClientID: "c1", Bucket: tt.tok.Bucket(), Digest: store.Sum(tt.name)}
			tt.tok.ClientID, tt.tok.ID = "c1", ref.JTI()
			b := encodeToken(tt.tok)
			if len(b) > tt.max {
				t.Errorf("record is %d bytes, want at most %d", len(b), tt.max)
			}
			got, err := decodeToken(ref, b)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.tok) {
				t.Fatalf("round trip:\n got  %+v\n want %+v", got, tt.tok)
			}
		})
	}
}

func TestTokenRecordCorrupt(t *testing.T) {
	t.Parallel()
	ref := store.TokenRef{ClientID: "c1", Digest: store.Sum("x")}
	good := encodeToken(store.Token{Scopes: []string{"sms"}, IssuedAt: time.UnixMilli(5), Kind: KindAPIKey, Name: "n"})
	for _, b := range [][]byte{
		nil,
		{},
		{9, 1, 0, 0, 0},                   // unknown kind
		{recAccessToken, 0, 0, 0, 0},      // issued at zero
		{recAccessToken, 1, 0, 0, 5, 's'}, // scopes longer than the record
		{recAccessToken, 0x80},            // truncated varint
		append([]byte{recAccessToken, 1, 0, 0, 0}, 'x'),                                                // trailing bytes
		append(binary.AppendUvarint(binary.AppendUvarint([]byte{recAccessToken}, 1<<62), 1<<62), 0, 0), // expiry past 1<<62 ms
		good[:len(good)-1],
		{recAccessToken | recHasConfirmation, 1, 0, 0, 0, 0, 0}, // a confirmation binding to nothing
	} {
		if _, err := decodeToken(ref, b); !errors.Is(err, errCorruptToken) {
			t.Errorf("decodeToken(%v) = %v, want errCorruptToken", b, err)
		}
	}
}

// FuzzTokenRecord: decoding arbitrary bytes never panics, and whatever
// decodes re-encodes to the same bytes.
func FuzzTokenRecord(f *testing.F) {
	f.Add(encodeToken(store.Token{Scopes: []string{"sms"}, IssuedAt: time.UnixMilli(5), ExpiresAt: time.UnixMilli(99)}))
	f.Add(encodeToken(store.Token{IssuedAt: time.UnixMilli(5), Kind: KindAPIKey, Name: "k"}))
	f.Add(encodeToken(store.Token{IssuedAt: time.UnixMilli(5), Audiences: []string{"a", "b"}}))
	ref := store.TokenRef{ClientID: "c1", Digest: store.Sum("x")}
	f.Fuzz(func(t *testing.T, b []byte) {
		tok, err := decodeToken(ref, b)
		if err != nil {
			return
		}
		if again := encodeToken(tok); string(again) != string(b) {
			// Non-canonical varints decode too; only the decoded value
			// must survive another round trip.
			if tok2, err := decodeToken(ref, again); err != nil || !reflect.DeepEqual(tok, tok2) {
				t.Fatalf("re-encoding changed the token: %+v vs %+v (%v)", tok, tok2, err)
			}
		}
	})
}

func BenchmarkTokenRecordEncode(b *testing.B) {
	iat := time.Now()
	tok := store.Token{Scopes: []string{"sms", "groups"}, IssuedAt: iat, ExpiresAt: iat.Add(24 * time.Hour), Generation: 2}
	b.ReportAllocs()
	for b.Loop() {
		_ = encodeToken(tok)
	}
}

func BenchmarkTokenRecordDecode(b *testing.B) {
	iat := time.Now()
	tok := store.Token{Scopes: []string{"sms", "groups"}, IssuedAt: iat, ExpiresAt: iat.Add(24 * time.Hour), Generation: 2}
	ref := store.TokenRef{ClientID: "c1", Bucket: tok.Bucket(), Digest: store.Sum("x")}
	rec := encodeToken(tok)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := decodeToken(ref, rec); err != nil {
			b.Fatal(err)
		}
	}
}

// TestAppRecordAuthRoundTrip: an application's authentication method and
// keys survive the record, and an application of shared secrets (the zero
// ClientAuth) is stored without an auth object, as before methods existed.
func TestAppRecordAuthRoundTrip(t *testing.T) {
	t.Parallel()
	for _, auth := range []store.ClientAuth{
		{},
		{Method: store.AuthPrivateKeyJWT, JWKS: []byte(`{"keys":[{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}`)},
		{Method: store.AuthPrivateKeyJWT, JWKSURI: "https://billing.example/jwks.json"},
		{Method: store.AuthTLS, SubjectDN: "CN=billing,O=Example"},
		{Method: store.AuthTLS, SANDNS: "billing.example"},
		{Method: store.AuthPrivateKeyJWT, TrustedIssuer: "https://kubernetes.default.svc", TrustedSubject: "system:serviceaccount:sms:billing", TrustedAudience: "oauthd"},
	} {
		in := store.Application{ClientID: "app", Auth: auth, Secrets: []store.Secret{{ID: "s1", Sealed: []byte{1, 2, 3}}}}
		b, err := encodeApp(in)
		if err != nil {
			t.Fatal(err)
		}
		if auth.Method == "" && bytes.Contains(b, []byte(`"auth"`)) {
			t.Errorf("zero ClientAuth stored as %s", b)
		}
		out, err := decodeApp(b)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(out.Auth, in.Auth) || !bytes.Equal(out.Secrets[0].Sealed, []byte{1, 2, 3}) {
			t.Errorf("round trip of %+v: got %+v (sealed %v)", in.Auth, out.Auth, out.Secrets[0].Sealed)
		}
	}
}

// fullApp is an application with every field of its record set.
func fullApp() store.Application {
	at := time.UnixMilli(1_763_900_000_123).UTC()
	return store.Application{ClientID: "4jibxb7jrdidojsbxotxpeutxw", Name: "Billing daemon", Description: "sends \"invoices\" by SMS ✓",
		Owner: "team-billing", Metadata: map[string]string{"cost_centre": "42", "ticket": "OPS-7"}, TokenFormat: "jwt",
		Audiences: []string{"https://sms.example"}, Scopes: []string{"sms", "groups", "viber"}, TokenLifetime: 24 * time.Hour,
		IPAllowlist: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("2001:db8::1/128")}, Enabled: true,
		Secrets: []store.Secret{{ID: "s1", Digest: store.Sum("x"), CreatedAt: at, Sealed: []byte{0, 1, 2, 255}},
			{ID: "s2", Digest: store.Sum("y"), CreatedAt: at, ExpiresAt: at.Add(time.Hour)}},
		TokenQuota: store.Quota{Set: true, Rate: store.Rate{N: 100, Per: time.Minute}}, IntrospectionQuota: store.Quota{Set: true}, QuotaMode: store.QuotaMonitor,
		Auth:      store.ClientAuth{Method: store.AuthPrivateKeyJWT, JWKS: []byte(`{"keys":[{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}`)},
		DPoPBound: true, Profile: "fapi2", Generation: 9, CreatedAt: at, UpdatedAt: at.Add(time.Minute)}
}

// decodeApp (goccy/go-json) reads a record as encoding/json does: every
// field of an application that sets them all, and for records that are not
// an application's, an error, never a panic and never a half-read one.
func TestDecodeAppAsEncodingJSON(t *testing.T) {
	t.Parallel()
	in := fullApp()
	b, err := encodeApp(in)
	if err != nil {
		t.Fatal(err)
	}
	out, err := decodeApp(b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(out, in) {
		t.Fatalf("round trip changed the application:\n got  %+v\n want %+v", out, in)
	}
	var std appRecord
	if err := json.Unmarshal(b, &std); err != nil {
		t.Fatal(err)
	}
	again, err := json.Marshal(std)
	if err != nil || !bytes.Equal(again, b) {
		t.Fatalf("encoding/json reads the record differently: %s", again)
	}
	for _, bad := range []string{
		``, `null x`, `{`, `[]`, `"app"`, `{"client_id":1}`, `{"scopes":"sms"}`, `{"lifetime_ns":"1"}`,
		`{"secrets":[{"sealed":"not base64!"}]}`, `{"secrets":[{"sha256":"zz"}]}`, `{"ip_allowlist":["10.0.0.0/33"]}`,
		`{"enabled":tru}`, `{"gen":-1}`, `{"gen":1e999}`, `{"auth":{"jwks":{"keys":[}}}`, string(b[:len(b)/2]), "{\"name\":\"\xff\"",
	} {
		if _, err := decodeApp([]byte(bad)); err == nil {
			t.Errorf("decodeApp(%q) read a corrupt record without an error", bad)
		}
	}
}

// BenchmarkDecodeApp: a token request for an application oauthd does not
// hold decodes its record once.
func BenchmarkDecodeApp(b *testing.B) {
	raw, err := encodeApp(fullApp())
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := decodeApp(raw); err != nil {
			b.Fatal(err)
		}
	}
}
