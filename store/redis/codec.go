package redis

import (
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	gojson "github.com/goccy/go-json"

	"github.com/oauthd/oauthd/store"
)

// appRecord is the stored shape of an application. It is separate from
// store.Application so that the domain type can change without breaking
// records already in Redis. Applications are read rarely (the app cache
// holds them), so readable JSON is worth its bytes here. But with more
// applications asking than the cache holds, every token request of one
// not held decodes its record (the token script's answer): decodeApp uses
// goccy/go-json, which decodes a record with every field set in 6-7 µs
// where encoding/json took 24-30 (BenchmarkDecodeApp, 2 vCPUs); writing
// stays with encoding/json, and TestDecodeAppAsEncodingJSON holds the two
// to the same reading.
type appRecord struct {
	ClientID    string            `json:"client_id"`
	Name        string            `json:"name"`
	Description string            `json:"description,omitempty"`
	Owner       string            `json:"owner,omitempty"`
	TokenFormat string            `json:"token_format,omitempty"`
	Audiences   []string          `json:"audiences,omitempty"`
	Metadata    map[string]string `json:"metadata,omitempty"`
	Scopes      []string          `json:"scopes"`
	LifetimeNS  int64             `json:"lifetime_ns"`
	Allowlist   []string          `json:"ip_allowlist,omitempty"`
	Enabled     bool              `json:"enabled"`
	Secrets     []secretRecord    `json:"secrets"`
	// TokenQuota and IntrospectionQuota are absent when unset; {} (N 0)
	// is no limit at all.
	TokenQuota         *quotaRecord `json:"token_quota,omitempty"`
	IntrospectionQuota *quotaRecord `json:"introspection_quota,omitempty"`
	QuotaMode          string       `json:"quota_mode,omitempty"`
	Auth               *authRecord  `json:"auth,omitempty"`
	// DPoPBound and Profile are issue 19's binding policy, absent when
	// off.
	DPoPBound  bool   `json:"dpop_bound,omitempty"`
	Profile    string `json:"profile,omitempty"`
	Generation uint64 `json:"gen"`
	CreatedMS  int64  `json:"created_ms"`
	UpdatedMS  int64  `json:"updated_ms"`
}

// quotaRecord is a store.Quota that is set: N per PerMS milliseconds, or
// unlimited when N is 0.
type quotaRecord struct {
	N     int   `json:"n,omitempty"`
	PerMS int64 `json:"per_ms,omitempty"`
}

func quotaRecordOf(q store.Quota) *quotaRecord {
	if !q.Set {
		return nil
	}
	if q.Rate.Off() {
		return &quotaRecord{}
	}
	return &quotaRecord{N: q.Rate.N, PerMS: q.Rate.Per.Milliseconds()}
}

func (r *quotaRecord) quota() store.Quota {
	if r == nil {
		return store.Quota{}
	}
	return store.Quota{Set: true, Rate: store.Rate{N: r.N, Per: time.Duration(r.PerMS) * time.Millisecond}}
}

type secretRecord struct {
	ID        string `json:"id"`
	SHA256    string `json:"sha256"`
	CreatedMS int64  `json:"created_ms"`
	ExpiresMS int64  `json:"expires_ms,omitempty"`
	Sealed    []byte `json:"sealed,omitempty"` // base64 in JSON
}

// authRecord is a store.ClientAuth that is not the zero value (absent
// for the applications of shared secrets, as before methods existed).
type authRecord struct {
	Method          string          `json:"method,omitempty"`
	JWKS            json.RawMessage `json:"jwks,omitempty"`
	JWKSURI         string          `json:"jwks_uri,omitempty"`
	SubjectDN       string          `json:"subject_dn,omitempty"`
	SANDNS          string          `json:"san_dns,omitempty"`
	SANURI          string          `json:"san_uri,omitempty"`
	SANIP           string          `json:"san_ip,omitempty"`
	SANEmail        string          `json:"san_email,omitempty"`
	TrustedIssuer   string          `json:"trusted_issuer,omitempty"`
	TrustedJWKSURI  string          `json:"trusted_jwks_uri,omitempty"`
	TrustedSubject  string          `json:"trusted_subject,omitempty"`
	TrustedAudience string          `json:"trusted_audience,omitempty"`
}

func authRecordOf(a store.ClientAuth) *authRecord {
	r := authRecord{
		Method: a.Method, JWKS: json.RawMessage(a.JWKS), JWKSURI: a.JWKSURI,
		SubjectDN: a.SubjectDN, SANDNS: a.SANDNS, SANURI: a.SANURI, SANIP: a.SANIP, SANEmail: a.SANEmail,
		TrustedIssuer: a.TrustedIssuer, TrustedJWKSURI: a.TrustedJWKSURI, TrustedSubject: a.TrustedSubject, TrustedAudience: a.TrustedAudience,
	}
	if len(r.JWKS) == 0 {
		r.JWKS = nil
	}
	if r.Method == "" && r.JWKS == nil && r.JWKSURI == "" && r.SubjectDN == "" && r.SANDNS == "" && r.SANURI == "" &&
		r.SANIP == "" && r.SANEmail == "" && r.TrustedIssuer == "" && r.TrustedJWKSURI == "" && r.TrustedSubject == "" && r.TrustedAudience == "" {
		return nil
	}
	return &r
}

func (r *authRecord) clientAuth() store.ClientAuth {
	if r == nil {
		return store.ClientAuth{}
	}
	return store.ClientAuth{
		Method: r.Method, JWKS: []byte(r.JWKS), JWKSURI: r.JWKSURI,
		SubjectDN: r.SubjectDN, SANDNS: r.SANDNS, SANURI: r.SANURI, SANIP: r.SANIP, SANEmail: r.SANEmail,
		TrustedIssuer: r.TrustedIssuer, TrustedJWKSURI: r.TrustedJWKSURI, TrustedSubject: r.TrustedSubject, TrustedAudience: r.TrustedAudience,
	}
}

func encodeApp(a store.Application) ([]byte, error) {
	r := appRecord{
		ClientID:    a.ClientID,
		Name:        a.Name,
		Description: a.Description,
		Owner:       a.Owner,
		Metadata:    a.Metadata,
		TokenFormat: a.TokenFormat,
		Audiences:   a.Audiences,
		Scopes:      a.Scopes,
		LifetimeNS:  int64(a.TokenLifetime),
		Enabled:     a.Enabled,
		Generation:  a.Generation,
		CreatedMS:   ms(a.CreatedAt),
		UpdatedMS:   ms(a.UpdatedAt),

		TokenQuota:         quotaRecordOf(a.TokenQuota),
		IntrospectionQuota: quotaRecordOf(a.IntrospectionQuota),
		QuotaMode:          a.QuotaMode,
		Auth:               authRecordOf(a.Auth),
		DPoPBound:          a.DPoPBound,
		Profile:            a.Profile,
	}
	for _, p := range a.IPAllowlist {
		r.Allowlist = append(r.Allowlist, p.String())
	}
	for _, sec := range a.Secrets {
		r.Secrets = append(r.Secrets, secretRecord{
			ID:        sec.ID,
			SHA256:    hex.EncodeToString(sec.Digest[:]),
			CreatedMS: ms(sec.CreatedAt),
			ExpiresMS: ms(sec.ExpiresAt),
			Sealed:    sec.Sealed,
		})
	}
	return json.Marshal(r)
}

func decodeApp(b []byte) (store.Application, error) {
	var r appRecord
	if err := gojson.Unmarshal(b, &r); err != nil {
		return store.Application{}, fmt.Errorf("corrupt application record: %w", err)
	}
	a := store.Application{
		ClientID:      r.ClientID,
		Name:          r.Name,
		Description:   r.Description,
		Owner:         r.Owner,
		Metadata:      r.Metadata,
		TokenFormat:   r.TokenFormat,
		Audiences:     r.Audiences,
		Scopes:        r.Scopes,
		TokenLifetime: time.Duration(r.LifetimeNS),
		Enabled:       r.Enabled,
		Generation:    r.Generation,
		CreatedAt:     fromMS(r.CreatedMS),
		UpdatedAt:     fromMS(r.UpdatedMS),

		TokenQuota:         r.TokenQuota.quota(),
		IntrospectionQuota: r.IntrospectionQuota.quota(),
		QuotaMode:          r.QuotaMode,
		Auth:               r.Auth.clientAuth(),
		DPoPBound:          r.DPoPBound,
		Profile:            r.Profile,
	}
	for _, s := range r.Allowlist {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return store.Application{}, fmt.Errorf("corrupt application record %q: allowlist: %w", r.ClientID, err)
		}
		a.IPAllowlist = append(a.IPAllowlist, p)
	}
	for _, s := range r.Secrets {
		sec := store.Secret{ID: s.ID, CreatedAt: fromMS(s.CreatedMS), ExpiresAt: fromMS(s.ExpiresMS), Sealed: s.Sealed}
		if n, err := hex.Decode(sec.Digest[:], []byte(s.SHA256)); err != nil || n != len(sec.Digest) {
			return store.Application{}, fmt.Errorf("corrupt application record %q: secret %q digest", r.ClientID, s.ID)
		}
		a.Secrets = append(a.Secrets, sec)
	}
	return a, nil
}

// Token records are written once per token and there may be millions, so
// they are compact binary rather than JSON: everything the key already says
// (client id, jti, expiry bucket) is left out, times are milliseconds in
// unsigned varints, and the expiry is stored as the lifetime (a shorter
// varint than an absolute time):
//
//	byte     kind: recAccessToken or recAPIKey (the format version too)
//	uvarint  issued at, Unix milliseconds
//	uvarint  lifetime in milliseconds, 0 = never expires
//	uvarint  application generation at issue
//	uvarint  length, then the granted scopes, space-separated
//	uvarint  length, then the name (API keys only)
//	uvarint  length, then the audiences, space-separated (with recHasAudiences only)
//	uvarint  length, then cnf.jkt, then length and cnf.x5t#S256 (with recHasConfirmation only)
//
// A typical access token record is about 20 bytes.
const (
	recAccessToken = 1
	recAPIKey      = 2
	// recHasAudiences is or-ed into the kind byte of a token bound to
	// audiences (RFC 8707 resource indicators, RFC 9068 aud).
	recHasAudiences = 0x10
	// recHasConfirmation is or-ed into the kind byte of a
	// sender-constrained token (issue 19). Records written before it
	// lack the bit and decode as bearer tokens, as they are.
	recHasConfirmation = 0x20
	recFlags           = recHasAudiences | recHasConfirmation
)

// KindAPIKey is store.Token.Kind for an API key.
const KindAPIKey = store.KindAPIKey

func encodeToken(t store.Token) []byte {
	scopes := strings.Join(t.Scopes, " ")
	b := make([]byte, 0, 1+3*binary.MaxVarintLen64+len(scopes)+len(t.Name)+4)
	kind := byte(recAccessToken)
	if t.Kind == KindAPIKey {
		kind = recAPIKey
	}
	b = append(b, kind)
	iat := ms(t.IssuedAt)
	b = binary.AppendUvarint(b, uint64(iat))
	var life int64
	if !t.ExpiresAt.IsZero() {
		life = max(ms(t.ExpiresAt)-iat, 1)
	}
	b = binary.AppendUvarint(b, uint64(life))
	b = binary.AppendUvarint(b, t.Generation)
	b = binary.AppendUvarint(b, uint64(len(scopes)))
	b = append(b, scopes...)
	if kind == recAPIKey {
		b = binary.AppendUvarint(b, uint64(len(t.Name)))
		b = append(b, t.Name...)
	}
	if len(t.Audiences) > 0 {
		b[0] |= recHasAudiences
		aud := strings.Join(t.Audiences, " ")
		b = binary.AppendUvarint(b, uint64(len(aud)))
		b = append(b, aud...)
	}
	if t.Confirmation.Bound() {
		b[0] |= recHasConfirmation
		b = binary.AppendUvarint(b, uint64(len(t.Confirmation.JKT)))
		b = append(b, t.Confirmation.JKT...)
		b = binary.AppendUvarint(b, uint64(len(t.Confirmation.X5TS256)))
		b = append(b, t.Confirmation.X5TS256...)
	}
	return b
}

var errCorruptToken = errors.New("corrupt token record")

// decodeToken reads a record stored under ref.
func decodeToken(ref store.TokenRef, b []byte) (store.Token, error) {
	r := recordReader{b: b}
	kind := r.byte()
	iat, life, gen := r.uvarint(), r.uvarint(), r.uvarint()
	scopes := r.bytes()
	t := store.Token{ID: ref.JTI(), ClientID: ref.ClientID, IssuedAt: fromMS(int64(iat)), Generation: gen}
	if len(scopes) > 0 {
		t.Scopes = strings.Split(string(scopes), " ")
	}
	switch {
	case life == 0:
	case iat+life > 1<<62:
		// Each is at most 1<<62, so the sum cannot wrap; no token expires
		// past it. Adding life as a time.Duration would overflow from 292
		// years and land anywhere, even in the past.
		r.err = true
	default:
		t.ExpiresAt = fromMS(int64(iat + life))
	}
	switch kind &^ recFlags {
	case recAccessToken:
	case recAPIKey:
		t.Kind = KindAPIKey
		t.Name = string(r.bytes())
	default:
		r.err = true
	}
	if kind&recHasAudiences != 0 {
		if aud := r.bytes(); len(aud) > 0 {
			t.Audiences = strings.Split(string(aud), " ")
		} else {
			r.err = true
		}
	}
	if kind&recHasConfirmation != 0 {
		t.Confirmation = store.Confirmation{JKT: string(r.bytes()), X5TS256: string(r.bytes())}
		if !t.Confirmation.Bound() {
			r.err = true
		}
	}
	if r.err || len(r.b) != 0 || iat == 0 {
		return store.Token{}, fmt.Errorf("%w under %s", errCorruptToken, t.ID)
	}
	return t, nil
}

// recordReader reads a token record's fields; any short or malformed field
// sets err, after which every read returns zero values.
type recordReader struct {
	b   []byte
	err bool
}

func (r *recordReader) byte() byte {
	if r.err || len(r.b) == 0 {
		r.err = true
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *recordReader) uvarint() uint64 {
	if r.err {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 || v > 1<<62 {
		r.err = true
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *recordReader) bytes() []byte {
	n := r.uvarint()
	if r.err || n > uint64(len(r.b)) {
		r.err = true
		return nil
	}
	out := r.b[:n]
	r.b = r.b[n:]
	return out
}

// ms and fromMS map the zero time to 0 and back, so "never" survives a
// round trip.
func ms(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func fromMS(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMilli(v).UTC()
}
