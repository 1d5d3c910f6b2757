package credential

import (
	"crypto/rand"
	"encoding/base64"
	"strings"

	"github.com/oauthd/oauthd/store"
)

// Credential formats. Fixed, recognisable prefixes let secret scanners
// (GitHub's, trufflehog, gitleaks) find a leaked secret or token; the
// random parts carry 256 bits each.
//
//	client_id      26 characters of lower-case base32 (128 bits)
//	client secret  "ocs_" + 43 characters of base64url (256 bits)
//	access token   "oat_" + client_id + "_" + bucket + "_" + 43 characters of base64url (256 bits)
//	API key        "oak_", then as an access token
//
// The token names its application so that its record can be stored in the
// application's Redis hash slot and looked up in one round trip, and the
// expiry bucket its record is filed under (store.ExpiryBucket, base 36, "0"
// for never) so the record is found without an index. Neither is a
// secret: a client_id is in every token request, and the bucket says
// roughly when the token expires, as expires_in does.
const (
	SecretPrefix   = "ocs_"
	TokenPrefix    = "oat_"
	APIKeyPrefix   = "oak_"
	AdminKeyPrefix = "oadm_"

	randomLen   = 43 // base64url of 32 bytes, no padding
	MaxClientID = 128
	MaxSecret   = 512
)

func random256() string {
	var b [32]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func NewClientID() string { return strings.ToLower(rand.Text()) }

// NewAdminKey makes an admin key: "oadm_" + 256 random bits. Configure
// only its SHA-256 digest (admin.key_sha256).
func NewAdminKey() string { return AdminKeyPrefix + random256() }
func NewSecret() string   { return SecretPrefix + random256() }

// NewID is a random identifier for records that are not credentials (token
// jti, secret id): 128 bits so ids never collide.
func NewID() string { return strings.ToLower(rand.Text()) }

// NewToken makes an access token for clientID filed in bucket, and the
// reference its record is stored under.
func NewToken(clientID string, bucket int64) (string, store.TokenRef) {
	return newCredential(TokenPrefix, clientID, bucket)
}

// NewAPIKey makes an API key: stored and checked exactly like an access
// token, so introspection, revoke-all, disabling and deletion reach it.
func NewAPIKey(clientID string, bucket int64) (string, store.TokenRef) {
	return newCredential(APIKeyPrefix, clientID, bucket)
}

func newCredential(prefix, clientID string, bucket int64) (string, store.TokenRef) {
	var b strings.Builder
	b.Grow(len(prefix) + len(clientID) + 15 + randomLen)
	b.WriteString(prefix)
	b.WriteString(clientID)
	b.WriteByte('_')
	b.WriteString(store.FormatBucket(bucket))
	b.WriteByte('_')
	var rnd [32]byte
	_, _ = rand.Read(rnd[:]) // crypto/rand.Read never fails (Go 1.24+)
	var enc [randomLen]byte
	base64.RawURLEncoding.Encode(enc[:], rnd[:])
	b.Write(enc[:])
	raw := b.String()
	return raw, store.TokenRef{ClientID: clientID, Bucket: bucket, Digest: store.Sum(raw)}
}

// Parse checks a presented token's or API key's shape and returns its
// reference. Anything malformed is rejected here, before it can reach
// Redis.
func Parse(raw string) (store.TokenRef, bool) {
	rest, ok := strings.CutPrefix(raw, TokenPrefix)
	if !ok {
		if rest, ok = strings.CutPrefix(raw, APIKeyPrefix); !ok {
			return store.TokenRef{}, false
		}
	}
	// client_id and bucket contain no '_'; the random part may.
	id, rest, ok := strings.Cut(rest, "_")
	if !ok || !ValidClientID(id) {
		return store.TokenRef{}, false
	}
	b, random, ok := strings.Cut(rest, "_")
	if !ok || len(random) != randomLen || !isBase64URL(random) {
		return store.TokenRef{}, false
	}
	bucket, ok := store.ParseBucket(b)
	if !ok {
		return store.TokenRef{}, false
	}
	return store.TokenRef{ClientID: id, Bucket: bucket, Digest: store.Sum(raw)}, true
}

// ValidClientID accepts the RFC 3986 unreserved characters minus '_', the
// alphabet oauthd's ids are drawn from. Checking it before any lookup keeps
// hostile ids (say with '{' or '}', which would move a Redis Cluster hash
// slot, or '*') out of key names.
func ValidClientID(id string) bool {
	if id == "" || len(id) > MaxClientID {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '.', c == '~':
		default:
			return false
		}
	}
	return true
}

func isBase64URL(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_':
		default:
			return false
		}
	}
	return true
}

// NewJWTRef is the reference a JWT access token's record is filed under:
// like an opaque token's, but the digest is of 256 random bits that are
// never handed out, since the JWT itself is not stored and is looked up
// by its jti.
func NewJWTRef(clientID string, bucket int64) store.TokenRef {
	var b [32]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return store.TokenRef{ClientID: clientID, Bucket: bucket, Digest: store.Sum(string(b[:]))}
}
