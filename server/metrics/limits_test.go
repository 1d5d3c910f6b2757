package metrics

import (
	"strings"
	"testing"
)

func TestLimitMetrics(t *testing.T) {
	m := New(Build{})
	before := scrape(t, m)
	// The known series are exported at 0 before anything happens, so the
	// first lock-out is an increase rate() can see.
	for _, want := range []string{
		`oauthd_lockouts_total{scope="client"} 0`,
		`oauthd_lockouts_total{scope="address"} 0`,
		`oauthd_lockouts_total{scope="admin"} 0`,
		`oauthd_quota_refusals_total{budget="issue"} 0`,
		`oauthd_quota_refusals_total{budget="introspect"} 0`,
		`oauthd_quota_monitored_total{budget="issue"} 0`,
		`oauthd_quota_monitored_total{budget="introspect"} 0`,
	} {
		if !strings.Contains(before, want) {
			t.Errorf("a fresh scrape lacks %s", want)
		}
	}

	m.LockedOut(LockScopeClient)
	m.LockedOut(LockScopeClient)
	m.LockedOut(LockScopeAddress)
	m.LockedOut(LockScopeAdmin)
	m.LockedOut("198.51.100.7") // a caller's value must not become a series
	m.QuotaRefused(BudgetIssue)
	m.QuotaRefused(BudgetIntrospect)
	m.QuotaRefused(BudgetIntrospect)
	m.QuotaRefused("client-42")
	m.QuotaMonitored(BudgetIssue)
	m.QuotaMonitored(BudgetIssue)
	m.QuotaMonitored("client-43")

	out := scrape(t, m)
	for _, want := range []string{
		`oauthd_lockouts_total{scope="client"} 2`,
		`oauthd_lockouts_total{scope="address"} 1`,
		`oauthd_lockouts_total{scope="admin"} 1`,
		`oauthd_lockouts_total{scope="other"} 1`,
		`oauthd_quota_refusals_total{budget="issue"} 1`,
		`oauthd_quota_refusals_total{budget="introspect"} 2`,
		`oauthd_quota_refusals_total{budget="other"} 1`,
		`oauthd_quota_monitored_total{budget="issue"} 2`,
		`oauthd_quota_monitored_total{budget="introspect"} 0`,
		`oauthd_quota_monitored_total{budget="other"} 1`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("scrape lacks %s", want)
		}
	}
	for _, leak := range []string{"198.51.100.7", "client-42", "client-43"} {
		if strings.Contains(out, leak) {
			t.Errorf("the label value %q reached the scrape", leak)
		}
	}
}
