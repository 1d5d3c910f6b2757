package adminapi

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Prefix is where the admin API lives on a server.
const Prefix = "/admin/v1"

// NewApplicationRequest is the body of POST /applications.
type NewApplicationRequest struct {
	Name        string   `json:"name"`
	Description string   `json:"description"`
	Scopes      []string `json:"scopes"`
	// Owner is the account it belongs to; a delegated administrator's own
	// owner when left empty by one.
	Owner    string            `json:"owner"`
	Metadata map[string]string `json:"metadata"`
	// TokenLifetime is a duration ("24h"), days or weeks ("7d", "1w"), or
	// "never"; empty means a day.
	TokenLifetime string `json:"token_lifetime"`
	// IPAllowlist holds CIDRs or single addresses; empty allows any.
	IPAllowlist []string `json:"ip_allowlist"`
	// TokenFormat is opaque (the default) or jwt.
	TokenFormat string `json:"token_format"`
	// Audiences name the resource servers its tokens are for.
	Audiences []string `json:"audiences"`
	// TokenQuota is its own token quota, N/duration ("1000/1h") or
	// "unlimited"; empty follows the server's limits.issue.
	TokenQuota string `json:"token_quota,omitempty"`
	// IntrospectionQuota is, for a resource server, its own introspection
	// budget, written the same way; empty follows limits.introspect.
	IntrospectionQuota string `json:"introspection_quota,omitempty"`
	// QuotaMode is enforce or monitor (counted and logged, never
	// refused); empty follows limits.quota_mode.
	QuotaMode string `json:"quota_mode,omitempty"`
	// DPoPBound refuses token requests without a DPoP proof (RFC 9449
	// §5.2 dpop_bound_access_tokens).
	DPoPBound bool `json:"dpop_bound_access_tokens,omitempty"`
	// Profile is fapi2 (FAPI 2.0: key or certificate authentication,
	// sender-constrained tokens, TLS only), none, or empty for the
	// server's fapi.default.
	Profile string `json:"profile,omitempty"`
	ClientAuth
}

// ClientAuth is how an application authenticates (issue 18), in the
// client-metadata names of RFC 7591 §2 and RFC 8705 §2.1.2: a method and
// the one piece of material it needs. On an application it is shown
// whole; in a request it is set whole (see ApplicationPatchRequest).
type ClientAuth struct {
	// TokenEndpointAuthMethod is client_secret_basic, client_secret_post,
	// client_secret_jwt, private_key_jwt, tls_client_auth or
	// self_signed_tls_client_auth. Absent (""): a shared secret accepted
	// with client_secret_basic or client_secret_post, as for every
	// application made before methods existed.
	TokenEndpointAuthMethod string `json:"token_endpoint_auth_method,omitempty"`
	// JWKS is a JWK Set (RFC 7517 §5) of public keys: private_key_jwt's
	// signing keys, or self_signed_tls_client_auth's certificates (x5c).
	JWKS json.RawMessage `json:"jwks,omitempty"`
	// JWKSURI is where the client publishes its JWK Set (https).
	JWKSURI string `json:"jwks_uri,omitempty"`
	// The certificate a tls_client_auth client presents, issued by the
	// configured CA (tls.client_ca_file): exactly one of these.
	TLSClientAuthSubjectDN string `json:"tls_client_auth_subject_dn,omitempty"`
	TLSClientAuthSANDNS    string `json:"tls_client_auth_san_dns,omitempty"`
	TLSClientAuthSANURI    string `json:"tls_client_auth_san_uri,omitempty"`
	TLSClientAuthSANIP     string `json:"tls_client_auth_san_ip,omitempty"`
	TLSClientAuthSANEmail  string `json:"tls_client_auth_san_email,omitempty"`
	// WorkloadIdentity, for private_key_jwt, trusts an external issuer's
	// tokens as the client's assertions (a Kubernetes service account, a
	// SPIFFE JWT-SVID, a CI system's OIDC token).
	WorkloadIdentity *WorkloadIdentity `json:"workload_identity,omitempty"`
}

// IsZero reports whether c sets nothing: a request without it keeps the
// application's authentication as it is.
func (c ClientAuth) IsZero() bool {
	return c.TokenEndpointAuthMethod == "" && len(c.JWKS) == 0 && c.JWKSURI == "" && c.TLSClientAuthSubjectDN == "" &&
		c.TLSClientAuthSANDNS == "" && c.TLSClientAuthSANURI == "" && c.TLSClientAuthSANIP == "" && c.TLSClientAuthSANEmail == "" &&
		c.WorkloadIdentity == nil
}

// WorkloadIdentity is an external issuer an application trusts for its
// client assertions: their iss, the sub and an aud they must carry, and
// where the issuer's keys are when not found by OIDC discovery.
type WorkloadIdentity struct {
	Issuer   string `json:"issuer"`
	JWKSURI  string `json:"jwks_uri,omitempty"`
	Subject  string `json:"subject"`
	Audience string `json:"audience"`
}

// ImportApplicationRequest is the body of PUT /applications/{id}: an
// application with the secret its clients already use, in clear
// (ClientSecret) or as another oauthd stored it (SecretDigests).
type ImportApplicationRequest struct {
	NewApplicationRequest
	// ClientSecret is the secret in clear; only its digest is stored.
	ClientSecret string `json:"client_secret,omitempty"`
	// SecretDigests are the secrets as GET /export gives them, so a
	// backup or a move to another Redis keeps every daemon working.
	// Admin keys only; not with ClientSecret.
	SecretDigests []SecretDigest `json:"secret_digests,omitempty"`
	// Enabled imports the application enabled (nil: true) or disabled.
	Enabled *bool `json:"enabled,omitempty"`
}

// SecretDigest is a client secret as oauthd stores it: never the secret,
// its SHA-256.
type SecretDigest struct {
	ID string `json:"id"`
	// SHA256 is the digest of the secret, in hex.
	SHA256    string    `json:"sha256"`
	CreatedAt time.Time `json:"created_at"`
	// ExpiresAt ends a grace period; nil for a secret that does not expire.
	ExpiresAt *time.Time `json:"expires_at"`
	// Sealed is, for a client_secret_jwt application, the secret sealed
	// with the exporting deployment's sealing key (base64): it works only
	// where the same sealing key (jwt.sealing_key_file) is configured.
	Sealed []byte `json:"sealed,omitempty"`
}

// ExportedApplication is an application as GET /export gives it: every
// field PUT /applications/{id} takes back, so an export imports whole.
// A field added to the import request is exported with it.
type ExportedApplication struct {
	ClientID string `json:"client_id"`
	ImportApplicationRequest
}

// ApplicationExport is a page of GET /export.
type ApplicationExport struct {
	Applications []ExportedApplication `json:"applications"`
	// NextCursor fetches the next page; "" on the last.
	NextCursor string `json:"next_cursor,omitempty"`
}

// ApplicationPatchRequest is the body of PATCH /applications/{id}: fields
// left nil are not changed.
type ApplicationPatchRequest struct {
	Name          *string            `json:"name"`
	Description   *string            `json:"description"`
	Scopes        *[]string          `json:"scopes"`
	TokenLifetime *string            `json:"token_lifetime"`
	IPAllowlist   *[]string          `json:"ip_allowlist"`
	Enabled       *bool              `json:"enabled"`
	Owner         *string            `json:"owner"`
	Metadata      *map[string]string `json:"metadata"`
	TokenFormat   *string            `json:"token_format"`
	Audiences     *[]string          `json:"audiences"`
	// TokenQuota, IntrospectionQuota and QuotaMode are as for a new
	// application; "" sets one back to the server's default.
	TokenQuota         *string `json:"token_quota"`
	IntrospectionQuota *string `json:"introspection_quota"`
	QuotaMode          *string `json:"quota_mode"`
	// DPoPBound and Profile are as for a new application.
	DPoPBound *bool   `json:"dpop_bound_access_tokens"`
	Profile   *string `json:"profile"`
	// ClientAuth, when it sets anything, replaces the application's
	// authentication whole: the method (kept when absent) and its
	// material (what is absent is removed). Moving to a key or certificate
	// method removes every secret; moving to a secret method from one, or
	// to client_secret_jwt, issues a secret, in client_secret of the
	// answer this once.
	ClientAuth
}

// Application is an application as the admin API shows it. ClientSecret
// is set only in the answer that creates it, or the update that issues
// one (a move to a secret method): it is shown once. An application
// authenticating with keys or a certificate never has one.
type Application struct {
	ClientID     string `json:"client_id"`
	ClientSecret string `json:"client_secret,omitempty"`
	Name         string `json:"name"`
	Description  string `json:"description"`
	// Owner is the account the application belongs to ("" for none).
	Owner    string            `json:"owner"`
	Metadata map[string]string `json:"metadata"`
	// TokenFormat is opaque or jwt.
	TokenFormat string `json:"token_format"`
	// Audiences name the resource servers its tokens are for.
	Audiences     []string `json:"audiences"`
	Scopes        []string `json:"scopes"`
	TokenLifetime string   `json:"token_lifetime"`
	IPAllowlist   []string `json:"ip_allowlist"`
	Enabled       bool     `json:"enabled"`
	// TokenQuota, IntrospectionQuota and QuotaMode are the application's
	// own ("" where the server's default holds it).
	TokenQuota         string `json:"token_quota"`
	IntrospectionQuota string `json:"introspection_quota"`
	QuotaMode          string `json:"quota_mode"`
	// DPoPBound and Profile are the binding policy ("" profile: the
	// server's default).
	DPoPBound bool   `json:"dpop_bound_access_tokens"`
	Profile   string `json:"profile"`
	ClientAuth
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	// LastUsedAt is when the application last got a token: exact while a
	// token of it lives, exact to the hour after (the first token of the
	// last hour with any); nil if never.
	LastUsedAt *time.Time `json:"last_used_at"`
	// TokensIssued counts the tokens the application has been issued.
	TokensIssued int64 `json:"tokens_issued"`
	// Secrets describes the application's secrets, never their values.
	Secrets []Secret `json:"secrets"`
}

// Secret describes one client secret, never its value.
type Secret struct {
	ID        string    `json:"id"`
	CreatedAt time.Time `json:"created_at"`
	// ExpiresAt ends a grace period; nil for a secret that does not expire.
	ExpiresAt *time.Time `json:"expires_at"`
	// LastUsedAt is when a token was last issued with the secret: exact
	// while a token of the application lives, exact to the hour after.
	LastUsedAt *time.Time `json:"last_used_at"`
}

// ApplicationFilter selects and orders GET /applications; zero fields
// list every application in creation order.
type ApplicationFilter struct {
	// Search finds applications by the start of any word of their name
	// ("daemon-2" finds "sms-daemon-2"), or of their client_id,
	// case-insensitively, over every application.
	Search string
	// Name is the older name of Search.
	Name string
	// Owner keeps the applications of one owner.
	Owner string
	// Sort is "created" (the default) or "name"; Desc reverses it.
	Sort string
	Desc bool
	// Before asks for the page before this cursor (a PrevCursor) instead
	// of the one after the cursor argument.
	Before string
}

// ApplicationList is a page of GET /applications.
type ApplicationList struct {
	Applications []Application `json:"applications"`
	// NextCursor fetches the next page (cursor); "" on the last.
	NextCursor string `json:"next_cursor,omitempty"`
	// PrevCursor fetches the page before (before); "" on the first.
	PrevCursor string `json:"prev_cursor,omitempty"`
	// Capped: the search matched more applications than a search sorts
	// (2,000); it pages through those it found first. Narrow it.
	Capped bool `json:"capped,omitempty"`
}

// SecretResetRequest is the (optional) body of POST
// /applications/{id}/secrets.
type SecretResetRequest struct {
	// GracePeriod keeps the old secrets working this long ("1h"); empty
	// or "0s" stops them at once.
	GracePeriod string `json:"grace_period"`
}

// SecretReset answers a secret reset; ClientSecret is shown this once.
type SecretReset struct {
	ClientID     string   `json:"client_id"`
	ClientSecret string   `json:"client_secret"`
	SecretID     string   `json:"secret_id"`
	Secrets      []Secret `json:"secrets"`
}

// Token describes a live access token or API key, never the credential.
type Token struct {
	JTI string `json:"jti"`
	// Kind is access_token or api_key.
	Kind      string     `json:"kind"`
	Name      string     `json:"name,omitempty"`
	Scopes    []string   `json:"scopes"`
	IssuedAt  time.Time  `json:"issued_at"`
	ExpiresAt *time.Time `json:"expires_at"`
}

// TokenList answers GET /applications/{id}/tokens.
type TokenList struct {
	Tokens []Token `json:"tokens"`
	// More says the list was cut at limit.
	More bool `json:"more"`
}

// NewAPIKeyRequest is the body of POST /applications/{id}/api-keys.
type NewAPIKeyRequest struct {
	Name string `json:"name"`
	// Scopes are a subset of the application's; empty means all of them.
	Scopes []string `json:"scopes"`
	// ExpiresIn is a lifetime as for tokens ("720h", "30d"), or empty or
	// "never" for a key that does not expire.
	ExpiresIn string `json:"expires_in"`
}

// APIKey answers the creation of an API key; Key is shown this once.
type APIKey struct {
	Token
	Key string `json:"api_key"`
}

// Event is one audit-log entry.
type Event struct {
	ID   string    `json:"id"`
	Time time.Time `json:"time"`
	Kind string    `json:"kind"`
	// Actor is "admin-key:<digest prefix>", "client:<client_id>" or "cli".
	Actor    string         `json:"actor"`
	ClientID string         `json:"client_id,omitempty"`
	IP       string         `json:"ip,omitempty"`
	Detail   map[string]any `json:"detail,omitempty"`
}

// EventFilter narrows GET /events to one log and, within it, to the
// events its other non-empty fields match.
type EventFilter struct {
	// Log is LogAdmin or LogSecurity; "" is Kind's log, or else LogAdmin.
	Log      string
	ClientID string
	Kind     string
}

// The logs of GET /events: the changes authenticated actors made, and the
// security events (failed authentications, lock-outs, spent quotas), kept
// and listed apart.
const (
	LogAdmin    = "admin"
	LogSecurity = "security"
)

// EventList is a page of GET /events, newest first.
type EventList struct {
	Events []Event `json:"events"`
	// NextCursor fetches the next page; "" on the last.
	NextCursor string `json:"next_cursor,omitempty"`
}

// SigningKey describes a published JWT signing key, never its private
// part.
type SigningKey struct {
	KID       string    `json:"kid"`
	Alg       string    `json:"alg"`
	CreatedAt time.Time `json:"created_at"`
	SignsFrom time.Time `json:"signs_from"`
	// RetiresAt is when it stops being published; nil while it may sign.
	RetiresAt *time.Time `json:"retires_at"`
}

// SigningKeyList answers GET /signing-keys.
type SigningKeyList struct {
	Keys []SigningKey `json:"keys"`
}

// Scope is one entry of the scope catalogue, the scopes applications may
// hold, which every replica shares.
type Scope struct {
	Name        string `json:"name"`
	Description string `json:"description"`
}

// ScopeList answers GET /scopes: the catalogue in its order. Applications
// may also hold the forms that stand for several scopes: all:any and
// <resource>:*; Forms lists those this catalogue offers.
type ScopeList struct {
	Scopes []Scope  `json:"scopes"`
	Forms  []string `json:"forms"`
}

// ScopeRequest is the body of PUT /scopes/{name}.
type ScopeRequest struct {
	Description string `json:"description"`
}

// ErrorDetail is the detail of an error answer, when it has one: for a
// refused deletion of a scope, the applications holding it.
type ErrorDetail struct {
	// Holders are client_ids of applications holding the scope, at most
	// 20 of them; HoldersTotal counts them all.
	Holders      []string `json:"holders,omitempty"`
	HoldersTotal int      `json:"holders_total,omitempty"`
}

// String words the detail for a person: "held by a, b and 3 more".
func (d *ErrorDetail) String() string {
	if d == nil || d.HoldersTotal == 0 {
		return ""
	}
	s := "held by " + strings.Join(d.Holders, ", ")
	if more := d.HoldersTotal - len(d.Holders); more > 0 {
		s += fmt.Sprintf(" and %d more", more)
	}
	return s
}
