package deploy

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/promql/promqltest"
	"github.com/prometheus/prometheus/rules"
)

// rulesFile is the plain Prometheus rule file; the chart's PrometheusRule
// carries the same groups.
const rulesFile = "prometheus/oauthd-rules.yaml"

// promParser parses as a Prometheus server does by default: no
// experimental functions, so a rule that needs a feature flag fails here.
var promParser = parser.NewParser(parser.Options{})

// loadRules parses a rule file as Prometheus loads it: unknown fields,
// bad expressions, templates that do not parse and duplicate names are
// errors.
func loadRules(t *testing.T, file string) *rulefmt.RuleGroups {
	t.Helper()
	groups, errs := rulefmt.ParseFile(file, false, model.UTF8Validation, promParser, slog.New(slog.DiscardHandler))
	for _, err := range errs {
		t.Errorf("%s: %v", file, err)
	}
	if groups == nil || len(groups.Groups) == 0 {
		t.Fatalf("%s: no rule groups", file)
	}
	return groups
}

// alertCase is synthetic series, in promqltest's load notation (samples
// every minute from time 0), and whether an alert fires on them.
type alertCase struct {
	why    string
	series string
	until  time.Duration // evaluate every minute from 0 (or from) to here
	from   time.Duration
}

// alertCases has, for every alert in the rule file, series that must fire
// it by the end and series, near its threshold or shaped like a false
// alarm, that must never fire it.
var alertCases = map[string]struct {
	fire  alertCase
	quiet []alertCase
}{
	"OAuthdDown": {
		fire: alertCase{"nothing exports oauthd_build_info", `up{job="oauthd"} 0x20`, 15 * time.Minute, 0},
		quiet: []alertCase{
			{"a replica is scraped", `oauthd_build_info{version="1.4.0"} 1x20`, 15 * time.Minute, 0},
		},
	},
	"OAuthdTokenErrors": {
		fire: alertCase{"5% of token requests fail", `
			oauthd_http_requests_total{route="/oauth/token",method="POST",code="200"} 0+600x30
			oauthd_http_requests_total{route="/oauth/token",method="POST",code="500"} 0+30x30`, 20 * time.Minute, 0},
		quiet: []alertCase{
			{"0.5% fail", `
				oauthd_http_requests_total{route="/oauth/token",method="POST",code="200"} 0+600x30
				oauthd_http_requests_total{route="/oauth/token",method="POST",code="500"} 0+3x30`, 20 * time.Minute, 0},
			{"refusals are 4xx, not errors", `
				oauthd_http_requests_total{route="/oauth/token",method="POST",code="200"} 0+600x30
				oauthd_http_requests_total{route="/oauth/token",method="POST",code="401"} 0+300x30`, 20 * time.Minute, 0},
		},
	},
	"OAuthdServerErrors": {
		fire: alertCase{"9% of introspections fail", `
			oauthd_http_requests_total{route="/oauth/introspect",method="POST",code="200"} 0+600x40
			oauthd_http_requests_total{route="/oauth/introspect",method="POST",code="503"} 0+60x40`, 30 * time.Minute, 0},
		quiet: []alertCase{
			{"2% fail, and readiness answers 503 as it should while Redis is away", `
				oauthd_http_requests_total{route="/oauth/introspect",method="POST",code="200"} 0+600x40
				oauthd_http_requests_total{route="/oauth/introspect",method="POST",code="503"} 0+12x40
				oauthd_http_requests_total{route="/health/ready",method="GET",code="503"} 0+12x40`, 30 * time.Minute, 0},
		},
	},
	"OAuthdTokenLatencyHigh": {
		fire: alertCase{"every token request takes 100 to 250 ms", histogram("oauthd_http_request_duration_seconds", `route="/oauth/token",method="POST"`,
			map[string]int{"0.01": 0, "0.1": 0, "0.25": 100}), 30 * time.Minute, 0},
		quiet: []alertCase{
			{"99% under 10 ms, 1% under 100 ms", histogram("oauthd_http_request_duration_seconds", `route="/oauth/token",method="POST"`,
				map[string]int{"0.01": 990, "0.1": 1000, "0.25": 1000}), 30 * time.Minute, 0},
		},
	},
	"OAuthdIssuingStopped": {
		fire: alertCase{"a day of tokens, then none for an hour", `oauthd_tokens_issued_total 0+10x1440 14400x90`,
			24*time.Hour + 80*time.Minute, 24 * time.Hour},
		quiet: []alertCase{
			{"tokens all along", `oauthd_tokens_issued_total 0+10x1530`, 24*time.Hour + 80*time.Minute, 24 * time.Hour},
			{"a new installation that never issued one", `oauthd_tokens_issued_total 0x1530`, 24*time.Hour + 80*time.Minute, 24 * time.Hour},
		},
	},
	"OAuthdClientAuthFailures": {
		fire: alertCase{"two failures a second", `oauthd_client_auth_failures_total{reason="wrong secret"} 0+120x20`, 15 * time.Minute, 0},
		quiet: []alertCase{
			{"one every two seconds", `oauthd_client_auth_failures_total{reason="wrong secret"} 0+30x20`, 15 * time.Minute, 0},
		},
	},
	"OAuthdIntrospectionErrors": {
		fire: alertCase{"one error a minute", `
			oauthd_introspections_total{result="active"} 0+600x20
			oauthd_introspections_total{result="error"} 0+1x20`, 15 * time.Minute, 0},
		quiet: []alertCase{
			{"errors long ago, none now", `
				oauthd_introspections_total{result="active"} 0+600x20
				oauthd_introspections_total{result="error"} 0+1x2 2x18`, 15 * time.Minute, 0},
		},
	},
	"OAuthdRedisSlow": {
		fire: alertCase{"every GET takes 25 to 50 ms", histogram("oauthd_redis_command_duration_seconds", `command="get"`,
			map[string]int{"0.005": 0, "0.025": 0, "0.05": 100}), 30 * time.Minute, 0},
		quiet: []alertCase{
			{"every GET under 5 ms", histogram("oauthd_redis_command_duration_seconds", `command="get"`,
				map[string]int{"0.005": 100, "0.025": 100, "0.05": 100}), 30 * time.Minute, 0},
		},
	},
	"OAuthdRedisErrors": {
		fire: alertCase{"five failures a minute", `oauthd_redis_errors_total{command="get"} 0+5x10`, 9 * time.Minute, 0},
		quiet: []alertCase{
			{"one failure (a failover's blip)", `oauthd_redis_errors_total{command="get"} 0x5 1x10`, 15 * time.Minute, 0},
			{"two minutes of failures, over", `oauthd_redis_errors_total{command="get"} 0+5x2 10x15`, 15 * time.Minute, 0},
		},
	},
	"OAuthdRedisPoolTimeouts": {
		fire: alertCase{"a timeout a minute", `oauthd_redis_pool_timeouts_total 0+1x20`, 15 * time.Minute, 0},
		quiet: []alertCase{
			{"timeouts before the window only", `oauthd_redis_pool_timeouts_total 3x20`, 15 * time.Minute, 0},
		},
	},
	"OAuthdAppCacheIneffective": {
		fire: alertCase{"a quarter of lookups hit", `
			oauthd_app_cache_hits_total 0+10x40
			oauthd_app_cache_misses_total 0+30x40`, 30 * time.Minute, 0},
		quiet: []alertCase{
			{"nine in ten hit", `
				oauthd_app_cache_hits_total 0+90x40
				oauthd_app_cache_misses_total 0+10x40`, 30 * time.Minute, 0},
			{"no lookups at all", `
				oauthd_app_cache_hits_total 0x40
				oauthd_app_cache_misses_total 0x40`, 30 * time.Minute, 0},
		},
	},
	"OAuthdFeedDrops": {
		fire: alertCase{"a subscriber dropped every minute", `oauthd_feed_dropped_total 0+1x20`, 15 * time.Minute, 0},
		quiet: []alertCase{
			{"drops long ago", `oauthd_feed_dropped_total 2x20`, 15 * time.Minute, 0},
		},
	},
	"OAuthdFeedSubscribersGone": {
		fire: alertCase{"four subscribers for an hour, then none", `oauthd_feed_subscribers{instance="a"} 4x60 0x40`, 95 * time.Minute, 0},
		quiet: []alertCase{
			{"subscribers all along", `oauthd_feed_subscribers{instance="a"} 4x100`, 95 * time.Minute, 0},
			{"never any subscriber", `oauthd_feed_subscribers{instance="a"} 0x100`, 95 * time.Minute, 0},
			{"subscribers moved to another replica", `
				oauthd_feed_subscribers{instance="a"} 4x60 0x40
				oauthd_feed_subscribers{instance="b"} 0x60 4x40`, 95 * time.Minute, 0},
		},
	},
	"OAuthdLockouts": {
		fire: alertCase{"a client lock-out a minute", `oauthd_lockouts_total{scope="client"} 0+1x20`, 15 * time.Minute, 0},
		quiet: []alertCase{
			{"two in ten minutes", `oauthd_lockouts_total{scope="client"} 0x5 1x5 2x10`, 15 * time.Minute, 0},
			{"admin lock-outs have their own alert", `oauthd_lockouts_total{scope="admin"} 0+1x20`, 15 * time.Minute, 0},
		},
	},
	"OAuthdAdminLockout": {
		fire: alertCase{"one admin lock-out", `oauthd_lockouts_total{scope="admin"} 0x5 1x10`, 10 * time.Minute, 0},
		quiet: []alertCase{
			{"client lock-outs only", `
				oauthd_lockouts_total{scope="admin"} 0x15
				oauthd_lockouts_total{scope="client"} 0+1x15`, 15 * time.Minute, 0},
		},
	},
	"OAuthdQuotaRefusals": {
		fire: alertCase{"a refusal every two seconds", `oauthd_quota_refusals_total{budget="issue"} 0+30x30`, 25 * time.Minute, 0},
		quiet: []alertCase{
			{"one every twenty seconds", `oauthd_quota_refusals_total{budget="issue"} 0+3x30`, 25 * time.Minute, 0},
		},
	},
	"OAuthdMixedVersions": {
		fire: alertCase{"two versions for 45 minutes", `
			oauthd_build_info{version="1.4.0",instance="a"} 1x50
			oauthd_build_info{version="1.5.0",instance="b"} 1x50`, 45 * time.Minute, 0},
		quiet: []alertCase{
			{"a rollout that ends in 10 minutes", `
				oauthd_build_info{version="1.4.0",instance="a"} 1x10
				oauthd_build_info{version="1.5.0",instance="b"} 1x50`, 45 * time.Minute, 0},
		},
	},
}

// histogram is a classic histogram's bucket series in load notation, each
// bucket (le) growing by its cumulative count a minute, +Inf by the total.
func histogram(name, labels string, perMinute map[string]int) string {
	var b strings.Builder
	total := 0
	for le, n := range perMinute {
		b.WriteString("\n" + name + "_bucket{" + labels + `,le="` + le + `"} 0+` + itoa(int32(n)) + "x40")
		total = max(total, n)
	}
	b.WriteString("\n" + name + "_bucket{" + labels + `,le="+Inf"} 0+` + itoa(int32(total)) + "x40")
	return b.String()
}

func TestAlertRules(t *testing.T) {
	t.Parallel()
	groups := loadRules(t, rulesFile)
	var names []string
	for _, g := range groups.Groups {
		for _, r := range g.Rules {
			if r.Alert == "" {
				t.Errorf("rule %q records; this file holds alerts only", r.Record)
				continue
			}
			names = append(names, r.Alert)
			if sev := r.Labels["severity"]; !slices.Contains([]string{"critical", "warning", "info"}, sev) {
				t.Errorf("%s: severity %q", r.Alert, sev)
			}
			if r.Annotations["summary"] == "" || r.Annotations["description"] == "" {
				t.Errorf("%s: a summary and a description say what broke and where to look", r.Alert)
			}
			tc, ok := alertCases[r.Alert]
			if !ok {
				t.Errorf("%s has no test case: add series that fire it and series that must not", r.Alert)
				continue
			}
			t.Run(r.Alert, func(t *testing.T) {
				if fired, firing, notes := evalAlert(t, r, tc.fire); !firing {
					t.Errorf("did not fire on %s (fired at some point: %v)", tc.fire.why, fired)
				} else {
					for _, n := range notes {
						if strings.Contains(n, "error expanding template") || strings.Contains(n, "<no value>") {
							t.Errorf("an annotation does not expand: %s", n)
						}
					}
				}
				for _, q := range tc.quiet {
					if fired, _, _ := evalAlert(t, r, q); fired {
						t.Errorf("fired on %s", q.why)
					}
				}
			})
		}
	}
	for name := range alertCases {
		if !slices.Contains(names, name) {
			t.Errorf("a test case for %s, which the rule file lacks", name)
		}
	}
}

// evalAlert evaluates rule every minute over the case's series, as the
// rule manager would with a one-minute interval, and reports whether the
// alert fired at any evaluation, whether it is firing at the last, and
// its expanded annotations then.
func evalAlert(t *testing.T, r rulefmt.Rule, c alertCase) (fired, firing bool, annotations []string) {
	t.Helper()
	storage := promqltest.LoadedStorage(t, "load 1m\n"+strings.TrimSpace(c.series))
	engine := promqltest.NewTestEngineWithOpts(t, promql.EngineOpts{
		MaxSamples:    1_000_000,
		Timeout:       time.Minute,
		LookbackDelta: 5 * time.Minute,
		Parser:        promParser,
	})
	expr, err := promParser.ParseExpr(r.Expr)
	if err != nil {
		t.Fatal(err)
	}
	rule := rules.NewAlertingRule(r.Alert, expr, time.Duration(r.For), time.Duration(r.KeepFiringFor),
		labels.FromMap(r.Labels), labels.FromMap(r.Annotations), labels.EmptyLabels(), "", true, slog.New(slog.DiscardHandler))
	query := rules.EngineQueryFunc(engine, storage)
	start := time.Unix(0, 0).UTC()
	for at := c.from; at <= c.until; at += time.Minute {
		if _, err := rule.Eval(context.Background(), 0, start.Add(at), query, nil, 0); err != nil {
			t.Fatalf("%s at %v: %v", r.Alert, at, err)
		}
		firing = false
		annotations = nil
		for _, a := range rule.ActiveAlerts() {
			if a.State == rules.StateFiring {
				fired, firing = true, true
				a.Annotations.Range(func(l labels.Label) { annotations = append(annotations, l.Value) })
			}
		}
	}
	return fired, firing, annotations
}
