package apps

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/oauthd/oauthd/store"
)

// Quota bounds: those of the limits.* settings.
const (
	maxQuotaN   = 1_000_000
	minQuotaPer = time.Second
	maxQuotaPer = 24 * time.Hour
)

// ParseRate reads a rate as the limits.* settings and the quotas write
// it: N/duration ("3600/1h", "10/1m"), N from 1 to a million, the
// duration from a second to a day in whole seconds; or "0" (or empty) for
// no limit, the zero Rate.
func ParseRate(s string) (store.Rate, error) {
	s = strings.TrimSpace(s)
	if s == "0" || s == "" {
		return store.Rate{}, nil
	}
	n, per, ok := strings.Cut(s, "/")
	count, err := strconv.Atoi(n)
	if !ok || err != nil || count < 1 || count > maxQuotaN {
		return store.Rate{}, fmt.Errorf("%q: use N/duration such as 10/1m or 3600/1h (N from 1 to %d)", truncate(s, 40), maxQuotaN)
	}
	d, err := time.ParseDuration(per)
	if err != nil || d < minQuotaPer || d > maxQuotaPer || d%time.Second != 0 {
		return store.Rate{}, fmt.Errorf("%q: the period must be whole seconds from 1s to 24h, such as 1m or 1h", truncate(s, 40))
	}
	return store.Rate{N: count, Per: d}, nil
}

// FormatRate is ParseRate's inverse: "1000/1h", or "0" for no limit.
func FormatRate(r store.Rate) string {
	if r.Off() {
		return "0"
	}
	return strconv.Itoa(r.N) + "/" + FormatLifetime(r.Per)
}

// Unlimited is the quota of an application that no quota holds.
const Unlimited = "unlimited"

// ParseQuota reads an application's own quota: N/duration (ParseRate),
// "unlimited", or "" (also "default") for none of its own: the global
// one then holds it.
func ParseQuota(s string) (store.Quota, error) {
	switch s = strings.TrimSpace(s); strings.ToLower(s) {
	case "", "default":
		return store.Quota{}, nil
	case Unlimited:
		return store.Quota{Set: true}, nil
	}
	r, err := ParseRate(s)
	if err != nil || r.Off() {
		return store.Quota{}, fmt.Errorf("%q: use N/duration such as 1000/1h, unlimited, or empty for the global default", truncate(s, 40))
	}
	return store.Quota{Set: true, Rate: r}, nil
}

// FormatQuota is ParseQuota's inverse: "" for none of its own,
// "unlimited", or N/duration.
func FormatQuota(q store.Quota) string {
	switch {
	case !q.Set:
		return ""
	case q.Rate.Off():
		return Unlimited
	}
	return FormatRate(q.Rate)
}

// ParseQuotaMode reads a quota mode: enforce, monitor, or "" (also
// "default") for the global default.
func ParseQuotaMode(s string) (string, error) {
	switch m := strings.ToLower(strings.TrimSpace(s)); m {
	case "", "default":
		return "", nil
	case store.QuotaEnforce, store.QuotaMonitor:
		return m, nil
	}
	return "", Invalid("quota_mode", fmt.Sprintf("%q: use enforce, monitor (counted and logged, never refused), or empty for the global default", truncate(s, 20)))
}

// quotaFields are an application's quota settings as given to Create or
// Update, parsed.
type quotaFields struct {
	token, introspection store.Quota
	mode                 string
}

func parseQuotaFields(token, introspection, mode string) (quotaFields, error) {
	var q quotaFields
	var err error
	if q.token, err = ParseQuota(token); err != nil {
		return q, Invalid("token_quota", err.Error())
	}
	if q.introspection, err = ParseQuota(introspection); err != nil {
		return q, Invalid("introspection_quota", err.Error())
	}
	q.mode, err = ParseQuotaMode(mode)
	return q, err
}

// DescribeQuota says, for a person, what holds an application: its own
// quota or the global default (def), and whether it is only monitored.
func DescribeQuota(q store.Quota, def store.Rate, monitored bool) string {
	s := FormatQuota(q)
	switch {
	case !q.Set && def.Off():
		s = "unlimited (the default)"
	case !q.Set:
		s = FormatRate(def) + " (the default)"
	}
	if monitored && !q.Or(def).Off() {
		s += ", monitored only"
	}
	return s
}

// atMost reports whether rate a allows no more than b: no more permits
// at once (a's N, its burst) and none faster. No limit allows the most.
func atMost(a, b store.Rate) bool {
	switch {
	case b.Off():
		return true
	case a.Off():
		return false
	}
	return a.N <= b.N && int64(a.N)*b.Per.Milliseconds() <= int64(b.N)*a.Per.Milliseconds()
}

// mayLowerQuota refuses a delegate a quota (field token_quota or
// introspection_quota) allowing more than the one the application has,
// old, each read with the global default def when unset: more permits at
// once, faster, or none at all. Like an allowlist, whoever set the old
// one, a delegate only ever lowers it (mayNarrow says why).
func (d *Delegate) mayLowerQuota(field string, old, next store.Quota, def store.Rate) error {
	if d == nil || atMost(next.Or(def), old.Or(def)) {
		return nil
	}
	e := Forbidden("quota", fmt.Sprintf("delegated administration can only lower a quota: %s allows more than %s; only an admin key can raise it",
		DescribeQuota(next, def, false), DescribeQuota(old, def, false)))
	e.Field = field
	return e
}

// mayEnforce refuses a delegate putting an application's quotas in
// monitor mode, which lets everything through: raising them all.
func (d *Delegate) mayEnforce(old, next string, byDefault bool) error {
	o, n := store.Application{QuotaMode: old}, store.Application{QuotaMode: next}
	if d == nil || !n.Monitored(byDefault) || o.Monitored(byDefault) {
		return nil
	}
	e := Forbidden("quota", "delegated administration cannot put quotas in monitor mode, which refuses nothing: only an admin key can")
	e.Field = "quota_mode"
	return e
}

// mayLowerQuotas applies the quota rules to a change from old to next.
func (d *Delegate) mayLowerQuotas(old, next store.Application, def store.LimitsConfig) error {
	if d == nil {
		return nil
	}
	if err := d.mayLowerQuota("token_quota", old.TokenQuota, next.TokenQuota, def.Issue); err != nil {
		return err
	}
	if err := d.mayLowerQuota("introspection_quota", old.IntrospectionQuota, next.IntrospectionQuota, def.Introspect); err != nil {
		return err
	}
	return d.mayEnforce(old.QuotaMode, next.QuotaMode, def.Monitor)
}
