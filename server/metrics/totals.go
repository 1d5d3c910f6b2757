package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// Totals are this process's counters since it started, for a page that
// shows them beside the cluster-wide figures kept in Redis (the
// dashboard's overview).
type Totals struct {
	Since        time.Time
	TokensIssued float64
	// AuthFailures are failed client authentications.
	AuthFailures float64
	// Lockouts are lock-outs started, every scope together.
	Lockouts float64
	// QuotaRefusals are token requests refused for a spent quota
	// (BudgetIssue); IntrospectRefusals resource servers' refused
	// introspections (BudgetIntrospect).
	QuotaRefusals, IntrospectRefusals float64
}

// Totals reads the counters. It is cheap: a few collectors, no registry
// gather.
func (m *Metrics) Totals() Totals {
	t := Totals{Since: m.started}
	t.TokensIssued = value(m.tokensIssued)
	t.AuthFailures = sum(m.authFailures)
	t.Lockouts = sum(m.lockouts)
	t.QuotaRefusals = value(m.refusals.WithLabelValues(BudgetIssue))
	t.IntrospectRefusals = value(m.refusals.WithLabelValues(BudgetIntrospect))
	return t
}

// sum adds up every series of a counter vector.
func sum(v *prometheus.CounterVec) float64 {
	ch := make(chan prometheus.Metric, 16)
	go func() { v.Collect(ch); close(ch) }()
	var total float64
	for m := range ch {
		total += value(m)
	}
	return total
}

type writer interface{ Write(*dto.Metric) error }

func value(c writer) float64 {
	var m dto.Metric
	if c.Write(&m) != nil || m.Counter == nil {
		return 0
	}
	return m.Counter.GetValue()
}
