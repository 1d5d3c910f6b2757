package deploy

import (
	"context"
	"errors"
	"math"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/promqltest"
)

// TestDashboardPreview runs every panel's queries, as Grafana would send
// them, in Prometheus's engine over a simulated half hour of a real oauthd
// (preview_run_test.go). A panel whose queries return nothing, or only
// zeros, over that traffic fails the test: it would show nothing in
// Grafana either.
func TestDashboardPreview(t *testing.T) {
	if testing.Short() {
		t.Skip("simulates half an hour of traffic")
	}
	d := loadDashboard(t)
	data := simulate(t)
	engine := promqltest.NewTestEngineWithOpts(t, promql.EngineOpts{
		MaxSamples: 10_000_000, Timeout: time.Minute, LookbackDelta: 5 * time.Minute, Parser: promParser,
	})
	for _, p := range d.Panels {
		for _, p := range append([]panel{p}, p.Panels...) {
			if p.Type == "row" {
				continue
			}
			series := evaluate(t, engine, data, p)
			if len(series) == 0 {
				t.Errorf("panel %q: its queries return nothing over the run", p.Title)
			} else if !slices.ContainsFunc(series, nonZero) {
				t.Errorf("panel %q: every value is 0 over the run; the traffic (preview_run_test.go) must exercise what it shows", p.Title)
			}
		}
	}
}

// previewSeries is one line of a panel: its legend name and its points.
type previewSeries struct {
	name   string
	points []promql.FPoint
}

// evaluate runs a panel's queries over the run as Grafana would ask
// Prometheus: a range query a scrape interval apart, the variables set to
// All, and each series named by the target's legendFormat.
func evaluate(t *testing.T, engine *promql.Engine, data previewData, p panel) []previewSeries {
	t.Helper()
	var out []previewSeries
	for _, tg := range p.Targets {
		q, err := engine.NewRangeQuery(context.Background(), data.db, nil, grafanaVars.Replace(tg.Expr), data.start, data.end, previewScrape)
		if err != nil {
			t.Fatalf("panel %q: %v", p.Title, err)
		}
		res := q.Exec(context.Background())
		m, err := res.Matrix()
		if err != nil {
			t.Fatalf("panel %q: %s: %v", p.Title, tg.Expr, errors.Join(res.Err, err))
		}
		var series []previewSeries
		for _, s := range m {
			// NaN (a quantile or ratio of no requests) and ±Inf are
			// gaps, as in Grafana. The rest is copied: the engine reuses
			// the points' memory once the query is closed.
			pts := slices.DeleteFunc(slices.Clone(s.Floats), func(p promql.FPoint) bool { return math.IsNaN(p.F) || math.IsInf(p.F, 0) })
			if len(pts) > 0 {
				series = append(series, previewSeries{name: legendName(tg.LegendFormat, tg.Expr, s.Metric), points: pts})
			}
		}
		slices.SortFunc(series, func(a, b previewSeries) int { return strings.Compare(a.name, b.name) })
		out = append(out, series...)
		q.Close()
	}
	return out
}

var legendVar = regexp.MustCompile(`\{\{\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\}\}`)

// legendName is what Grafana calls a series: its legendFormat with the
// labels filled in; without one, its labels, or the query when it has
// none.
func legendName(format, expr string, ls labels.Labels) string {
	if format != "" {
		return legendVar.ReplaceAllStringFunc(format, func(v string) string {
			return ls.Get(legendVar.FindStringSubmatch(v)[1])
		})
	}
	if ls.Len() == 0 {
		return expr
	}
	return ls.String()
}

func nonZero(s previewSeries) bool {
	return slices.ContainsFunc(s.points, func(p promql.FPoint) bool { return p.F != 0 })
}
