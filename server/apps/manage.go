package apps

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/oauthd/oauthd/scopes"
	"github.com/oauthd/oauthd/server/credential"
	"github.com/oauthd/oauthd/store"
)

// audit appends an event. The change it describes has already happened,
// so a failed write is logged, not returned: reporting the change as
// failed would be a lie.
func (s *Service) audit(ctx context.Context, kind, clientID string, detail map[string]any) {
	a := actorFrom(ctx)
	e := store.Event{Time: s.now(), Kind: kind, Actor: a.Name, ClientID: clientID, IP: a.IP, Detail: detail}
	if err := s.store.AppendEvent(context.WithoutCancel(ctx), e); err != nil {
		s.opts.Logger.Error("audit log write failed", "kind", kind, "client_id", clientID, "error", err.Error())
	}
}

// notFound names the application that does not exist.
func notFound(id string) error {
	return fmt.Errorf("application %q: %w", truncate(id, 64), store.ErrNotFound)
}

// delegatedAccess lets a delegated administrator act on application id
// only when it is of the delegate's owner, reading the application to
// know; admin keys and the CLI pass without a read.
func (s *Service) delegatedAccess(ctx context.Context, id string) error {
	d := delegateFrom(ctx)
	if d == nil {
		return nil
	}
	a, err := s.store.GetApplication(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return notFound(id)
	}
	if err != nil {
		return err
	}
	return d.mayManage(a)
}

// Get returns an application and its usage.
func (s *Service) Get(ctx context.Context, id string) (store.Application, store.Usage, error) {
	if !credential.ValidClientID(id) {
		return store.Application{}, store.Usage{}, notFound(id)
	}
	a, err := s.store.GetApplication(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return store.Application{}, store.Usage{}, notFound(id)
	}
	if err != nil {
		return store.Application{}, store.Usage{}, err
	}
	if err := delegateFrom(ctx).mayManage(a); err != nil {
		return store.Application{}, store.Usage{}, err
	}
	u, err := s.store.GetUsage(ctx, id)
	return a, u, err
}

// MaxPage bounds a listing page.
const MaxPage = 500

// ListQuery selects, orders and pages a listing over every application
// (store.AppQuery says how); the zero ListQuery but Limit lists them all
// in creation order.
type ListQuery struct {
	// Search finds applications by the start of any word of their name,
	// or of their client_id, case-insensitively.
	Search string
	// Owner keeps the applications of one owner. A delegated
	// administrator always sees only its own owner's.
	Owner string
	// Sort is "created" ("" too) or "name"; Desc reverses it.
	Sort string
	Desc bool
	// After or Before: a cursor of a page already shown.
	After, Before string
	Limit         int
}

// Sorts are the orders a listing offers.
var Sorts = []string{string(store.SortCreated), string(store.SortName)}

// Listed is an application in a listing, with its usage.
type Listed struct {
	store.Application
	Usage store.Usage
}

// ListPage is a page of a listing, with the cursors of its neighbours
// ("" for none) and whether the search matched more than it sorts
// (store.AppPage.Capped).
type ListPage struct {
	Apps       []Listed
	Prev, Next string
	Capped     bool
}

// List returns a page of the applications q selects, in q's order, with
// their usage.
func (s *Service) List(ctx context.Context, q ListQuery) (ListPage, error) {
	if d := delegateFrom(ctx); d != nil {
		if err := d.mayChangeOwner(q.Owner); q.Owner != "" && err != nil {
			return ListPage{}, Forbidden("owner", fmt.Sprintf("delegated administration lists only owner %q's applications", d.Owner))
		}
		if d.Owner == "" {
			return ListPage{}, d.mayManage(store.Application{})
		}
		q.Owner = d.Owner
	}
	if q.Limit <= 0 || q.Limit > MaxPage {
		return ListPage{}, Invalid("limit", fmt.Sprintf("between 1 and %d", MaxPage))
	}
	if q.Sort != "" && !slices.Contains(Sorts, q.Sort) {
		return ListPage{}, Invalid("sort", "one of "+strings.Join(Sorts, ", "))
	}
	if q.After != "" && q.Before != "" {
		return ListPage{}, Invalid("before", "give a cursor or a before cursor, not both")
	}
	if len(q.Search) > 100 {
		return ListPage{}, Invalid("search", "at most 100 bytes")
	}
	res, err := s.store.SearchApplications(ctx, store.AppQuery{
		Search: q.Search, Owner: q.Owner, Sort: store.AppSort(q.Sort), Desc: q.Desc,
		After: q.After, Before: q.Before, Limit: q.Limit,
	})
	if errors.Is(err, store.ErrInvalid) {
		return ListPage{}, Invalid("cursor", "not a cursor this server handed out for this order; start again without one")
	}
	if err != nil {
		return ListPage{}, err
	}
	ids := make([]string, len(res.Apps))
	for i, a := range res.Apps {
		ids[i] = a.ClientID
	}
	usage, err := s.store.GetUsages(ctx, ids)
	if err != nil {
		return ListPage{}, err
	}
	out := ListPage{Apps: make([]Listed, len(res.Apps)), Prev: res.Prev, Next: res.Next, Capped: res.Capped}
	for i, a := range res.Apps {
		out.Apps[i] = Listed{a, usage[a.ClientID]}
	}
	return out, nil
}

// ApplicationPatch holds the fields to change; nil leaves a field as it is.
type ApplicationPatch struct {
	Name          *string
	Description   *string
	Scopes        *[]string
	TokenLifetime *string
	IPAllowlist   *[]string
	Enabled       *bool
	Owner         *string
	Metadata      *map[string]string
	TokenFormat   *string
	Audiences     *[]string
	// TokenQuota, IntrospectionQuota and QuotaMode are as for
	// NewApplication: empty sets them back to the global default.
	TokenQuota, IntrospectionQuota, QuotaMode *string
	// DPoPBound and Profile are the binding policy (binding.go).
	DPoPBound *bool
	Profile   *string
	// Auth replaces the application's whole authentication setting: the
	// method (Method "" keeps the current one) and the material it needs,
	// all of it (what the patch leaves empty is removed). Moving to a key
	// or certificate method removes every secret: no shared secret
	// exists after that. Moving from one to a secret method issues a new
	// secret (Patch returns it); so does moving to client_secret_jwt,
	// whose secrets must be sealed, which older secrets are not.
	Auth *store.ClientAuth
}

// Update is Patch for callers that show no new secret: a patch that
// issues one (Auth) goes through Patch.
func (s *Service) Update(ctx context.Context, id string, p ApplicationPatch) (store.Application, error) {
	a, _, err := s.Patch(ctx, id, p)
	return a, err
}

// Patch validates and applies a patch, and returns the application and
// the secret the patch issued ("" for none; shown this once). Narrowed
// scopes and disabling take effect for new tokens at once and, because
// introspection reads the application with every token, for issued
// tokens at once too; so does a new authentication setting.
func (s *Service) Patch(ctx context.Context, id string, p ApplicationPatch) (store.Application, string, error) {
	var next store.Application
	changes := map[string]any{}
	// Validate before touching the store, so a bad field never races a
	// concurrent change.
	var err error
	if p.Name != nil {
		if next.Name, err = checkName(*p.Name); err != nil {
			return store.Application{}, "", err
		}
		changes["name"] = next.Name
	}
	if p.Description != nil {
		if next.Description, err = checkText("description", *p.Description, 500); err != nil {
			return store.Application{}, "", err
		}
		changes["description"] = next.Description
	}
	if p.Scopes != nil {
		if next.Scopes, err = s.checkScopes(ctx, *p.Scopes); err != nil {
			return store.Application{}, "", err
		}
		changes["scopes"] = next.Scopes
	}
	if p.TokenLifetime != nil {
		if next.TokenLifetime, err = ParseLifetime(*p.TokenLifetime); err != nil {
			return store.Application{}, "", Invalid("token_lifetime", err.Error())
		}
		changes["token_lifetime"] = FormatLifetime(next.TokenLifetime)
	}
	if p.IPAllowlist != nil {
		if next.IPAllowlist, err = ParseAllowlist(*p.IPAllowlist); err != nil {
			return store.Application{}, "", Invalid("ip_allowlist", err.Error())
		}
		changes["ip_allowlist"] = FormatAllowlist(next.IPAllowlist)
	}
	if p.Enabled != nil {
		changes["enabled"] = *p.Enabled
	}
	if p.Owner != nil {
		if next.Owner, err = checkOwner(*p.Owner); err != nil {
			return store.Application{}, "", err
		}
		changes["owner"] = next.Owner
	}
	if p.Metadata != nil {
		if next.Metadata, err = checkMetadata(*p.Metadata); err != nil {
			return store.Application{}, "", err
		}
		changes["metadata"] = next.Metadata
	}
	if p.Audiences != nil {
		if next.Audiences, err = checkAudiences(*p.Audiences); err != nil {
			return store.Application{}, "", err
		}
		changes["audiences"] = next.Audiences
	}
	if p.TokenFormat != nil {
		changes["token_format"] = *p.TokenFormat
	}
	var q quotaFields
	if p.TokenQuota != nil || p.IntrospectionQuota != nil || p.QuotaMode != nil {
		if q, err = parseQuotaFields(deref(p.TokenQuota), deref(p.IntrospectionQuota), deref(p.QuotaMode)); err != nil {
			return store.Application{}, "", err
		}
	}
	if p.TokenQuota != nil {
		changes["token_quota"] = FormatQuota(q.token)
	}
	if p.IntrospectionQuota != nil {
		changes["introspection_quota"] = FormatQuota(q.introspection)
	}
	if p.QuotaMode != nil {
		changes["quota_mode"] = q.mode
	}
	bind, err := p.binding(changes)
	if err != nil {
		return store.Application{}, "", err
	}
	d := delegateFrom(ctx)
	if d != nil {
		var errs []error
		if p.Owner != nil {
			errs = append(errs, d.mayChangeOwner(next.Owner))
		}
		if p.Scopes != nil {
			errs = append(errs, d.mayGrant(next.Scopes))
		}
		if p.TokenLifetime != nil {
			errs = append(errs, d.mayLast("token_lifetime", next.TokenLifetime))
		}
		if err := errors.Join(errs...); err != nil {
			return store.Application{}, "", firstError(err)
		}
	}
	// A secret the patch may issue is made (and sealed) before the
	// compare-and-swap, which must not wait on anything.
	var issued store.Secret
	var plain string
	var sealErr error
	if p.Auth != nil {
		issued, plain = store.Secret{ID: credential.NewID(), CreatedAt: s.now()}, credential.NewSecret()
		issued.Digest = store.Sum(plain)
		if s.opts.Seal != nil {
			issued.Sealed, sealErr = s.seal(ctx, plain)
		} else {
			sealErr = Invalid(fieldMethod, ErrNoSealingKey)
		}
	}
	if !credential.ValidClientID(id) {
		return store.Application{}, "", notFound(id)
	}
	var before store.Application
	var authChange map[string]any
	a, err := s.store.UpdateApplication(ctx, id, func(a store.Application) (store.Application, error) {
		before = a
		if err := d.mayManage(a); err != nil {
			return a, err
		}
		bind.apply(&a)
		if p.Owner != nil {
			a.Owner = next.Owner
		}
		if p.Metadata != nil {
			a.Metadata = next.Metadata
		}
		if p.Audiences != nil {
			a.Audiences = next.Audiences
		}
		if p.Name != nil {
			a.Name = next.Name
		}
		if p.Description != nil {
			a.Description = next.Description
		}
		if p.Scopes != nil {
			a.Scopes = next.Scopes
		}
		if p.TokenLifetime != nil {
			a.TokenLifetime = next.TokenLifetime
		}
		if p.IPAllowlist != nil {
			// Checked against the allowlist as it is now, inside the
			// compare-and-swap: a concurrent change cannot slip past it.
			if err := d.mayNarrow(a.IPAllowlist, next.IPAllowlist); err != nil {
				return a, err
			}
			a.IPAllowlist = next.IPAllowlist
		}
		if p.Enabled != nil {
			a.Enabled = *p.Enabled
		}
		// Quotas are checked against those the application has now,
		// inside the compare-and-swap, as the allowlist is.
		old := a
		if p.TokenQuota != nil {
			a.TokenQuota = q.token
		}
		if p.IntrospectionQuota != nil {
			a.IntrospectionQuota = q.introspection
		}
		if p.QuotaMode != nil {
			a.QuotaMode = q.mode
		}
		if err := d.mayLowerQuotas(old, a, s.opts.Limits); err != nil {
			return a, err
		}
		// The format is checked against the lifetime the application
		// has after this patch.
		format := a.TokenFormat
		if p.TokenFormat != nil {
			format = *p.TokenFormat
		}
		var err error
		if a.TokenFormat, err = checkTokenFormat(format, a.TokenLifetime); err != nil {
			return a, err
		}
		// Only when the patch sets either: an application from before
		// the rule keeps working, capped at issue.
		if p.TokenLifetime != nil {
			err = checkProfileLifetime("token_lifetime", a.Profile, a.TokenLifetime)
		} else if p.Profile != nil {
			err = checkProfileLifetime("profile", a.Profile, a.TokenLifetime)
		}
		if err != nil {
			return a, err
		}
		authChange = nil
		if p.Auth != nil {
			if authChange, err = s.changeAuth(d, &a, *p.Auth, issued, sealErr); err != nil {
				return a, err
			}
		}
		a.UpdatedAt = s.now()
		return a, nil
	})
	if errors.Is(err, store.ErrNotFound) {
		return store.Application{}, "", notFound(id)
	}
	if err != nil {
		return store.Application{}, "", err
	}
	if changed := whatChanged(changes, before, a); len(changed) > 0 || authChange == nil {
		s.audit(ctx, "application.updated", id, changed)
	}
	if authChange != nil {
		s.audit(ctx, "application.auth_changed", id, authChange)
	}
	if authChange == nil || authChange["secret_issued"] == nil {
		plain = ""
	}
	return a, plain, nil
}

// deref is *p, or "" for nil.
func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// whatChanged keeps, of the fields a patch set, those whose value moved,
// with their new value as the record has it, and their old ones under
// "previous": the audit log says what changed, not what a form posted.
func whatChanged(set map[string]any, old, next store.Application) map[string]any {
	was, now := settingsOf(old), settingsOf(next)
	out, previous := map[string]any{}, map[string]any{}
	for k := range set {
		if fmt.Sprint(was[k]) != fmt.Sprint(now[k]) {
			out[k], previous[k] = now[k], was[k]
		}
	}
	if len(previous) > 0 {
		out["previous"] = previous
	}
	return out
}

// settingsOf is what an update may change, as the audit log writes it.
func settingsOf(a store.Application) map[string]any {
	return map[string]any{
		"name": a.Name, "description": a.Description, "owner": a.Owner, "metadata": a.Metadata,
		"scopes": a.Scopes, "token_lifetime": FormatLifetime(a.TokenLifetime), "ip_allowlist": FormatAllowlist(a.IPAllowlist),
		"enabled": a.Enabled, "audiences": a.Audiences, "token_format": cmp.Or(a.TokenFormat, store.TokenOpaque),
		"token_quota": FormatQuota(a.TokenQuota), "introspection_quota": FormatQuota(a.IntrospectionQuota), "quota_mode": a.QuotaMode,
		"dpop_bound_access_tokens": a.DPoPBound, "profile": a.Profile,
	}
}

// Delete removes an application; its tokens stop working at once.
func (s *Service) Delete(ctx context.Context, id string) error {
	if !credential.ValidClientID(id) {
		return notFound(id)
	}
	if err := s.delegatedAccess(ctx, id); err != nil {
		return err
	}
	err := s.store.DeleteApplication(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return notFound(id)
	}
	if err != nil {
		return err
	}
	s.audit(ctx, "application.deleted", id, nil)
	return nil
}

// ResetSecret adds a new secret and retires the others: at once, or after
// grace (at most MaxGrace), so a daemon can roll over without downtime. It
// returns the application, the new secret (shown this once) and its id.
func (s *Service) ResetSecret(ctx context.Context, id string, grace time.Duration) (store.Application, string, string, error) {
	if grace < 0 || grace > s.opts.MaxGrace {
		return store.Application{}, "", "", Invalid("grace_period", fmt.Sprintf("between 0s and %s (the configured maximum)", FormatLifetime(s.opts.MaxGrace)))
	}
	if !credential.ValidClientID(id) {
		return store.Application{}, "", "", notFound(id)
	}
	secret, sid := credential.NewSecret(), credential.NewID()
	now := s.now()
	// Sealed beforehand for a client_secret_jwt application, which the
	// compare-and-swap finds out.
	var sealed []byte
	var sealErr error
	if s.opts.Seal != nil {
		sealed, sealErr = s.seal(ctx, secret)
	} else {
		sealErr = Invalid(fieldMethod, ErrNoSealingKey)
	}
	a, err := s.store.UpdateApplication(ctx, id, func(a store.Application) (store.Application, error) {
		if err := delegateFrom(ctx).mayManage(a); err != nil {
			return a, err
		}
		if !a.Auth.UsesSecret() {
			return a, Conflict(fmt.Sprintf("application %s authenticates with %s and holds no shared secret: change its keys (jwks, jwks_uri) or certificate instead", a.ClientID, a.Auth.Method))
		}
		fresh := store.Secret{ID: sid, Digest: store.Sum(secret), CreatedAt: now}
		if a.Auth.Method == store.AuthSecretJWT {
			if sealErr != nil {
				return a, sealErr
			}
			fresh.Sealed = sealed
		}
		kept := a.Secrets[:0:0]
		for _, old := range a.Secrets {
			if !old.Active(now) {
				continue // drop what has expired already
			}
			if grace == 0 {
				continue // stops at once
			}
			if end := now.Add(grace); old.ExpiresAt.IsZero() || end.Before(old.ExpiresAt) {
				old.ExpiresAt = end
			}
			kept = append(kept, old)
		}
		if len(kept)+1 > MaxSecrets {
			return a, Conflict(fmt.Sprintf("the application already holds %d secrets in their grace period; delete one or wait for it to expire", len(kept)))
		}
		a.Secrets = append(kept, fresh)
		a.UpdatedAt = now
		return a, nil
	})
	if errors.Is(err, store.ErrNotFound) {
		return store.Application{}, "", "", notFound(id)
	}
	if err != nil {
		return store.Application{}, "", "", err
	}
	s.audit(ctx, "secret.reset", id, map[string]any{"secret_id": sid, "grace_period": FormatDuration(grace)})
	return a, secret, sid, nil
}

// DeleteSecret removes one secret at once.
func (s *Service) DeleteSecret(ctx context.Context, id, secretID string) (store.Application, error) {
	if !credential.ValidClientID(id) {
		return store.Application{}, notFound(id)
	}
	missing := errors.New("no such secret")
	a, err := s.store.UpdateApplication(ctx, id, func(a store.Application) (store.Application, error) {
		if err := delegateFrom(ctx).mayManage(a); err != nil {
			return a, err
		}
		i := slices.IndexFunc(a.Secrets, func(sec store.Secret) bool { return sec.ID == secretID })
		if i < 0 {
			return a, missing
		}
		a.Secrets = slices.Delete(slices.Clone(a.Secrets), i, i+1)
		a.UpdatedAt = s.now()
		return a, nil
	})
	switch {
	case errors.Is(err, missing):
		return store.Application{}, fmt.Errorf("secret %q of application %q: %w", truncate(secretID, 64), id, store.ErrNotFound)
	case errors.Is(err, store.ErrNotFound):
		return store.Application{}, notFound(id)
	case err != nil:
		return store.Application{}, err
	}
	s.audit(ctx, "secret.deleted", id, map[string]any{"secret_id": secretID})
	return a, nil
}

// RevokeTokens revokes every token of the application in one constant-time
// store call, whatever their number: it bumps the application's
// generation, and a token is valid only for the generation it was issued
// in.
func (s *Service) RevokeTokens(ctx context.Context, id string) error {
	if !credential.ValidClientID(id) {
		return notFound(id)
	}
	_, err := s.store.UpdateApplication(ctx, id, func(a store.Application) (store.Application, error) {
		if err := delegateFrom(ctx).mayManage(a); err != nil {
			return a, err
		}
		a.Generation++
		a.UpdatedAt = s.now()
		return a, nil
	})
	if errors.Is(err, store.ErrNotFound) {
		return notFound(id)
	}
	if err != nil {
		return err
	}
	s.audit(ctx, "tokens.revoked", id, map[string]any{"all": true})
	return nil
}

// Events pages through one log of the audit log, newest first: f.Log's,
// or when it is "" the log of f.Kind, or the admin log (changes, not the
// security events a flood can fill pages with).
func (s *Service) Events(ctx context.Context, f store.EventFilter, cursor string, limit int) ([]store.Event, string, error) {
	if limit <= 0 || limit > MaxPage {
		return nil, "", Invalid("limit", fmt.Sprintf("between 1 and %d", MaxPage))
	}
	var err error
	if f.Log, err = EventLog(f); err != nil {
		return nil, "", err
	}
	if d := delegateFrom(ctx); d != nil {
		// The log has no owner index: a delegate reads one application's
		// events at a time, and only its own owner's.
		if f.ClientID == "" {
			return nil, "", Forbidden("owner", "delegated administration reads the audit log of one application at a time: pass client_id")
		}
		if err := s.delegatedAccess(ctx, f.ClientID); err != nil {
			return nil, "", err
		}
	}
	ev, next, err := s.store.ListEvents(ctx, f, cursor, limit)
	if errors.Is(err, store.ErrInvalid) {
		return nil, "", Invalid("cursor", "not a cursor this server handed out; start again without one")
	}
	return ev, next, err
}

// EventLog is the log f lists: f.Log when it is one, else the log f.Kind
// is in, else the admin log. A kind of the other log is refused: it would
// list nothing, silently.
func EventLog(f store.EventFilter) (string, error) {
	kindLog := ""
	switch {
	case slices.Contains(SecurityEventKinds, f.Kind):
		kindLog = store.LogSecurity
	case slices.Contains(AdminEventKinds, f.Kind):
		kindLog = store.LogAdmin
	}
	switch {
	case f.Log != "" && f.Log != store.LogAdmin && f.Log != store.LogSecurity:
		return "", Invalid("log", fmt.Sprintf("%q: use %s (changes, the default) or %s (failed authentications, lock-outs, spent quotas)",
			truncate(f.Log, 20), store.LogAdmin, store.LogSecurity))
	case f.Log == "":
		return cmp.Or(kindLog, store.LogAdmin), nil
	case kindLog != "" && kindLog != f.Log:
		return "", Invalid("kind", fmt.Sprintf("%s is in the %s log, not the %s log: ask for log %s", f.Kind, kindLog, f.Log, kindLog))
	}
	return f.Log, nil
}

// ListTokens returns up to limit live tokens and API keys of an
// application (never the credentials themselves) and whether there are
// more.
func (s *Service) ListTokens(ctx context.Context, id string, limit int) ([]store.Token, bool, error) {
	if limit <= 0 || limit > MaxPage {
		return nil, false, Invalid("limit", fmt.Sprintf("between 1 and %d", MaxPage))
	}
	if !credential.ValidClientID(id) {
		return nil, false, notFound(id)
	}
	if err := s.delegatedAccess(ctx, id); err != nil {
		return nil, false, err
	}
	list, more, err := s.store.ListTokens(ctx, id, limit, s.opts.Now())
	if errors.Is(err, store.ErrNotFound) {
		return nil, false, notFound(id)
	}
	return list, more, err
}

// RevokeToken revokes one token or API key by its jti.
func (s *Service) RevokeToken(ctx context.Context, jti string) error {
	ref, ok := store.ParseJTI(jti)
	if !ok || !credential.ValidClientID(ref.ClientID) {
		return fmt.Errorf("token %q: %w", truncate(jti, 80), store.ErrNotFound)
	}
	if err := s.delegatedAccess(ctx, ref.ClientID); err != nil {
		return err
	}
	revoked, err := s.store.RevokeToken(ctx, ref, s.opts.Tombstone)
	if err != nil {
		return err
	}
	if !revoked {
		return fmt.Errorf("token %q (expired, revoked or never issued): %w", truncate(jti, 80), store.ErrNotFound)
	}
	s.audit(ctx, "token.revoked", ref.ClientID, map[string]any{"jti": jti})
	return nil
}

// NewAPIKey is the input for creating an API key.
type NewAPIKey struct {
	Name string
	// Scopes must be a subset of the application's; empty means all.
	Scopes []string
	// ExpiresIn is a lifetime as for tokens ("720h", "30d"), or empty or
	// "never" for a key that does not expire.
	ExpiresIn string
}

// CreateAPIKey makes a long-lived, revocable key for an application. It is
// stored like an access token (digest only, same generation), so
// introspection treats it as one of the application's tokens and
// revoke-all, disabling and deletion reach it. The key is returned this
// once.
func (s *Service) CreateAPIKey(ctx context.Context, id string, in NewAPIKey) (store.Token, string, error) {
	name, err := checkText("name", in.Name, 100)
	if err != nil {
		return store.Token{}, "", err
	}
	var lifetime time.Duration
	if in.ExpiresIn != "" {
		if lifetime, err = ParseLifetime(in.ExpiresIn); err != nil {
			return store.Token{}, "", Invalid("expires_in", err.Error())
		}
	}
	if !credential.ValidClientID(id) {
		return store.Token{}, "", notFound(id)
	}
	app, err := s.store.GetApplication(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return store.Token{}, "", notFound(id)
	}
	if err != nil {
		return store.Token{}, "", err
	}
	d := delegateFrom(ctx)
	if err := d.mayManage(app); err != nil {
		return store.Token{}, "", err
	}
	// A key carries catalogued scopes, as a token does: the forms the
	// application holds (or the key asks for) expanded as they are now.
	var requested []string
	if len(in.Scopes) > 0 {
		if requested, err = s.checkScopes(ctx, in.Scopes); err != nil {
			return store.Token{}, "", err
		}
	}
	cat, err := s.Catalogue(ctx)
	if err != nil {
		return store.Token{}, "", err
	}
	granted, refused := cat.Grant(app.Scopes, requested)
	if len(refused) > 0 {
		return store.Token{}, "", Invalid("scopes", "not held by the application: "+scopes.Format(refused)+" (it holds "+scopes.Format(app.Scopes)+")")
	}
	if err := errors.Join(d.mayGrant(granted), d.mayLast("expires_in", lifetime)); err != nil {
		return store.Token{}, "", firstError(err)
	}
	now := s.now()
	t := store.Token{ClientID: id, Scopes: granted, IssuedAt: now, Generation: app.Generation, Kind: "api_key", Name: name}
	if lifetime > 0 {
		t.ExpiresAt = now.Add(lifetime)
	}
	raw, ref := credential.NewAPIKey(id, t.Bucket())
	t.ID = ref.JTI()
	if err := s.store.CreateToken(ctx, ref, t); errors.Is(err, store.ErrNotFound) {
		return store.Token{}, "", notFound(id) // deleted meanwhile
	} else if err != nil {
		return store.Token{}, "", err
	}
	s.audit(ctx, "api_key.created", id, map[string]any{"jti": t.ID, "name": name, "scopes": granted, "expires_in": FormatLifetime(lifetime)})
	return t, raw, nil
}
