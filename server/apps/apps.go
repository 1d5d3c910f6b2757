package apps

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unicode"

	"github.com/oauthd/oauthd/scopes"
	"github.com/oauthd/oauthd/server/clientip"
	"github.com/oauthd/oauthd/server/credential"
	"github.com/oauthd/oauthd/store"
)

// Store is what the application service needs from storage: a part of
// the storage contract (store.Backend), which says what each method does.
type Store interface {
	store.Applications
	store.Scopes
	store.UsageCounts
	store.Events
	CreateToken(ctx context.Context, ref store.TokenRef, t store.Token) error
	RevokeToken(ctx context.Context, ref store.TokenRef, tombstone time.Duration) (bool, error)
	ListTokens(ctx context.Context, id string, limit int, now time.Time) ([]store.Token, bool, error)
}

// Service is the application service: the one place that validates and
// changes applications and records each change in the audit log, used by
// the admin API and the dashboard alike.
type Service struct {
	store Store
	// seed is stored as the catalogue when the store holds none.
	seed     *scopes.Catalogue
	built    atomic.Pointer[built]
	opts     Options
	security *securityLog
}

// Options tune the service; the zero value is usable.
type Options struct {
	// MaxGrace bounds the grace period of a secret reset. Default 7 days.
	MaxGrace time.Duration
	// Logger receives audit-log write failures. Default: discard.
	Logger *slog.Logger
	// Tombstone is how long a token revoked by id is remembered as
	// revoked (introspection.inactive_reason); 0 remembers nothing.
	Tombstone time.Duration
	// Keys are the JWT signing keys, for rotation; nil: none.
	Keys KeyRing
	// KeyPublishDelay is how long a new key is published before it signs.
	// Default DefaultKeyPublishDelay.
	KeyPublishDelay time.Duration
	// SecurityEvery is the shortest gap between two security events of
	// one kind about one source (see Security). Default a minute.
	SecurityEvery time.Duration
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// Limits are the global limits (cmd's limits.*): the quotas an
	// application without its own follows, which a delegated
	// administrator may lower but not raise, and the pages show.
	Limits store.LimitsConfig
	// Seal seals the secrets of client_secret_jwt applications with the
	// deployment's sealing key (signing.SealSecret). nil: such
	// applications are refused (ErrNoSealingKey).
	Seal func(ctx context.Context, plain []byte) ([]byte, error)
}

// DefaultKeyPublishDelay is how long a new signing key is published before
// it signs: longer than the five minutes verifiers may cache the JWKS.
const DefaultKeyPublishDelay = 10 * time.Minute

// DefaultMaxGrace is the longest an old secret may keep working after a
// reset unless configured otherwise.
const DefaultMaxGrace = 7 * 24 * time.Hour

// MaxSecrets is how many secrets an application may hold at once: enough
// to roll over, few enough to keep every token request's comparison short.
const MaxSecrets = 5

// New returns the service. seed is the scope catalogue it stores when the
// store holds none (the first process to find none stores its own); the
// catalogue in force is always the store's (Catalogue).
func New(st Store, seed *scopes.Catalogue, opts Options) *Service {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.MaxGrace == 0 {
		opts.MaxGrace = DefaultMaxGrace
	}
	if opts.KeyPublishDelay <= 0 {
		opts.KeyPublishDelay = DefaultKeyPublishDelay
	}
	if opts.SecurityEvery <= 0 {
		opts.SecurityEvery = DefaultSecurityEvery
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Service{store: st, seed: seed, opts: opts, security: newSecurityLog()}
}

func (s *Service) now() time.Time { return s.opts.Now().UTC().Truncate(time.Millisecond) }

// DefaultLifetime is the token lifetime of an application created without
// one: a day, like the SMS.CX default.
const DefaultLifetime = 24 * time.Hour

// NewApplication is the input for creating an application.
type NewApplication struct {
	Name        string
	Description string
	Scopes      []string
	// Owner is the account it belongs to; a delegated administrator's
	// own owner when left empty by one.
	Owner    string
	Metadata map[string]string
	// TokenLifetime is a Go duration ("24h", "168h"), days or weeks ("1d",
	// "1w"), or "never"; empty means DefaultLifetime.
	TokenLifetime string
	// IPAllowlist holds CIDRs or single addresses; empty allows any address.
	IPAllowlist []string
	// TokenFormat is "opaque" (also "") or "jwt".
	TokenFormat string
	// Audiences name the resource servers its tokens are for.
	Audiences []string
	// TokenQuota is its own token quota (ParseQuota: "1000/1h",
	// "unlimited"); empty follows the global one. IntrospectionQuota is,
	// for a resource server, its own introspection budget.
	TokenQuota, IntrospectionQuota string
	// QuotaMode is enforce or monitor (ParseQuotaMode); empty follows the
	// global default.
	QuotaMode string
	// DPoPBound and Profile are the binding policy (binding.go).
	DPoPBound bool
	Profile   string
	// Auth is its client authentication method and material (checkAuth);
	// the zero value is a shared secret sent with HTTP Basic or in the
	// body, as before methods existed. JWKS is a JWK Set as JSON.
	Auth store.ClientAuth
}

// Limits are the global limits the service was given (Options.Limits).
func (s *Service) Limits() store.LimitsConfig { return s.opts.Limits }

// Create validates in, stores a new application and returns it with its
// client secret. The secret exists only in this return value: the store
// keeps its digest (and, for client_secret_jwt, the secret sealed). An
// application authenticating with keys or a certificate gets no secret:
// the string is empty.
func (s *Service) Create(ctx context.Context, in NewApplication) (store.Application, string, error) {
	a, err := s.validateNew(ctx, credential.NewClientID(), in)
	if err != nil {
		return store.Application{}, "", err
	}
	var secret string
	if a.Auth.UsesSecret() {
		var sec store.Secret
		if sec, secret, err = s.newSecret(ctx, a.Auth.Method); err != nil {
			return store.Application{}, "", err
		}
		sec.CreatedAt = a.CreatedAt
		a.Secrets = []store.Secret{sec}
	}
	a, err = s.add(ctx, "application.created", a, nil)
	return a, secret, err
}

// add stores a, validated and with its secrets (digests only), as a new
// application, within a delegate's bounds, and audits it as event with
// the extra detail. Create and Import differ only in where the id and
// the secrets come from.
func (s *Service) add(ctx context.Context, event string, a store.Application, extra map[string]any) (store.Application, error) {
	if d := delegateFrom(ctx); d != nil {
		if a.Owner == "" {
			a.Owner = d.Owner
		}
		if err := errors.Join(d.mayChangeOwner(a.Owner), d.mayManage(a), d.mayGrant(a.Scopes), d.mayLast("token_lifetime", a.TokenLifetime),
			d.mayLowerQuotas(store.Application{}, a, s.opts.Limits)); err != nil {
			return store.Application{}, firstError(err)
		}
	}
	if err := s.store.CreateApplication(ctx, a); err != nil {
		return store.Application{}, fmt.Errorf("creating application: %w", err)
	}
	detail := map[string]any{
		"name": a.Name, "owner": a.Owner, "scopes": a.Scopes, "token_lifetime": FormatLifetime(a.TokenLifetime),
		"ip_allowlist": FormatAllowlist(a.IPAllowlist),
	}
	quotaDetail(detail, a)
	if a.Auth.Method != "" {
		maps.Copy(detail, authDetail(a.Auth))
	}
	maps.Copy(detail, extra)
	s.audit(ctx, event, a.ClientID, detail)
	return a, nil
}

// validateNew checks in and returns the application it describes, without
// secrets.
func (s *Service) validateNew(ctx context.Context, id string, in NewApplication) (store.Application, error) {
	now := s.now()
	a := store.Application{
		ClientID:  id,
		Enabled:   true,
		CreatedAt: now,
		UpdatedAt: now,
	}
	var err error
	if a.Name, err = checkName(in.Name); err != nil {
		return store.Application{}, err
	}
	if a.Description, err = checkText("description", in.Description, 500); err != nil {
		return store.Application{}, err
	}
	if a.Scopes, err = s.checkScopes(ctx, in.Scopes); err != nil {
		return store.Application{}, err
	}
	if a.Owner, err = checkOwner(in.Owner); err != nil {
		return store.Application{}, err
	}
	if a.Metadata, err = checkMetadata(in.Metadata); err != nil {
		return store.Application{}, err
	}
	lifetime := in.TokenLifetime
	if lifetime == "" {
		lifetime = FormatLifetime(DefaultLifetime)
	}
	if a.TokenLifetime, err = ParseLifetime(lifetime); err != nil {
		return store.Application{}, Invalid("token_lifetime", err.Error())
	}
	if a.IPAllowlist, err = ParseAllowlist(in.IPAllowlist); err != nil {
		return store.Application{}, Invalid("ip_allowlist", err.Error())
	}
	if a.TokenFormat, err = checkTokenFormat(in.TokenFormat, a.TokenLifetime); err != nil {
		return store.Application{}, err
	}
	if a.Audiences, err = checkAudiences(in.Audiences); err != nil {
		return store.Application{}, err
	}
	q, err := parseQuotaFields(in.TokenQuota, in.IntrospectionQuota, in.QuotaMode)
	if err != nil {
		return store.Application{}, err
	}
	a.TokenQuota, a.IntrospectionQuota, a.QuotaMode = q.token, q.introspection, q.mode
	a.DPoPBound = in.DPoPBound
	if a.Profile, err = ParseProfile(in.Profile); err != nil {
		return store.Application{}, err
	}
	if err := checkProfileLifetime("token_lifetime", a.Profile, a.TokenLifetime); err != nil {
		return store.Application{}, err
	}
	if a.Auth, err = checkAuth(in.Auth); err != nil {
		return store.Application{}, err
	}
	return a, nil
}

// quotaDetail adds a's quota settings that are its own to an audit
// event's detail.
func quotaDetail(detail map[string]any, a store.Application) {
	if a.TokenQuota.Set {
		detail["token_quota"] = FormatQuota(a.TokenQuota)
	}
	if a.IntrospectionQuota.Set {
		detail["introspection_quota"] = FormatQuota(a.IntrospectionQuota)
	}
	if a.QuotaMode != "" {
		detail["quota_mode"] = a.QuotaMode
	}
}

// checkTokenFormat accepts opaque (the default) or jwt. A JWT must carry
// exp (RFC 9068 §2.2), so a jwt application needs a finite lifetime.
func checkTokenFormat(f string, lifetime time.Duration) (string, error) {
	switch strings.ToLower(strings.TrimSpace(f)) {
	case "", store.TokenOpaque:
		return "", nil
	case store.TokenJWT:
		if lifetime == 0 {
			return "", Invalid("token_format", "jwt tokens must expire (RFC 9068 requires exp): give the application a finite token_lifetime")
		}
		return store.TokenJWT, nil
	}
	return "", Invalid("token_format", fmt.Sprintf("%q: use opaque or jwt", truncate(f, 20)))
}

// maxAudiences bounds an application's audiences: each is in every token.
const maxAudiences = 10

// checkAudiences accepts resource server identifiers: absolute URIs
// (RFC 8707 §2) or plain names, printable ASCII without spaces.
func checkAudiences(list []string) ([]string, error) {
	var out []string
	for _, item := range list {
		for _, a := range strings.FieldsFunc(item, func(r rune) bool { return r == ',' || unicode.IsSpace(r) }) {
			if len(a) > 200 || strings.ContainsFunc(a, func(r rune) bool { return r < '!' || r > '~' || r == '"' || r == '\\' }) {
				return nil, Invalid("audiences", fmt.Sprintf("%q: an audience is a URI or name of printable ASCII, at most 200 bytes, such as https://sms.example.com", truncate(a, 40)))
			}
			if !slices.Contains(out, a) {
				out = append(out, a)
			}
		}
	}
	if len(out) > maxAudiences {
		return nil, Invalid("audiences", fmt.Sprintf("at most %d", maxAudiences))
	}
	return out, nil
}

func checkName(name string) (string, error) {
	name, err := checkText("name", name, 100)
	if err == nil && name == "" {
		err = Invalid("name", "required: give the application a name operators will recognise")
	}
	return name, err
}

func checkText(field, s string, max int) (string, error) {
	s = strings.TrimSpace(s)
	if len(s) > max {
		return "", Invalid(field, fmt.Sprintf("at most %d bytes", max))
	}
	for _, r := range s {
		if unicode.IsControl(r) || r == unicode.ReplacementChar {
			return "", Invalid(field, "must be printable text without control characters")
		}
	}
	return s, nil
}

// checkScopes reads a list of scopes (each item may hold several,
// space-separated) and checks each against the catalogue in force: a
// catalogued scope or a form (all:any, resource:*).
func (s *Service) checkScopes(ctx context.Context, list []string) ([]string, error) {
	var out []string
	for _, item := range list {
		// Accept ["sms groups"] as well as ["sms","groups"]: the CLI's
		// --scopes "sms groups" and JSON arrays end up here alike.
		parsed, err := scopes.Parse(item)
		if err != nil {
			return nil, Invalid("scopes", err.Error())
		}
		for _, p := range parsed {
			if !slices.Contains(out, p) {
				out = append(out, p)
			}
		}
	}
	cat, err := s.Catalogue(ctx)
	if err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, Invalid("scopes", "at least one scope is required; the catalogue has "+scopes.Format(cat.Names()))
	}
	if err := cat.Check(out); err != nil {
		return nil, Invalid("scopes", err.Error())
	}
	return out, nil
}

// maxLifetime keeps a finite lifetime from overflowing expiry arithmetic;
// "never" is the way to ask for longer.
const maxLifetime = 10 * 365 * 24 * time.Hour

// ParseLifetime reads a token lifetime: "never" (0), a Go duration such as
// "24h" or "90m", or a whole number of days or weeks ("1d", "7d", "1w").
// Finite lifetimes must be at least one second and at most ten years.
func ParseLifetime(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if strings.EqualFold(s, "never") {
		return 0, nil
	}
	var d time.Duration
	if n, unit := strings.TrimRight(s, "dw"), strings.TrimLeft(s, "0123456789"); (unit == "d" || unit == "w") && n != "" {
		v, err := strconv.Atoi(n)
		if err != nil || v > 3650 {
			return 0, fmt.Errorf("%q is out of range", s)
		}
		d = time.Duration(v) * 24 * time.Hour
		if unit == "w" {
			d *= 7
		}
	} else {
		var err error
		if d, err = time.ParseDuration(s); err != nil {
			return 0, fmt.Errorf("%q is not a lifetime: use a duration such as 24h or 168h, days such as 7d, or never", s)
		}
	}
	if d < time.Second {
		return 0, fmt.Errorf("%q is too short: at least 1s (or never)", s)
	}
	if d > maxLifetime {
		return 0, fmt.Errorf("%q is too long: at most 87600h (ten years); use never for tokens that do not expire", s)
	}
	return d, nil
}

// FormatLifetime is ParseLifetime's inverse: "never" for 0, else
// FormatDuration.
func FormatLifetime(d time.Duration) string {
	if d == 0 {
		return "never"
	}
	return FormatDuration(d)
}

// FormatDuration writes d as settings and lifetimes are written: the
// shortest Go duration, without zero minutes or seconds ("1h", "1h30m",
// "90s"; time.Duration's "1h0m0s"), and 0 as "0s".
func FormatDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// maxAllowlist bounds an allowlist; the check is a linear scan on every
// token request.
const maxAllowlist = 64

// ParseAllowlist reads CIDRs ("10.0.0.0/8") and single addresses
// ("203.0.113.7", "2001:db8::1") into prefixes, dropping duplicates, and
// bounds their number.
func ParseAllowlist(list []string) ([]netip.Prefix, error) {
	out, err := clientip.ParsePrefixes(list)
	if err != nil {
		return nil, err
	}
	if len(out) > maxAllowlist {
		return nil, fmt.Errorf("at most %d entries; use wider CIDRs", maxAllowlist)
	}
	return out, nil
}

// FormatAllowlist is ParseAllowlist's inverse: a single address without
// its /32 or /128, a network as a CIDR. It is never nil, so an empty
// allowlist reads as [] wherever it is shown.
func FormatAllowlist(list []netip.Prefix) []string {
	out := make([]string, 0, len(list))
	for _, p := range list {
		if p.IsSingleIP() {
			out = append(out, p.Addr().String())
		} else {
			out = append(out, p.String())
		}
	}
	return out
}

// maxOwner bounds an owner id: an account id, not a document.
const maxOwner = 128

// checkOwner accepts an opaque account id: printable ASCII without spaces,
// so it can be filtered on and shown anywhere as is.
func checkOwner(owner string) (string, error) {
	owner = strings.TrimSpace(owner)
	if len(owner) > maxOwner {
		return "", Invalid("owner", fmt.Sprintf("at most %d bytes", maxOwner))
	}
	for i := 0; i < len(owner); i++ {
		if c := owner[i]; c <= ' ' || c > '~' {
			return "", Invalid("owner", "an account id of printable ASCII without spaces, such as acct_1234")
		}
	}
	return owner, nil
}

// Metadata bounds: a few small pairs, so every application record stays
// small (it is read on every token request when not cached).
const (
	maxMetadataPairs = 16
	maxMetadataKey   = 64
	maxMetadataValue = 256
)

func checkMetadata(m map[string]string) (map[string]string, error) {
	if len(m) == 0 {
		return nil, nil
	}
	if len(m) > maxMetadataPairs {
		return nil, Invalid("metadata", fmt.Sprintf("at most %d keys", maxMetadataPairs))
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		if k == "" || len(k) > maxMetadataKey || strings.IndexFunc(k, func(r rune) bool {
			return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-' || r == '.')
		}) >= 0 {
			return nil, Invalid("metadata", fmt.Sprintf("key %q: 1 to %d letters, digits, '_', '-' or '.'", truncate(k, 70), maxMetadataKey))
		}
		v, err := checkText("metadata", v, maxMetadataValue)
		if err != nil {
			return nil, Invalid("metadata", fmt.Sprintf("value of %q: %s", k, err.(*Error).Message))
		}
		out[k] = v
	}
	return out, nil
}
