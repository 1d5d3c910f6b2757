// Package store holds oauthd's domain records (applications, their secrets
// and access tokens), the errors every storage backend returns, and the
// storage contract: Backend, made of small groups (Applications, Tokens,
// ...) that consumers pick from. Backends live in sub-packages
// (store/redis); the conformance suite in store/storetest checks the whole
// contract on each.
//
// Nothing here holds a secret or a token in the clear: secrets and tokens are
// kept as SHA-256 digests, so a copy of the database cannot be replayed.
package store

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Sentinel errors. Backends return them (possibly wrapped) so callers can
// branch with errors.Is without knowing the backend.
var (
	// ErrNotFound: no record with that key.
	ErrNotFound = errors.New("not found")
	// ErrAlreadyExists: a record with that key exists already.
	ErrAlreadyExists = errors.New("already exists")
	// ErrConflict: a compare-and-swap update lost to a concurrent writer too
	// many times in a row.
	ErrConflict = errors.New("concurrent update, try again")
	// ErrInvalid: the request itself is malformed (a bad cursor, say).
	ErrInvalid = errors.New("invalid request")
	// ErrUnavailable: the backend could not be reached or did not answer in
	// time. The HTTP layer answers it with 503; nothing was acknowledged.
	ErrUnavailable = errors.New("storage unavailable")
)

// Digest is the SHA-256 of a secret or token. A plain hash is enough: the
// inputs carry 256 bits of randomness, so no dictionary or brute force can
// invert it, and a slow password hash would only cap throughput.
type Digest [sha256.Size]byte

// Sum returns the digest of a secret or token. Credentials are short: they
// are copied to the stack rather than converted to a heap []byte, which
// matters on the token and introspection paths.
func Sum(s string) Digest {
	var buf [256]byte
	if len(s) <= len(buf) {
		n := copy(buf[:], s)
		return sha256.Sum256(buf[:n])
	}
	return sha256.Sum256([]byte(s))
}

// Equal compares two digests in constant time.
func (d Digest) Equal(o Digest) bool { return subtle.ConstantTimeCompare(d[:], o[:]) == 1 }

// Application is a machine-to-machine OAuth client.
type Application struct {
	ClientID    string
	Name        string
	Description string
	// TokenFormat is how its access tokens look: TokenOpaque (also "") or
	// TokenJWT (RFC 9068, signed by oauthd).
	TokenFormat string
	// Audiences are the resource servers its tokens are meant for; a token
	// request may narrow them (RFC 8707 resource). None: any.
	Audiences []string
	// Owner is an opaque account id (an SMS platform's customer account):
	// introspection returns it so a resource server knows whom to bill,
	// and a delegated administrator manages only its own owner's
	// applications. Empty for applications that belong to no account.
	Owner string
	// Metadata is a few small key/value pairs the operator attaches
	// (customer reference, environment); oauthd only stores and shows it.
	Metadata map[string]string
	// Scopes the application may be granted, in catalogue order.
	Scopes []string
	// TokenLifetime of the access tokens it is issued; 0 means they never
	// expire.
	TokenLifetime time.Duration
	// IPAllowlist, when not empty, limits the addresses that may get tokens.
	// Single addresses are stored as /32 or /128 prefixes.
	IPAllowlist []netip.Prefix
	Enabled     bool
	Secrets     []Secret
	// Auth is how the application proves who it is at the token,
	// introspection and revocation endpoints and the revocation feed
	// (issue 18). The zero value is a shared secret sent with HTTP Basic or
	// in the body, as every application made before methods existed.
	Auth ClientAuth
	// TokenQuota is its own token quota, over the global one
	// (LimitsConfig.Issue); IntrospectionQuota, as a resource server, its
	// own introspection budget (over LimitsConfig.Introspect). Unset (the
	// zero Quota), the global one applies.
	TokenQuota, IntrospectionQuota Quota
	// QuotaMode is QuotaEnforce or QuotaMonitor for both its quotas; ""
	// follows the global default (LimitsConfig.Monitor).
	QuotaMode string
	// DPoPBound refuses it tokens not bound to a DPoP key (RFC 9449 §5.2
	// dpop_bound_access_tokens).
	DPoPBound bool
	// Profile is a security profile its token requests are held to:
	// ProfileFAPI2, ProfileNone ("none": none, whatever the server's
	// default), or "" for the server's default (issue 19).
	Profile string
	// Generation is bumped to revoke every token of the application at once:
	// a token is valid only while its Generation equals the application's.
	Generation uint64
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// Application profiles (Application.Profile).
const (
	// ProfileFAPI2 is the FAPI 2.0 Security Profile for the client
	// credentials grant: key- or certificate-based client authentication,
	// sender-constrained tokens, TLS only.
	ProfileFAPI2 = "fapi2"
	// ProfileNone holds an application to no profile even where the
	// server's default is one.
	ProfileNone = "none"
)

// Client authentication methods (ClientAuth.Method): the names of RFC
// 7591 §2 token_endpoint_auth_method and RFC 8705 §2.1.2.
const (
	AuthSecretBasic   = "client_secret_basic"
	AuthSecretPost    = "client_secret_post"
	AuthSecretJWT     = "client_secret_jwt"
	AuthPrivateKeyJWT = "private_key_jwt"
	AuthTLS           = "tls_client_auth"
	AuthSelfSignedTLS = "self_signed_tls_client_auth"
)

// AuthMethods lists every method an application may use, in the order
// metadata documents list them.
var AuthMethods = []string{AuthSecretBasic, AuthSecretPost, AuthSecretJWT, AuthPrivateKeyJWT, AuthTLS, AuthSelfSignedTLS}

// ClientAuth is an application's client authentication method and what
// it needs: public keys for private_key_jwt (inline or at a URL), the
// certificate's subject for tls_client_auth, the registered certificates
// (x5c in JWKS) for self_signed_tls_client_auth, or an external issuer
// whose tokens it presents as client assertions (workload identity).
// Nothing here is secret: a key-only application has no Secrets at all.
type ClientAuth struct {
	// Method is one of AuthMethods; "" means a shared secret sent with
	// client_secret_basic or client_secret_post, either.
	Method string
	// JWKS is an inline JWK Set (RFC 7517 §5) of public keys, as JSON:
	// several at once so a client rotates without downtime.
	JWKS []byte
	// JWKSURI is where the client publishes its JWK Set (https).
	JWKSURI string
	// The certificate a tls_client_auth client must present: exactly one
	// of these is set (RFC 8705 §2.1.2).
	SubjectDN, SANDNS, SANURI, SANIP, SANEmail string
	// TrustedIssuer, when set, is an external issuer (OIDC discovery or a
	// JWKS) whose JWTs the application presents as private_key_jwt client
	// assertions: a Kubernetes service-account token, a SPIFFE JWT-SVID, a
	// CI system's OIDC token. Its sub must be TrustedSubject and its aud
	// name TrustedAudience.
	TrustedIssuer, TrustedJWKSURI, TrustedSubject, TrustedAudience string
}

// UsesSecret reports whether the method authenticates with a shared
// secret (the Secrets): the two classic methods and client_secret_jwt.
func (c ClientAuth) UsesSecret() bool {
	switch c.Method {
	case "", AuthSecretBasic, AuthSecretPost, AuthSecretJWT:
		return true
	}
	return false
}

// Quota is an application's own limit on one budget, over the global
// default. The zero Quota is unset: the default applies. Set with a Rate
// that is Off means no limit at all ("unlimited").
type Quota struct {
	Set  bool
	Rate Rate
}

// Or is the rate that holds the application: its own when set, else def.
func (q Quota) Or(def Rate) Rate {
	if q.Set {
		return q.Rate
	}
	return def
}

// Quota modes (Application.QuotaMode).
const (
	// QuotaEnforce refuses a request past its quota (429).
	QuotaEnforce = "enforce"
	// QuotaMonitor lets a request past its quota through, counted and
	// logged: to learn what a quota would refuse before enforcing it.
	QuotaMonitor = "monitor"
)

// Monitored reports whether a's quotas are in monitor mode, given the
// global default (LimitsConfig.Monitor).
func (a *Application) Monitored(byDefault bool) bool {
	if a.QuotaMode == "" {
		return byDefault
	}
	return a.QuotaMode == QuotaMonitor
}

// Scope is one entry of the scope catalogue: a scope's name and what it
// grants, in the operator's words.
type Scope struct {
	Name        string
	Description string
}

// ScopeList is the scope catalogue as stored: its scopes in order, and
// its version, which increases with every change.
type ScopeList struct {
	Scopes  []Scope
	Version uint64
}

// Secret is one client secret of an application. An application may hold a
// few at once while a daemon rolls over from the old one to the new one.
type Secret struct {
	ID        string
	Digest    Digest
	CreatedAt time.Time
	// ExpiresAt is zero for a secret that does not expire.
	ExpiresAt time.Time
	// Sealed is the secret itself, sealed (AES-GCM) with the deployment's
	// sealing key, for client_secret_jwt applications only: an HMAC
	// assertion is checked with the secret, not its digest. Empty for
	// every other method.
	Sealed []byte
}

// Active reports whether s may still authenticate at now.
func (s Secret) Active(now time.Time) bool { return s.ExpiresAt.IsZero() || now.Before(s.ExpiresAt) }

// VerifySecret reports whether secret matches one of the application's active
// secrets. Every stored digest is compared, in constant time, so the time
// taken does not tell which (if any) matched.
func (a *Application) VerifySecret(secret string, now time.Time) bool {
	_, ok := a.MatchSecret(secret, now)
	return ok
}

// MatchSecret is VerifySecret that also says which secret matched.
func (a *Application) MatchSecret(secret string, now time.Time) (id string, ok bool) {
	return a.MatchDigest(Sum(secret), now)
}

// MatchDigest is MatchSecret for a secret whose digest is d.
func (a *Application) MatchDigest(d Digest, now time.Time) (id string, ok bool) {
	for _, s := range a.Secrets {
		if d.Equal(s.Digest) && s.Active(now) {
			id, ok = s.ID, true
		}
	}
	return id, ok
}

// Usage is when an application and each of its secrets last got a token
// (possibly to the hour only, UsageCounts), and how many tokens it has been
// issued.
type Usage struct {
	LastUsed       time.Time
	SecretLastUsed map[string]time.Time
	Issued         int64
}

// Allows reports whether addr may use the application: true when the
// allowlist is empty or one of its prefixes contains addr.
func (a *Application) Allows(addr netip.Addr) bool {
	if len(a.IPAllowlist) == 0 {
		return true
	}
	addr = addr.Unmap()
	for _, p := range a.IPAllowlist {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// InAllowlist reports whether addr is inside the application's IP
// allowlist: false when it has none. A lock-out of the whole client (a
// siege, past limits.client_ceiling) does not hold such an address, so
// attackers elsewhere cannot keep a fenced daemon from its tokens.
func (a *Application) InAllowlist(addr netip.Addr) bool {
	return len(a.IPAllowlist) > 0 && a.Allows(addr)
}

// SecurityEvent is something an unauthenticated or misbehaving caller
// did: a failed authentication, a lock-out, a spent quota.
type SecurityEvent struct {
	Kind     string // client.auth_failed, client.locked_out, token.quota_exceeded, introspection.limited
	ClientID string // as the caller named it: it may not exist
	// Known reports that ClientID names an existing application; events
	// about invented ids are aggregated by address alone, so nobody can
	// flood the log by inventing ids.
	Known  bool
	Addr   netip.Addr
	Reason string
	// For is a lock-out's duration.
	For time.Duration
	// Monitor marks a spent quota that was let through: its application's
	// quota is in monitor mode.
	Monitor bool
}

// Lockout is the state of a caller after a failed authentication.
type Lockout struct {
	// For is how long the caller is locked out; 0 when it is not.
	For time.Duration
	// New reports a lock-out this failure started (for the audit log);
	// it may be one that does not hold this caller (For 0).
	New bool
	// Scope is "client" (the client_id from this address), "address"
	// (every client_id from this address) or "siege" (the client_id from
	// every address outside its allowlist).
	Scope string
}

// LockedError refuses a token to a client locked out, for too many failed
// authentications, from the address it asked from (or from everywhere).
type LockedError struct{ For time.Duration }

func (e *LockedError) Error() string {
	return "client locked out from this address for " + e.For.Round(time.Second).String()
}

// Token formats (Application.TokenFormat).
const (
	TokenOpaque = "opaque"
	TokenJWT    = "jwt"
)

// KindAPIKey is Token.Kind for an API key.
const KindAPIKey = "api_key"

// Token is the record behind an opaque access token. The token itself is
// never stored; the backend keys this record by the token's Digest.
type Token struct {
	// ID is the token's jti: safe to show and log, useless as a credential.
	ID       string
	ClientID string
	Scopes   []string
	IssuedAt time.Time
	// ExpiresAt is zero for a token that never expires.
	ExpiresAt time.Time
	// Generation of the application when the token was issued.
	Generation uint64
	// SecretID is the secret that authenticated the request, counted in
	// the application's usage when the token is created; it is not part of
	// the stored record.
	SecretID string
	// Kind is "" for an access token, KindAPIKey for an API key.
	Kind string
	// Audiences the token is meant for (its aud), when the application
	// names its resource servers; none means every resource server.
	Audiences []string
	// RequestedFrom is the address the token was requested from, when it
	// was. It is not stored: CreateToken refuses the token with
	// *LockedError while that (client, address) pair is locked out, or
	// the whole client is unless Allowlisted, checked in the same step as
	// the write.
	RequestedFrom netip.Addr
	// Allowlisted: RequestedFrom is in the application's IP allowlist
	// (Application.InAllowlist). Not stored.
	Allowlisted bool
	// Name labels an API key for operators.
	Name string
	// Confirmation is what the token is bound to (issue 19): the DPoP key
	// or client certificate its holder must prove, none for a bearer
	// token.
	Confirmation Confirmation
}

// Confirmation is a sender-constrained token's binding, as its cnf claim
// says it (RFC 7800 §3.1): JKT is the RFC 7638 thumbprint of a DPoP key
// (RFC 9449 §6), X5TS256 the SHA-256 of a client certificate's DER (RFC
// 8705 §3.1), each base64url without padding. The zero value binds to
// nothing.
type Confirmation struct {
	JKT, X5TS256 string
}

// Bound reports whether c binds to anything.
func (c Confirmation) Bound() bool { return c.JKT != "" || c.X5TS256 != "" }

// TokenRequest is a client's request for an access token, as
// Tokens.IssueToken checks and stores it.
type TokenRequest struct {
	ClientID string
	// Secret is the digest of the secret the client presented, which must
	// be one of the application's secrets active at AuthAt, when AuthMethod
	// is "".
	Secret Digest
	AuthAt time.Time
	// AuthMethod is set when the caller authenticated the client itself,
	// with a key (a client assertion or a TLS client certificate, issue
	// 18): the method it verified (AuthSecretJWT, AuthPrivateKeyJWT,
	// AuthTLS, AuthSelfSignedTLS). The backend then compares no secret, but
	// refuses the request unless the application's Auth.Method is exactly
	// this one, so an application whose method changed while the request
	// was checked gets no token. "" is a shared secret (Secret), which only
	// an application of method "", AuthSecretBasic or AuthSecretPost
	// accepts.
	AuthMethod string
	// JTI, when set, is the client assertion's jti, taken with the write
	// (Assertions.UseAssertion's rule, one round trip for both): held
	// until JTIUntil, and a jti used before is ErrAlreadyExists, nothing
	// written.
	JTI      string
	JTIUntil time.Time
	// ProofID, when set, names the DPoP proof the request carried (issue
	// 19; the server's choice: the proof key's thumbprint and the proof's
	// jti), taken with the write like JTI, in the same step: held until
	// ProofUntil, per client, and a proof used before is
	// ErrProofReplayed, nothing written and JTI left untaken. A request
	// may carry both.
	ProofID    string
	ProofUntil time.Time
	// Confirmation is the binding the token is expected to be granted
	// (Grant.Confirmation), for a backend that writes the record before
	// check decides: a record written with another binding than the
	// grant's is written again.
	Confirmation Confirmation
	// Scopes are those requested, none for all the application's;
	// Resources the RFC 8707 resource indicators, none for all its
	// audiences.
	Scopes, Resources []string
	// Digest names the new token's record (TokenRef.Digest); the backend
	// chooses the bucket.
	Digest Digest
	// IssuedAt is the token's issue time (kept to the millisecond).
	IssuedAt time.Time
	// Lifetime is the lifetime the client asked for (the token request's
	// ttl), 0 for the application's: a token lives the shorter of the
	// two (Application.LifetimeFor), never longer than its application's.
	Lifetime time.Duration
	// From is where the request came from: the lock-out it is held to
	// (Limits.ClientLocked's) is checked with the write. The zero Addr
	// checks none.
	From netip.Addr
}

// AuthMatches reports whether a accepts a request authenticated the way
// r says (TokenRequest.AuthMethod): a key method only its own, a shared
// secret only the methods that send it as it is (not client_secret_jwt,
// whose secret signs an assertion instead).
func (r *TokenRequest) AuthMatches(a *Application) bool {
	if r.AuthMethod != "" {
		return a.Auth.Method == r.AuthMethod
	}
	switch a.Auth.Method {
	case "", AuthSecretBasic, AuthSecretPost:
		return true
	}
	return false
}

// ErrProofReplayed is a token request whose DPoP proof
// (TokenRequest.ProofID) was used before: nothing was written.
var ErrProofReplayed = errors.New("the DPoP proof was used already")

// ErrAuthMethod is a token request authenticated with a method its
// application does not use (TokenRequest.AuthMethod), which check let
// through: the application changed while the request was checked.
var ErrAuthMethod = errors.New("the application does not authenticate with the method the request used")

// Grant is what a token request is granted, as IssueToken's check
// decides it once the application is known.
type Grant struct {
	Scopes, Audiences []string
	// SecretID is the secret that authenticated the request, counted in
	// the application's usage.
	SecretID string
	// Confirmation binds the token to a key or certificate.
	Confirmation Confirmation
}

// Issued is a token IssueToken stored: where, and its record (ID set).
type Issued struct {
	Ref   TokenRef
	Token Token
}

// LifetimeFor is the lifetime of a token of a's asked to live asked (0:
// a's own): the shorter of the two, where a's 0 (never expires) is the
// longest of all.
func (a *Application) LifetimeFor(asked time.Duration) time.Duration {
	if asked > 0 && (a.TokenLifetime <= 0 || asked < a.TokenLifetime) {
		return asked
	}
	return max(a.TokenLifetime, 0)
}

// AccessToken is the record of the access token a grants g at at, asked
// to live asked (0: a's lifetime): its times in UTC to the millisecond (as
// backends keep them), expiring after LifetimeFor(asked) (to the
// millisecond, at least one) or never, of a's generation. Its ID is left
// to the reference it is filed under.
func (a *Application) AccessToken(g Grant, at time.Time, asked time.Duration) Token {
	t := Token{
		ClientID:     a.ClientID,
		Scopes:       g.Scopes,
		Audiences:    g.Audiences,
		IssuedAt:     at.UTC().Truncate(time.Millisecond),
		Generation:   a.Generation,
		SecretID:     g.SecretID,
		Confirmation: g.Confirmation,
	}
	if life := a.LifetimeFor(asked); life > 0 {
		t.ExpiresAt = t.IssuedAt.Add(max(life.Truncate(time.Millisecond), time.Millisecond))
	}
	return t
}

// Bucket is the bucket t's record is filed in: its TokenRef must carry it.
func (t Token) Bucket() int64 {
	if t.ExpiresAt.IsZero() {
		return NeverBucket(t.Generation)
	}
	return ExpiryBucket(t.ExpiresAt, t.ExpiresAt.Sub(t.IssuedAt))
}

// Expired reports whether t has expired at now.
func (t Token) Expired(now time.Time) bool { return !t.ExpiresAt.IsZero() && !now.Before(t.ExpiresAt) }

// TokenRef locates a token record: the owning application (so the record can
// live beside it, in one Redis Cluster hash slot), the expiry bucket the
// record is filed under, and the token's digest. Records are keyed by the
// digest's first 128 bits, which is also what the token's public id (jti)
// carries, so a token can be found from its jti without any index, and
// nothing about it can be recovered from either.
type TokenRef struct {
	ClientID string
	// Bucket is the end of the token's expiry bucket in Unix seconds (see
	// ExpiryBucket), or for a token that never expires, NeverBucket of the
	// generation it was issued in. The token carries it, so finding the
	// record needs no index.
	Bucket int64
	Digest Digest
}

// KeyLen is how many bytes of the digest name a token record.
const KeyLen = 16

// JTI is the token's public identifier:
// "<client_id>.<bucket (FormatBucket)>.<32 hex digits>".
func (r TokenRef) JTI() string {
	var buf [256]byte
	b := append(buf[:0], r.ClientID...)
	b = append(b, '.')
	if r.Bucket <= 0 {
		b = append(b, 'n')
		b = strconv.AppendInt(b, -r.Bucket, 36)
	} else {
		b = strconv.AppendInt(b, r.Bucket, 36)
	}
	b = append(b, '.')
	b = hex.AppendEncode(b, r.Digest[:KeyLen])
	return string(b)
}

// ParseJTI returns the reference a jti names. It splits from the right: a
// client_id may itself contain dots.
func ParseJTI(jti string) (TokenRef, bool) {
	rest, h, ok := cutLast(jti, ".")
	if !ok || len(h) != 2*KeyLen {
		return TokenRef{}, false
	}
	id, b, ok := cutLast(rest, ".")
	if !ok || id == "" {
		return TokenRef{}, false
	}
	bucket, ok := ParseBucket(b)
	if !ok {
		return TokenRef{}, false
	}
	ref := TokenRef{ClientID: id, Bucket: bucket}
	if _, err := hex.Decode(ref.Digest[:KeyLen], []byte(h)); err != nil {
		return TokenRef{}, false
	}
	return ref, true
}

func cutLast(s, sep string) (before, after string, ok bool) {
	i := strings.LastIndex(s, sep)
	if i < 0 {
		return s, "", false
	}
	return s[:i], s[i+len(sep):], true
}

// FormatBucket writes a bucket as tokens, jtis and keys carry it: an expiry
// bucket in base 36, a never-expiring one as "n" and the generation in base
// 36.
func FormatBucket(b int64) string {
	if b <= 0 {
		return "n" + strconv.FormatInt(-b, 36)
	}
	return strconv.FormatInt(b, 36)
}

// ParseBucket is FormatBucket's inverse; it accepts nothing else (lower
// case, at most 12 digits, no sign, no zero expiry bucket).
func ParseBucket(s string) (int64, bool) {
	never := strings.HasPrefix(s, "n")
	if never {
		s = s[1:]
	}
	if s == "" || len(s) > 12 {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z') {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(s, 36, 64)
	// Canonical, as FormatBucket writes it: no leading zeros ("0" alone
	// only for the never-expiring bucket "n0"). Checked on the digits
	// rather than by formatting n again: every introspection parses one.
	canonical := len(s) == 1 || s[0] != '0'
	switch {
	case err != nil, !never && n == 0:
		return 0, false
	case never:
		return -n, canonical
	}
	return n, canonical
}

// NeverBucket is the bucket of tokens that never expire, issued while the
// application was at generation gen. Revoking every token moves the
// application to a new generation, so a backend can drop (or let expire)
// the old generation's never-expiring records as a whole.
func NeverBucket(gen uint64) int64 { return -int64(gen) }

// Expiry buckets. Token records are filed by when they expire, in buckets
// whose width grows with the token lifetime (1/64 of it, between a second
// and an hour), so a backend can drop a whole bucket once it has passed: a
// record outlives its token by at most the bucket width (1.6% of the
// lifetime), and a backend needs no per-token expiry or index.
const (
	minBucketWidth = time.Second
	maxBucketWidth = time.Hour
)

// ExpiryBucket returns the end, in Unix seconds, of the bucket a token
// expiring at exp after lifetime is filed in; the end is never before exp.
// exp must not be zero: see NeverBucket.
func ExpiryBucket(exp time.Time, lifetime time.Duration) int64 {
	w := int64(min(max(lifetime/64, minBucketWidth), maxBucketWidth) / time.Second)
	end := exp.Unix()
	if exp.Nanosecond() > 0 {
		end++
	}
	return (end + w - 1) / w * w
}

// TokenLookup is one read of a token together with everything that decides
// whether it is still good; backends fill it in one round trip.
//
// App and Also may be a backend's cached records, shared with every other
// lookup (Redis: its application cache): read them, never change them.
// Introspection, a hot path, spares a copy of each that way.
type TokenLookup struct {
	// Token is nil when there is no record: unknown, revoked, or expired
	// and forgotten.
	Token *Token
	// App is the token's application, nil when it was deleted.
	App *Application
	// Revoked reports a revocation tombstone for the token.
	Revoked bool
	// Also is the application asked for alongside (the caller of an
	// introspection request, say), nil when none was asked for or it does
	// not exist.
	Also *Application
	// AlsoLocked is how long that caller is still locked out from the
	// address it called from (Caller.Addr); 0 when it is not.
	AlsoLocked time.Duration
}

// Caller is a client authenticating alongside a token lookup: its
// application is read in the same round trip, and its lock-out from Addr
// (when valid) checked.
type Caller struct {
	ClientID string
	Addr     netip.Addr
}

// Event is one entry of the audit log: an admin change or a security
// event. It never holds a secret or a token.
type Event struct {
	ID       string // assigned by the store; increasing with time
	Time     time.Time
	Kind     string // e.g. "application.created", "client.auth_failed"
	Actor    string // who did it: "admin-key:…", "client:<client_id>", "cli"
	ClientID string // the application concerned, if any
	IP       string // the request's source address, if any
	// Detail says what changed: field names and new values, never secrets.
	Detail map[string]any
}

// EventFilter selects events: those of one log, matching its other
// non-empty fields.
type EventFilter struct {
	// Log is the log to list: LogAdmin (also "") or LogSecurity.
	Log      string
	ClientID string
	Kind     string
}

// The two logs of the audit log (Events).
const (
	// LogAdmin holds the changes authenticated actors made.
	LogAdmin = "admin"
	// LogSecurity holds what unauthenticated or misbehaving callers
	// caused: failed authentications, lock-outs, spent quotas.
	LogSecurity = "security"
)

// SigningKey is a JWT signing key as stored: its private part sealed
// (encrypted) by the signing package, never in the clear.
type SigningKey struct {
	ID        string
	Alg       string
	CreatedAt time.Time
	// ActiveAt is when it starts signing; RetireAt when it stops being
	// published (zero while it may still sign).
	ActiveAt, RetireAt time.Time
	Sealed             []byte
}

// Revocation feed event kinds. Each names a change that can make an answer
// a resource server cached wrong; see docs/api.md, "Revocation feed".
const (
	// FeedTokenRevoked: one token or API key was revoked; JTI names it.
	FeedTokenRevoked = "token.revoked"
	// FeedTokensRevoked: every token of the application was revoked (its
	// generation was bumped).
	FeedTokensRevoked = "application.tokens_revoked"
	// FeedAppDisabled: the application was disabled.
	FeedAppDisabled = "application.disabled"
	// FeedAppDeleted: the application was deleted.
	FeedAppDeleted = "application.deleted"
	// FeedAppUpdated: its scopes, IP allowlist, token lifetime or owner
	// changed, so a cached introspection answer may be wrong.
	FeedAppUpdated = "application.updated"
	// FeedStarted is a marker written when the feed stream is created, so
	// that every subscriber has an entry to resume from. It changes
	// nothing.
	FeedStarted = "feed.started"
)

// FeedEvent is one entry of the revocation feed. It carries what a cache
// needs to evict, never a token, a secret or a digest of either (a jti is
// derived from 128 bits of the token's digest, which cannot be inverted
// and authenticates nothing).
type FeedEvent struct {
	// ID is the feed's id of the event ("<ms>-<seq>"), increasing; a
	// subscriber resumes after it.
	ID       string
	Kind     string
	ClientID string
	// JTI is set for FeedTokenRevoked.
	JTI string
}

// FeedIDLess orders feed ids and audit event ids ("<ms>-<seq>", Redis
// stream ids): by time, then sequence.
func FeedIDLess(a, b string) bool {
	am, as, _ := strings.Cut(a, "-")
	bm, bs, _ := strings.Cut(b, "-")
	if len(am) != len(bm) {
		return len(am) < len(bm)
	}
	if am != bm {
		return am < bm
	}
	if len(as) != len(bs) {
		return len(as) < len(bs)
	}
	return as < bs
}

// ValidFeedID reports whether id has the form of a feed id, "<ms>-<seq>",
// both decimal without leading zeros (bar "0") and within 64 bits, as
// Redis stream ids are: Redis refuses a larger one with an error, which
// must not become a 503 for the subscriber that sent it.
func ValidFeedID(id string) bool {
	ms, seq, ok := strings.Cut(id, "-")
	return ok && decimal(ms) && decimal(seq)
}

func decimal(s string) bool {
	if s == "" || len(s) > 20 || (len(s) > 1 && s[0] == '0') || strings.Trim(s, "0123456789") != "" {
		return false
	}
	_, err := strconv.ParseUint(s, 10, 64)
	return err == nil
}

// FeedAppEvent returns the feed event kind an application update from old
// to next calls for, "" when no cached answer can have become wrong
// (a new secret, a new name, a re-enabled application: a cache holding
// "inactive" for a while is harmless).
func FeedAppEvent(old, next Application) string {
	switch {
	case next.Generation != old.Generation:
		return FeedTokensRevoked
	case old.Enabled && !next.Enabled:
		return FeedAppDisabled
	case !slices.Equal(old.Scopes, next.Scopes), !slices.Equal(old.IPAllowlist, next.IPAllowlist),
		old.TokenLifetime != next.TokenLifetime, old.Owner != next.Owner:
		return FeedAppUpdated
	}
	return ""
}

// FeedSubscription is one subscriber's view of the revocation feed: either
// a reset (it cannot resume, and must drop its whole cache), or the events
// it missed (the backlog, read page by page) followed by live ones.
//
// The backlog ends at the feed's newest event when the subscription began,
// so once NextBacklog returns none the subscriber is up to date (the feed
// endpoint's "ready"): Events carries only later events, and repeats of
// backlog events.
type FeedSubscription interface {
	// Reset reports that the subscriber could not resume (no id, an id
	// the feed no longer holds, a malformed one) and the id it resumes
	// from after dropping its cache: the feed's newest event when the
	// subscription began.
	Reset() (reset bool, id string)
	// NextBacklog returns the next page of missed events, none once the
	// backlog is read.
	NextBacklog(ctx context.Context) ([]FeedEvent, error)
	// Events delivers live events once the backlog is read; it may repeat
	// events of the backlog (skip ids not after the last one handled).
	// It is closed when the subscriber fell too far behind or the feed
	// stopped: the subscriber must reconnect and resume.
	Events() <-chan FeedEvent
	Close()
}
