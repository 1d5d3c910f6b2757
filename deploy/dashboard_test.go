package deploy

import (
	"bufio"
	"context"
	"encoding/json"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
	goredis "github.com/redis/go-redis/v9"

	"github.com/oauthd/oauthd/server/metrics"
)

const dashboardFile = "grafana/oauthd.json"

// exported is every metric name oauthd's /metrics serves once each of its
// observers has seen something: a real metrics.Metrics, every method
// called, scraped through its Handler. Histograms appear as their
// _bucket, _sum and _count series, as PromQL names them.
func exported(t *testing.T) map[string]bool {
	t.Helper()
	m := metrics.New(metrics.Build{Version: "v1.4.0", Revision: "abc", GoVersion: "go1.x"})
	m.Request("/oauth/token", http.MethodPost, 200, 2*time.Millisecond)
	m.TokenIssued()
	m.ClientAuthFailed("wrong secret")
	m.Introspected("active")
	m.LockedOut(metrics.LockScopeClient)
	m.QuotaRefused(metrics.BudgetIssue)
	m.QuotaMonitored(metrics.BudgetIssue)
	m.InstrumentAppCache(func() metrics.CacheStats { return metrics.CacheStats{Hits: 3, Misses: 1} })
	m.InstrumentFeed(func() metrics.FeedStats { return metrics.FeedStats{Subscribers: 2, Events: 5} })
	mini := miniredis.RunT(t)
	rdb := goredis.NewClient(&goredis.Options{Addr: mini.Addr(), MaxRetries: -1})
	t.Cleanup(func() { rdb.Close() })
	m.InstrumentRedis(rdb)
	ctx := context.Background()
	rdb.Set(ctx, "k", "v", 0)
	rdb.Do(ctx, "frobnicate") // an error, so oauthd_redis_errors_total has a series

	w := httptest.NewRecorder()
	m.Handler().ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if w.Code != http.StatusOK {
		t.Fatalf("scrape: %d", w.Code)
	}
	names := map[string]bool{}
	sample := regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*)[{ ]`)
	sc := bufio.NewScanner(w.Body)
	for sc.Scan() {
		if m := sample.FindStringSubmatch(sc.Text()); m != nil {
			names[m[1]] = true
		}
	}
	for _, want := range []string{"oauthd_http_request_duration_seconds_bucket", "oauthd_lockouts_total", "oauthd_feed_subscribers", "go_goroutines"} {
		if !names[want] {
			t.Fatalf("the scrape lacks %s; is every observer exercised?", want)
		}
	}
	return names
}

// family is a series name's metric family: histogram series lose their
// suffix.
func family(name string, exported map[string]bool) string {
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		if base, ok := strings.CutSuffix(name, suffix); ok && exported[base+"_bucket"] {
			return base
		}
	}
	return name
}

// grafanaVars stands in for the dashboard's variables, so its queries
// parse as Prometheus will receive them.
var grafanaVars = strings.NewReplacer("$__rate_interval", "1m", "$__interval", "1m", "$__range", "1h", "$job", ".+", "$instance", ".+")

// selectors parses a query and returns its vector selectors.
func selectors(t *testing.T, where, expr string) []*parser.VectorSelector {
	t.Helper()
	e, err := promParser.ParseExpr(grafanaVars.Replace(expr))
	if err != nil {
		t.Errorf("%s: %q does not parse: %v", where, expr, err)
		return nil
	}
	var out []*parser.VectorSelector
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		if vs, ok := n.(*parser.VectorSelector); ok {
			out = append(out, vs)
		}
		return nil
	})
	if len(out) == 0 {
		t.Errorf("%s: %q selects no series", where, expr)
	}
	return out
}

func metricName(vs *parser.VectorSelector) string {
	for _, m := range vs.LabelMatchers {
		if m.Name == labels.MetricName && m.Type == labels.MatchEqual {
			return m.Value
		}
	}
	return ""
}

// dashboard is the part of Grafana's dashboard model the tests read.
type dashboard struct {
	UID           string `json:"uid"`
	Title         string `json:"title"`
	SchemaVersion int    `json:"schemaVersion"`
	Templating    struct {
		List []struct {
			Name, Type string
			Query      any `json:"query"`
		} `json:"list"`
	} `json:"templating"`
	Panels []panel `json:"panels"`
}

type panel struct {
	ID         int    `json:"id"`
	Type       string `json:"type"`
	Title      string `json:"title"`
	Datasource *struct {
		Type, UID string
	} `json:"datasource"`
	GridPos gridPos `json:"gridPos"`
	Targets []struct {
		RefID        string `json:"refId"`
		Expr         string `json:"expr"`
		LegendFormat string `json:"legendFormat"`
	} `json:"targets"`
	Panels []panel `json:"panels"`
	// What the preview (preview_test.go) draws by.
	FieldConfig struct {
		Defaults struct {
			Unit     string   `json:"unit"`
			Decimals *int     `json:"decimals"`
			Min      *float64 `json:"min"`
			Max      *float64 `json:"max"`
			Custom   struct {
				LineWidth   float64 `json:"lineWidth"`
				FillOpacity float64 `json:"fillOpacity"`
				Stacking    struct {
					Mode string `json:"mode"`
				} `json:"stacking"`
			} `json:"custom"`
			Thresholds struct {
				Steps []struct {
					Color string   `json:"color"`
					Value *float64 `json:"value"`
				} `json:"steps"`
			} `json:"thresholds"`
		} `json:"defaults"`
	} `json:"fieldConfig"`
	Options struct {
		Legend struct {
			Calcs []string `json:"calcs"`
		} `json:"legend"`
		ReduceOptions struct {
			Calcs []string `json:"calcs"`
		} `json:"reduceOptions"`
	} `json:"options"`
}

// gridPos is where a panel sits on Grafana's 24-column grid.
type gridPos struct{ H, W, X, Y int }

func loadDashboard(t *testing.T) dashboard {
	t.Helper()
	b, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	return d
}

func TestDashboard(t *testing.T) {
	t.Parallel()
	d := loadDashboard(t)
	names := exported(t)
	if d.UID == "" || d.Title == "" || d.SchemaVersion == 0 {
		t.Errorf("uid %q, title %q, schemaVersion %d", d.UID, d.Title, d.SchemaVersion)
	}
	vars := map[string]string{}
	for _, v := range d.Templating.List {
		vars[v.Name] = v.Type
		if q, ok := v.Query.(map[string]any); ok {
			if s, _ := q["query"].(string); strings.HasPrefix(s, "label_values(") {
				metric := strings.TrimSuffix(strings.TrimPrefix(strings.SplitN(s, ",", 2)[0], "label_values("), ")")
				for _, vs := range selectors(t, "variable "+v.Name, metric) {
					if !names[metricName(vs)] {
						t.Errorf("variable %s reads %s, which oauthd does not export", v.Name, metricName(vs))
					}
				}
			}
		}
	}
	if vars["datasource"] != "datasource" || vars["job"] != "query" || vars["instance"] != "query" {
		t.Fatalf("variables %v: want a datasource, job and instance", vars)
	}

	var all []panel
	for _, p := range d.Panels {
		all = append(all, p)
		all = append(all, p.Panels...)
	}
	ids := map[int]string{}
	shown := map[string]bool{}
	for _, p := range all {
		if prev, dup := ids[p.ID]; dup || p.ID == 0 {
			t.Errorf("panel %q has id %d, as %q has", p.Title, p.ID, prev)
		}
		ids[p.ID] = p.Title
		if g := p.GridPos; g.W <= 0 || g.H <= 0 || g.X < 0 || g.X+g.W > 24 {
			t.Errorf("panel %q: gridPos %+v is off the 24-column grid", p.Title, g)
		}
		if p.Type == "row" {
			continue
		}
		if p.Datasource == nil || p.Datasource.UID != "${datasource}" || len(p.Targets) == 0 {
			t.Errorf("panel %q: datasource %+v, %d queries; want the ${datasource} variable and a query", p.Title, p.Datasource, len(p.Targets))
		}
		refs := map[string]bool{}
		for _, tg := range p.Targets {
			if refs[tg.RefID] || tg.RefID == "" {
				t.Errorf("panel %q: refId %q repeated or empty", p.Title, tg.RefID)
			}
			refs[tg.RefID] = true
			for _, vs := range selectors(t, "panel "+p.Title, tg.Expr) {
				name := metricName(vs)
				if !names[name] {
					t.Errorf("panel %q queries %s, which oauthd does not export", p.Title, name)
				}
				shown[family(name, names)] = true
				// Every selector follows the job and replica pickers.
				var job, instance bool
				for _, m := range vs.LabelMatchers {
					job = job || m.Name == "job"
					instance = instance || m.Name == "instance"
				}
				if !job || !instance {
					t.Errorf("panel %q: %s ignores the job or instance variable", p.Title, vs)
				}
			}
		}
	}
	// Every oauthd family is on the dashboard: a new metric needs a panel.
	for name := range names {
		if f := family(name, names); strings.HasPrefix(f, "oauthd_") && !shown[f] {
			t.Errorf("no panel shows %s", f)
		}
	}
}

// TestRuleMetricsExist holds the alert rules to the metrics oauthd
// serves: a rule on a misspelt or removed metric would never fire.
func TestRuleMetricsExist(t *testing.T) {
	t.Parallel()
	names := exported(t)
	used := map[string]bool{}
	for _, g := range loadRules(t, rulesFile).Groups {
		for _, r := range g.Rules {
			for _, vs := range selectors(t, "rule "+r.Alert, r.Expr) {
				name := metricName(vs)
				if !names[name] {
					t.Errorf("%s queries %s, which oauthd does not export", r.Alert, name)
				}
				used[name] = true
			}
		}
	}
	// The lock-out and quota families exist for these rules; if they lose
	// their rules, the exercise above no longer proves much.
	for _, name := range []string{"oauthd_lockouts_total", "oauthd_quota_refusals_total", "oauthd_redis_errors_total"} {
		if !used[name] {
			t.Errorf("no rule reads %s (rules read %v)", name, slices.Sorted(maps.Keys(used)))
		}
	}
}
