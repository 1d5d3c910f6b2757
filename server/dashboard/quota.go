package dashboard

import (
	"slices"
	"time"

	"github.com/oauthd/oauthd/scopes"
	"github.com/oauthd/oauthd/server/apps"
	"github.com/oauthd/oauthd/store"
)

// quotaView is the application page's Quota block: what holds the
// application (its own quotas or the server's limits, and the mode) and
// its use against the token quota, from the hourly counts the page reads
// anyway (no read of the limits' own state).
type quotaView struct {
	Token, Introspection, Mode string
	// ResourceServer: it holds tokens:introspect, so its introspection
	// budget matters.
	ResourceServer bool
	// ThisHour is how many tokens it got in this hour so far; PerHour is
	// its token quota in tokens an hour, 0 when none holds it.
	ThisHour, PerHour int64
}

// quotaOf is a's Quota block, with the global limits and its hourly
// counts (oldest first, the last for now's hour).
func quotaOf(a store.Application, limits store.LimitsConfig, hours []int64) quotaView {
	monitored := a.Monitored(limits.Monitor)
	v := quotaView{
		Token:          apps.DescribeQuota(a.TokenQuota, limits.Issue, monitored),
		Introspection:  apps.DescribeQuota(a.IntrospectionQuota, limits.Introspect, monitored),
		Mode:           store.QuotaEnforce,
		ResourceServer: slices.Contains(a.Scopes, scopes.Introspect),
	}
	if monitored {
		v.Mode = store.QuotaMonitor
	}
	if a.QuotaMode == "" {
		v.Mode += " (the default)"
	}
	if r := a.TokenQuota.Or(limits.Issue); !r.Off() {
		v.PerHour = int64(float64(r.N) * float64(time.Hour) / float64(r.Per))
	}
	if len(hours) > 0 {
		v.ThisHour = hours[len(hours)-1]
	}
	return v
}
