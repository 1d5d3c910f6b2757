package apps

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/oauthd/oauthd/scopes"
	"github.com/oauthd/oauthd/store"
)

// Actor is who makes a change: for the audit log, and for what the change
// may do. Admin keys and the CLI act with Delegate nil and may do
// everything; an application acting through the applications scope
// carries a Delegate that bounds it.
type Actor struct {
	Name string // "admin-key:3f2a9c1e", "client:<client_id>", "cli"
	IP   string
	// Delegate is set for delegated administration.
	Delegate *Delegate
}

// Delegate is an application administering others with the applications
// scope: an SMS platform's customer managing its own daemons. It manages
// only applications of its own Owner; it never grants a scope its own
// application does not hold (itself or through a form: holding sms:* it
// may grant sms:send), nor a reserved scope (applications,
// tokens:introspect); it never changes the scope catalogue; nothing it
// creates outlives its own application's
// tokens; and it only ever narrows an IP allowlist (mayNarrow). These
// rules are why the applications scope can be an ordinary scope a
// customer ticks.
type Delegate struct {
	ClientID string
	Owner    string
	// Scopes its application holds.
	Scopes []string
	// Lifetime of its application's tokens; 0 means never.
	Lifetime time.Duration
}

// DelegateOf describes application a acting as a delegated administrator.
func DelegateOf(a store.Application) *Delegate {
	return &Delegate{ClientID: a.ClientID, Owner: a.Owner, Scopes: a.Scopes, Lifetime: a.TokenLifetime}
}

type actorKey struct{}

// WithActor returns ctx carrying the actor of the changes made with it.
func WithActor(ctx context.Context, a Actor) context.Context {
	return context.WithValue(ctx, actorKey{}, a)
}

func actorFrom(ctx context.Context) Actor {
	a, _ := ctx.Value(actorKey{}).(Actor)
	if a.Name == "" {
		a.Name = "unknown"
	}
	return a
}

// delegateFrom is ctx's delegate, nil for an actor that may do everything.
func delegateFrom(ctx context.Context) *Delegate {
	a, _ := ctx.Value(actorKey{}).(Actor)
	return a.Delegate
}

// mayManage refuses a delegate an application of another owner. A
// delegate whose own application has no owner manages nothing: "no owner"
// must not mean "every unowned application".
func (d *Delegate) mayManage(a store.Application) error {
	if d == nil {
		return nil
	}
	if d.Owner == "" {
		return Forbidden("owner", fmt.Sprintf("application %s has no owner, so it may administer no applications; an operator can give it one", d.ClientID))
	}
	if a.Owner != d.Owner {
		return Forbidden("owner", fmt.Sprintf("application %s belongs to another owner; delegated administration reaches only applications of owner %q", a.ClientID, d.Owner))
	}
	return nil
}

// mayGrant refuses scopes a delegate may not hand out: those its own
// application does not hold, and the reserved scopes (scopes.Reserved),
// which it may hold but never grant: with either, a customer's daemon
// could read every token (tokens:introspect) or escape its owner's bounds.
func (d *Delegate) mayGrant(granted []string) error {
	if d == nil {
		return nil
	}
	var missing []string
	for _, s := range granted {
		if scopes.Reserved(s) {
			return Forbidden("reserved_scope", fmt.Sprintf("scope %q is reserved: only an admin key can grant it", s))
		}
		if !scopes.Covers(d.Scopes, s) {
			missing = append(missing, s)
		}
	}
	if len(missing) > 0 {
		return Forbidden("scope", "delegated administration can grant only scopes its own application holds; it lacks "+scopes.Format(missing))
	}
	return nil
}

// mayLast refuses a lifetime (0 = never) longer than the delegate's own
// tokens live.
func (d *Delegate) mayLast(field string, lifetime time.Duration) error {
	if d == nil || d.Lifetime == 0 || (lifetime > 0 && lifetime <= d.Lifetime) {
		return nil
	}
	return Forbidden("lifetime", fmt.Sprintf("%s %s would outlive the delegating application's own tokens (%s); choose %s or less",
		field, FormatLifetime(lifetime), FormatLifetime(d.Lifetime), FormatLifetime(d.Lifetime)))
}

// mayChangeOwner refuses a delegate moving an application to another owner.
func (d *Delegate) mayChangeOwner(owner string) error {
	if d == nil || owner == d.Owner {
		return nil
	}
	return Forbidden("owner", fmt.Sprintf("delegated administration cannot set owner %q: its applications belong to owner %q", owner, d.Owner))
}

// mayNarrow refuses a delegate an allowlist wider than the one the
// application has: each new entry must lie inside an old one, and since
// an empty allowlist means "from anywhere", empty to non-empty narrows and
// non-empty to empty widens.
//
// The rule does not ask who set the old allowlist. "An allowlist an admin
// key set" would need a record of the last setter, and that record is no
// bound: a delegate could narrow an operator's allowlist a little, become
// its last setter, then lift it. Only narrowing, whoever set it, bounds
// every path; what a delegate gives up is widening an allowlist it set
// itself, for which it asks an operator (or creates a new application,
// whose allowlist it chooses freely).
func (d *Delegate) mayNarrow(old, next []netip.Prefix) error {
	if d == nil || len(old) == 0 {
		return nil
	}
	if len(next) == 0 {
		return Forbidden("allowlist", "delegated administration can only narrow an IP allowlist: an empty one would allow every address; only an admin key can lift it")
	}
	for _, p := range next {
		if !slices.ContainsFunc(old, func(o netip.Prefix) bool { return o.Bits() <= p.Bits() && o.Contains(p.Addr()) }) {
			return Forbidden("allowlist", fmt.Sprintf("delegated administration can only narrow an IP allowlist: %s is outside %s; only an admin key can widen it",
				FormatAllowlist([]netip.Prefix{p})[0], strings.Join(FormatAllowlist(old), ", ")))
		}
	}
	return nil
}
