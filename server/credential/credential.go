package credential

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"strings"

	"github.com/oauthd/oauthd/store"
)

// Credential formats. Fixed, recognisable prefixes let secret scanners
// (GitHub's, trufflehog, gitleaks) find a leaked secret or token; the
// random parts carry 256 bits or more.
//
//	client_id      26 characters of lower-case base32 (128 bits)
//	client secret  "ocs_" + 43 characters of base64url (256 bits)
//	access token   "oat_" + client_id + "_" + bucket + "_" + 44 characters of base64url (264 bits)
//	API key        "oak_", then as an access token
//
// The token names its application so that its record can be stored in the
// application's Redis hash slot and looked up in one round trip, and the
// expiry bucket its record is filed under (store.ExpiryBucket, base 36, "n"
// and the generation for never) so the record is found without an index.
// Neither is a secret: a client_id is in every token request, and the
// bucket says roughly when the token expires, as expires_in does.
//
// The digest that names the record (store.TokenRef.Digest) covers all of
// the token but its bucket: SHA-256 of prefix + client_id + "_" + random.
// So the record can be written before the bucket is known: the token
// script reads the application's lifetime and chooses the bucket, in the
// same round trip (store.Tokens' IssueToken), and the token is put
// together afterwards (Pending). Changing the bucket of a token only
// sends its lookup to another hash, where its record is not.
//
// Tokens and API keys made before that format have 43 random characters
// and the digest of the whole credential; Parse tells the two apart by
// that length and reads both, so they work until they expire (forever, for
// those that never do).
const (
	SecretPrefix   = "ocs_"
	TokenPrefix    = "oat_"
	APIKeyPrefix   = "oak_"
	AdminKeyPrefix = "oadm_"

	randomLen    = 44 // base64url of 33 bytes, no padding
	oldRandomLen = 43 // base64url of 32 bytes: the format whose digest covers the bucket
	MaxClientID  = 128
	MaxSecret    = 512
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
	p := NewPending(clientID)
	return p.Token(bucket), p.Ref(bucket)
}

// NewAPIKey makes an API key: stored and checked exactly like an access
// token, so introspection, revoke-all, disabling and deletion reach it.
func NewAPIKey(clientID string, bucket int64) (string, store.TokenRef) {
	p := newPending(APIKeyPrefix, clientID)
	return p.Token(bucket), p.Ref(bucket)
}

// Pending is a new access token whose bucket is not known yet: its random
// part and the digest its record is stored under, which does not cover the
// bucket. Token puts the token together once the bucket is known.
type Pending struct {
	prefix, clientID string
	random           [randomLen]byte
	// Digest names the token's record (store.TokenRef.Digest).
	Digest store.Digest
}

// NewPending draws a new access token for clientID.
func NewPending(clientID string) Pending { return newPending(TokenPrefix, clientID) }

func newPending(prefix, clientID string) Pending {
	p := Pending{prefix: prefix, clientID: clientID}
	var rnd [(randomLen * 6) / 8]byte
	_, _ = rand.Read(rnd[:]) // crypto/rand.Read never fails (Go 1.24+)
	base64.RawURLEncoding.Encode(p.random[:], rnd[:])
	p.Digest = digest(prefix, clientID, p.random[:])
	return p
}

// Token is the credential, filed in bucket.
func (p Pending) Token(bucket int64) string {
	var b strings.Builder
	b.Grow(len(p.prefix) + len(p.clientID) + 15 + randomLen)
	b.WriteString(p.prefix)
	b.WriteString(p.clientID)
	b.WriteByte('_')
	b.WriteString(store.FormatBucket(bucket))
	b.WriteByte('_')
	b.Write(p.random[:])
	return b.String()
}

// Ref is the reference of the token's record filed in bucket.
func (p Pending) Ref(bucket int64) store.TokenRef {
	return store.TokenRef{ClientID: p.clientID, Bucket: bucket, Digest: p.Digest}
}

// digest is the SHA-256 of prefix + clientID + "_" + random, the part of
// a token that names its record, put together on the stack (a token is
// short) rather than in a heap string: this runs on every token issue and
// introspection.
func digest[T string | []byte](prefix, clientID string, random T) store.Digest {
	var buf [256]byte
	b := append(buf[:0], prefix...)
	b = append(b, clientID...)
	b = append(b, '_')
	b = append(b, random...)
	return sha256.Sum256(b)
}

// Parse checks a presented token's or API key's shape and returns its
// reference. Anything malformed is rejected here, before it can reach
// Redis.
func Parse(raw string) (store.TokenRef, bool) {
	prefix := TokenPrefix
	rest, ok := strings.CutPrefix(raw, prefix)
	if !ok {
		prefix = APIKeyPrefix
		if rest, ok = strings.CutPrefix(raw, prefix); !ok {
			return store.TokenRef{}, false
		}
	}
	// client_id and bucket contain no '_'; the random part may.
	id, rest, ok := strings.Cut(rest, "_")
	if !ok || !ValidClientID(id) {
		return store.TokenRef{}, false
	}
	b, random, ok := strings.Cut(rest, "_")
	if !ok || len(random) != randomLen && len(random) != oldRandomLen || !isBase64URL(random) {
		return store.TokenRef{}, false
	}
	bucket, ok := store.ParseBucket(b)
	if !ok {
		return store.TokenRef{}, false
	}
	ref := store.TokenRef{ClientID: id, Bucket: bucket}
	if len(random) == randomLen {
		ref.Digest = digest(prefix, id, random)
	} else {
		ref.Digest = store.Sum(raw) // the earlier format: the digest covers the bucket
	}
	return ref, true
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
