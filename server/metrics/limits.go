package metrics

import "github.com/prometheus/client_golang/prometheus"

// Lock-out scopes: who a lock-out holds back. LockScopeClient and
// LockScopeAddress are store.Lockout.Scope's values.
const (
	LockScopeClient  = "client"  // one client_id from one address
	LockScopeAddress = "address" // every client_id from one address
	LockScopeSiege   = "siege"   // one client_id from every address outside its allowlist (limits.client_ceiling)
	LockScopeAdmin   = "admin"   // admin key or dashboard sign-in attempts from one address
)

// Budgets a quota refusal was for.
const (
	BudgetIssue      = "issue"      // an application's token quota (limits.issue)
	BudgetIntrospect = "introspect" // a resource server's introspection budget (limits.introspect)
)

// other stands for a label value outside the fixed set, so a caller's
// mistake adds one series, not one per mistake.
const other = "other"

func newLimitCounters() (lockouts, refusals, monitored *prometheus.CounterVec) {
	lockouts = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "oauthd_lockouts_total",
		Help: "Lock-outs started for too many failed authentications, by scope: client (a client_id from one address), address (every client_id from one address), siege (a client_id from every address, past limits.client_ceiling), admin (admin key or dashboard sign-in).",
	}, []string{"scope"})
	refusals = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "oauthd_quota_refusals_total",
		Help: "Requests refused (429) because a budget was spent, by budget: issue (an application's token quota) or introspect (a resource server's introspection budget).",
	}, []string{"budget"})
	monitored = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "oauthd_quota_monitored_total",
		Help: "Requests past their budget let through because their application's quota is in monitor mode (counted and logged, never refused), by budget: issue or introspect. What enforcing those quotas would refuse.",
	}, []string{"budget"})
	// Every known series exists from the start at 0: rate() and
	// increase() then see the first lock-out, which they would miss on a
	// series that appeared with it.
	for _, s := range []string{LockScopeClient, LockScopeAddress, LockScopeSiege, LockScopeAdmin} {
		lockouts.WithLabelValues(s)
	}
	for _, b := range []string{BudgetIssue, BudgetIntrospect} {
		refusals.WithLabelValues(b)
		monitored.WithLabelValues(b)
	}
	return lockouts, refusals, monitored
}

// LockedOut counts one lock-out that started (store.Lockout.New), by its
// scope: LockScopeClient, LockScopeAddress, LockScopeSiege or
// LockScopeAdmin. Any other value is counted as "other".
func (m *Metrics) LockedOut(scope string) {
	switch scope {
	case LockScopeClient, LockScopeAddress, LockScopeSiege, LockScopeAdmin:
	default:
		scope = other
	}
	m.lockouts.WithLabelValues(scope).Inc()
}

// QuotaRefused counts one request refused because budget (BudgetIssue or
// BudgetIntrospect) was spent. Any other value is counted as "other".
func (m *Metrics) QuotaRefused(budget string) {
	m.refusals.WithLabelValues(knownBudget(budget)).Inc()
}

// QuotaMonitored counts one request past budget (BudgetIssue or
// BudgetIntrospect) let through in monitor mode. Any other value is
// counted as "other".
func (m *Metrics) QuotaMonitored(budget string) {
	m.monitored.WithLabelValues(knownBudget(budget)).Inc()
}

// knownBudget is budget, or other for a value outside the fixed set.
func knownBudget(budget string) string {
	switch budget {
	case BudgetIssue, BudgetIntrospect:
		return budget
	}
	return other
}
