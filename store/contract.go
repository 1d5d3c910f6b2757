package store

import (
	"context"
	"net/netip"
	"time"
)

// Backend is the whole storage contract, in small groups: what a new
// backend must implement (store/redis does, with a Store, its Limits and
// its Feed), and what store/storetest checks, every method on every
// backend. A consumer declares the part it needs as its own interface,
// where it is used, made of these groups or of methods listed exactly as
// here; its tests check that it stays a subset of Backend.
//
// Unless a method's doc says otherwise:
//   - A backend that cannot be reached, or does not answer in time, gives
//     ErrUnavailable (possibly wrapped), never ErrNotFound or a zero
//     answer: an outage must not read as "no such token" or "not locked
//     out". Callers answer it with 503 and refuse what they were asked.
//   - A cancelled ctx gives ctx's error.
//   - Sentinels may be wrapped: test them with errors.Is.
type Backend interface {
	Applications
	Scopes
	Tokens
	UsageCounts
	Events
	Sessions
	SigningKeys
	Limits
	Feed
	Assertions
	// Ping reports whether the backend answers: nil, or ErrUnavailable.
	Ping(ctx context.Context) error
}

// Applications keeps the applications (OAuth clients), keyed by client_id.
//
// CreateApplication fails with ErrAlreadyExists when the client_id is taken,
// and leaves that application as it was. GetApplication, UpdateApplication
// and DeleteApplication give ErrNotFound for a client_id no application has.
//
// UpdateApplication is a compare-and-swap: it calls update with the current
// record and writes what update returns only if nobody changed the record
// in between; when somebody did, it reads the record again and calls update
// again. So no concurrent update is ever lost, and update must have no side
// effects. After a bounded number of lost races it gives up with
// ErrConflict. An error from update aborts, nothing is written, and the
// error is returned as is. The client_id cannot change: a ClientID set by
// update is ignored. A new Generation revokes every token of the old one
// (see Tokens), and a change a resource server may have cached is
// published on the Feed.
//
// DeleteApplication removes the application and everything it owns: its
// tokens stop working at once and leave no record behind, and its usage
// goes with it.
//
// ListApplications returns up to limit applications in creation order
// (ties broken by client_id), starting after cursor ("" for the first
// page), and the cursor of the next page ("" after the last). The cursor is
// opaque; a malformed one gives ErrInvalid.
//
// SearchApplications returns a page of the applications q selects, in q's
// order, over every application (not page by page), with the cursors of
// the pages before and after it. Cursors are opaque and stable: a page
// after a cursor starts after the application it was taken at, whatever
// was created or deleted since. A malformed cursor, or one taken in
// another order, gives ErrInvalid. A backend keeps indexes for the
// orders, owners and search terms, written with each change, so a page
// costs about the same at 100 or 100,000 applications; where it must
// sort what a term matches itself, it reads at most MaxSearchMatches of
// them (AppPage.Capped).
//
// Records returned may share their slices and maps with a cache: callers
// must not modify them.
type Applications interface {
	CreateApplication(ctx context.Context, a Application) error
	GetApplication(ctx context.Context, id string) (Application, error)
	UpdateApplication(ctx context.Context, id string, update func(Application) (Application, error)) (Application, error)
	DeleteApplication(ctx context.Context, id string) error
	ListApplications(ctx context.Context, cursor string, limit int) ([]Application, string, error)
	SearchApplications(ctx context.Context, q AppQuery) (AppPage, error)
}

// Scopes keeps the scope catalogue: the scopes applications may hold, one
// catalogue for every replica and the CLI.
//
// ListScopes returns the catalogue, its scopes in order, and its version;
// ErrNotFound when none was ever stored (a stored catalogue may be
// empty). The version increases with every change, so a consumer may
// keep what it derived from the list until the version moves. The list
// may come from an in-process cache that every writer's changes
// invalidate, and be shared with it: callers must not modify it.
//
// CreateScopes stores list as the catalogue when none is stored, and
// gives ErrAlreadyExists, changing nothing, when one is: of several
// processes seeding at once, one wins and all read its catalogue.
// PutScope adds s at the end of the catalogue, or, when a scope of its
// name is catalogued, sets its description in place; it reports whether
// it added. DeleteScope removes the named scope. Both give ErrNotFound
// when no catalogue is stored, DeleteScope also for a name it lacks.
// None of them looks at applications: which may hold a scope is the
// caller's rule.
type Scopes interface {
	ListScopes(ctx context.Context) (ScopeList, error)
	CreateScopes(ctx context.Context, list []Scope) error
	PutScope(ctx context.Context, s Scope) (bool, error)
	DeleteScope(ctx context.Context, name string) error
}

// Tokens keeps the records of opaque access tokens and API keys, found by
// TokenRef (never by the token itself, which is not stored).
//
// CreateToken stores t under ref. ref.Bucket must be t.Bucket(): a
// reference filed elsewhere is a programming error and is refused. It gives
// ErrNotFound when the application does not exist (nothing would ever
// remove the record), and *LockedError, storing nothing, while
// t.RequestedFrom is set and that (client, address) pair is locked out (see
// Limits), checked in the same step as the write. An access token (Kind
// "") counts in the application's usage at once (UsageCounts).
//
// IssueToken issues an access token (Kind "") to the application
// r.ClientID names, in one step with reading that application where the
// backend can (store/redis: one round trip, whatever its cache holds). It
// calls check with the application, once, when it exists; check decides
// the answer (authentication, grant, quota) and what is granted. The
// record is then AccessToken(grant, r.IssuedAt, r.Lifetime) of that application, filed
// under TokenRef{r.ClientID, the bucket of its expiry (Token.Bucket), r.Digest},
// returned with it, and counted in the usage as CreateToken counts it. A
// backend may store the record before it calls check, having checked what
// r says itself (the secret active at r.AuthAt, or the application's
// method being r.AuthMethod, enabled, the scopes and
// audiences r asks for the application holds, the lock-out): then an
// error from check deletes the record again (a failure in between may
// leave it: harmless, as no token names it). check must not modify the
// application, which may be the backend's cache's. Errors: ErrNotFound,
// without calling check, when no application has that client_id, or after
// it when the application was deleted meanwhile; *LockedError, storing
// nothing, while r.From is locked out (Limits.ClientLocked's rule);
// check's error as it is, storing nothing; check's error too, or else
// ErrAuthMethod, storing nothing, when the application does not accept
// the way the request authenticated (TokenRequest.AuthMatches), which the
// backend checks on the application it read itself, not on check's word;
// ErrAlreadyExists, storing nothing, when r.JTI is set and was used before
// (by UseAssertion or another IssueToken): the jti is taken with the
// write, and only by a request the backend would otherwise store;
// ErrProofReplayed, storing nothing and taking neither, when r.ProofID is
// set and was used before by another IssueToken of the same client, the
// same rule.
// A nil error means the record is stored.
//
// LookupTokenFor reads, in one step, the token, its application, whether it
// was revoked, and the caller's application and lock-out from caller.Addr
// (when both are set). Nothing missing is an error: an unknown, expired and
// forgotten, or revoked token, or a deleted application, is a nil field of
// TokenLookup. Whether the token is still good is the caller's decision.
// LookupToken(ref, also) is LookupTokenFor with Caller{ClientID: also}: no
// lock-out is read.
//
// RevokeToken deletes a token's record and reports whether there was one;
// when there was, it publishes FeedTokenRevoked. With tombstone > 0 later
// lookups report Revoked for that long, on a backend that keeps the
// reasons a token stopped working (store/redis with KeepExpired set).
//
// ListTokens returns up to limit live tokens of an application (not
// expired at now, of its current generation), soonest to expire first (to
// within a bucket's width, ExpiryBucket), never-expiring ones last, and
// whether there are more. ErrNotFound when
// the application does not exist.
//
// A new Generation (UpdateApplication) retires the old generation's
// records: none is ever presented as of the new generation, and listing
// leaves them out.
type Tokens interface {
	CreateToken(ctx context.Context, ref TokenRef, t Token) error
	IssueToken(ctx context.Context, r TokenRequest, check func(*Application) (Grant, error)) (Issued, error)
	LookupToken(ctx context.Context, ref TokenRef, also string) (TokenLookup, error)
	LookupTokenFor(ctx context.Context, ref TokenRef, caller Caller) (TokenLookup, error)
	RevokeToken(ctx context.Context, ref TokenRef, tombstone time.Duration) (bool, error)
	ListTokens(ctx context.Context, id string, limit int, now time.Time) ([]Token, bool, error)
}

// UsageCounts reports how applications use their credentials, as CreateToken
// counts it (access tokens only, not API keys): when each application and
// each secret last got a token, how many it got in all and per hour. The
// counts of an application are exact and shared by every replica at once,
// and a token the check refused is not counted; last use may be exact only
// to the hour (one of the tokens' times, in the last one's hour: store/redis
// writes it with an hour's first token, and knows the exact last use while
// a token of the application lives). The overall counts
// (IssuedOverall) may be written lazily: a backend reports those it made
// itself at once, those made by another replica may show late. Usage is advisory:
// an application without any, or that does not exist, has zero usage, not
// ErrNotFound.
//
// GetUsages returns an entry for every id asked, in one step.
// IssuedPerHour returns hours counts, oldest first, the last one for now's
// hour; hours is held between 1 and 48 (a backend keeps two days).
type UsageCounts interface {
	GetUsage(ctx context.Context, id string) (Usage, error)
	GetUsages(ctx context.Context, ids []string) (map[string]Usage, error)
	IssuedPerHour(ctx context.Context, id string, hours int, now time.Time) ([]int64, error)
	IssuedOverall(ctx context.Context, hours, top int, now time.Time) (IssuedSummary, error)
}

// Events is the audit log: two logs. Changes made by authenticated actors
// (AppendEvent, LogAdmin) and what unauthenticated or misbehaving callers
// caused (AppendSecurityEvent, LogSecurity) are kept and capped apart, so
// that no flood of the second kind can push a change out, and listed
// apart, so that no flood can push one off a page either. The backend
// assigns the ids, increasing with time (FeedIDLess orders them); the
// oldest events go once a log is full.
//
// ListEvents returns up to limit events of the filter's log (LogAdmin when
// it is "") older than cursor ("" for the newest), newest first, matching
// the filter's other non-empty fields, and the cursor of the next page (""
// at the end). A backend may bound how much it reads for one page, so a
// page may be short, even empty, with a cursor to go on from. A malformed
// cursor, or a log that is neither, gives ErrInvalid.
type Events interface {
	AppendEvent(ctx context.Context, e Event) error
	AppendSecurityEvent(ctx context.Context, e Event) error
	ListEvents(ctx context.Context, f EventFilter, cursor string, limit int) ([]Event, string, error)
}

// Sessions keeps the dashboard's sessions, keyed by the digest of the
// session id (a copy of the store hands out no session), so every replica
// agrees on who is signed in. The value is the consumer's own encoding.
//
// CreateSession stores a new session for ttl, which must be positive;
// ErrAlreadyExists when the digest is taken. GetSession returns the value
// and, in the same step, restarts the expiry at ttl from now (an idle
// timeout); ErrNotFound once it expired or was deleted. DeleteSession ends
// it for every replica; deleting a session that is gone is not an error.
type Sessions interface {
	CreateSession(ctx context.Context, id Digest, value []byte, ttl time.Duration) error
	GetSession(ctx context.Context, id Digest, ttl time.Duration) ([]byte, error)
	DeleteSession(ctx context.Context, id Digest) error
}

// SigningKeys keeps the JWT signing keys every replica shares, sealed by
// the signing package (the backend never sees a private key in the clear).
//
// ListSigningKeys returns every key, in no order; none is not an error.
// AddSigningKey stores k and sets the RetireAt of the keys named in retire,
// in one step, and drops the keys retired more than a day before.
//
// SharedSealingKey returns the 32-byte sealing key kept in the backend
// itself, beside the keys it seals. With create it makes one when there is
// none, so every caller, on every replica, gets the same key; without, none
// is nil (not an error). Only the explicitly insecure custody seals with it
// (jwt.insecure_sealing_key_in_redis: whoever reads the backend can then
// forge tokens); the others look for it only to find what that custody left.
//
// ResealSigningKeys is a compare-and-swap over every key, the way
// UpdateApplication is over one application: it calls reseal with the
// stored keys and writes each key reseal returns over the stored key of
// its ID (RetireAt included), in one step, only if no key changed in
// between; when one did, it reads them again and calls reseal again (so
// reseal must have no side effects), up to a bound, then ErrConflict. An
// error from reseal aborts, nothing written. The shared sealing key is
// deleted in the same step (or, where the backend cannot span both in one
// step, right after: it opens none of the keys written). It moves the keys
// to a sealing key kept outside the backend: once it returns, nothing in
// the backend opens them.
type SigningKeys interface {
	ListSigningKeys(ctx context.Context) ([]SigningKey, error)
	AddSigningKey(ctx context.Context, k SigningKey, retire map[string]time.Time) error
	SharedSealingKey(ctx context.Context, create bool) ([]byte, error)
	ResealSigningKeys(ctx context.Context, reseal func([]SigningKey) ([]SigningKey, error)) error
}

// Limits are the abuse limits every replica shares, set by a LimitsConfig.
// On an error (ErrUnavailable) the caller must refuse: limits fail closed.
//
// ClientFailed counts a failed client authentication from addr naming
// clientID ("" when none could be read, or it names no application);
// allowlisted says addr is in the client's IP allowlist
// (Application.InAllowlist). IPv6 addresses count per IPv6Prefix. Past
// ClientFailures for the (clientID, addr) pair the pair is locked out; past
// AddrFailures for addr, whatever the client_id, the address is; past
// ClientCeiling for the client from every address together, the client is
// locked out from every address outside its allowlist (a siege). A new
// lock-out (New) lasts Lockout, doubling with each further one within
// LockoutMemory, up to MaxLockout. A failure naming a known client is
// counted on its pair whatever lock-out stands, and its answer is the
// lock-out the right secret would meet too: while the address is locked,
// the pair is locked at least as long, so a locked address answers right
// and wrong secrets alike. Failed is ClientFailed outside any allowlist
// (the admin API and the dashboard, which name no client).
//
// Blocked reports a standing lock-out of the pair or of the address,
// without counting anything. ClientLocked reports the lock-out a client
// that authenticates correctly is held to (by CreateToken and
// LookupTokenFor too): the pair's, or a siege outside its allowlist; never
// the address's alone, so that an attacker behind the same address (a
// NAT) guessing other clients cannot lock a daemon out.
//
// TakeIssue and TakeIntrospect take one permit of application a's token
// quota or, as a resource server, of its introspection budget, kept apart
// per client_id: its own (Application.TokenQuota, IntrospectionQuota) or,
// unset, the global one (Issue, Introspect). The Allowance says which
// rate held it, about how much is left, and how long to wait when it is
// spent; in monitor mode (Application.Monitored with Monitor) a spent
// quota is reported with Monitor set, and the caller lets the request
// through. A Rate that is Off refuses nothing. a is read only (it may be
// a cache's).
type Limits interface {
	Failed(ctx context.Context, clientID string, addr netip.Addr) (Lockout, error)
	ClientFailed(ctx context.Context, clientID string, addr netip.Addr, allowlisted bool) (Lockout, error)
	Blocked(ctx context.Context, clientID string, addr netip.Addr) (Lockout, error)
	ClientLocked(ctx context.Context, clientID string, addr netip.Addr, allowlisted bool) (time.Duration, error)
	TakeIssue(ctx context.Context, a *Application) (Allowance, error)
	TakeIntrospect(ctx context.Context, a *Application) (Allowance, error)
}

// Allowance is what a quota answered one request (Limits.TakeIssue).
type Allowance struct {
	// Rate is the quota that held the request: the application's own or
	// the global one; Off when none did (the rest is then zero).
	Rate Rate
	// Remaining is about how many more requests the quota allows now,
	// and Reset about how long until it is whole again. They are
	// estimates, kept without asking the backend on every request: other
	// replicas' requests show late, and a replica may hold permits back.
	Remaining int
	Reset     time.Duration
	// Wait, when positive, says the quota is spent: how long until the
	// next request is allowed.
	Wait time.Duration
	// Monitor says the quota is in monitor mode: a spent one (Wait > 0)
	// lets the request through, to be counted and logged.
	Monitor bool
}

// Rate is a limit: N events per Per. The zero Rate means no limit.
type Rate struct {
	N   int
	Per time.Duration
}

// Off reports whether r limits nothing.
func (r Rate) Off() bool { return r.N <= 0 || r.Per <= 0 }

// LimitsConfig sets the abuse limits (Limits).
type LimitsConfig struct {
	// ClientFailures bounds failed authentications per (client_id, source
	// address); past it the pair is locked out.
	ClientFailures Rate
	// AddrFailures bounds failed authentications per source address,
	// whatever client_id they name; past it the address's failures are
	// refused without being checked.
	AddrFailures Rate
	// ClientCeiling bounds failed authentications naming one client from
	// every address together, so guessing from many addresses is bounded
	// too; past it the client is locked out from every address outside
	// its IP allowlist (a siege), for Lockout doubling up to MaxLockout.
	// Only failures that were answered count (those meeting no lock-out),
	// so one address cannot bring a siege about alone. The price: an
	// attacker with many addresses who knows a client_id keeps it from
	// getting new tokens while the attack lasts.
	ClientCeiling Rate
	// IPv6Prefix is how many leading bits of an IPv6 address name its
	// source; 0 means the backend's default (64). The backend's token
	// writes must use the same.
	IPv6Prefix int
	// Lockout is the first lock-out; each further one within LockoutMemory
	// doubles it, up to MaxLockout.
	Lockout, MaxLockout, LockoutMemory time.Duration
	// Issue is each application's token quota, unless it has its own
	// (Application.TokenQuota).
	Issue Rate
	// Introspect bounds each resource server's introspection requests,
	// unless it has its own budget (Application.IntrospectionQuota).
	Introspect Rate
	// Monitor puts the quotas of applications without a mode of their
	// own (Application.QuotaMode "") in monitor mode: counted and logged
	// when spent, never refused.
	Monitor bool
}

// Feed is the revocation feed: the changes that can make an answer a
// resource server cached wrong, in the order they were made. The writes
// publish them: RevokeToken (FeedTokenRevoked, when a record was deleted),
// UpdateApplication (FeedAppEvent's kind for the change; none when it is
// "") and DeleteApplication (FeedAppDeleted). An event is never visible
// before its change is.
//
// Subscribe starts a subscription resuming after lastID, the id of the last
// event the subscriber handled ("" for none); FeedSubscription says what it
// delivers. It reads the backend to find where the backlog ends (even for
// lastID ""), and gives ErrUnavailable when it cannot, or the feed is not
// running.
type Feed interface {
	Subscribe(ctx context.Context, lastID string) (FeedSubscription, error)
}

// Assertions remembers the client assertions (RFC 7523 §3, RFC 7521
// §5.2) already presented, so that each is accepted once across every
// replica: an assertion captured in flight or from a log cannot be
// replayed while it is still valid.
//
// UseAssertion records the jti of an assertion clientID presented until
// until (the assertion's exp, after which it is refused anyway), and gives
// ErrAlreadyExists, recording nothing new, when that client's jti is
// recorded already: a replay. An until not in the future is kept a
// second. Two clients' jtis never collide. The jti is not stored as it
// is.
type Assertions interface {
	UseAssertion(ctx context.Context, clientID, jti string, until time.Time) error
}
