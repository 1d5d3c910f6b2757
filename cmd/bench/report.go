package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/oauthd/oauthd/store/redis"
)

// report prints the medians, the targets of issues 9, 12 and 23 with PASS
// or MISS, and Redis's cost per token.
func report(w io.Writer, opts options, cmps []*comparison, cost redisCost, apps appsCost) {
	// Columns as wide as their longest entry.
	cw, tw := len("comparison"), len(fmt.Sprintf("Redis commands per token, %d apps", opts.Apps))
	for _, c := range cmps {
		cw = max(cw, len(c.name))
		tw = max(tw, len(fmt.Sprintf("%s p99 / %s p99", c.name, c.baseName)))
	}
	fmt.Fprintf(w, "\nresults: median of %d runs per target\n", opts.Repeat)
	fmt.Fprintf(w, "  %-*s %-40s %9s %10s %10s %9s\n", cw, "comparison", "target", "req/s", "p50", "p99", "non-2xx")
	var non2xx, sockErr int64
	for _, c := range cmps {
		for i, s := range []struct {
			t target
			r series
		}{{c.base, c.baseRuns}, {c.subject, c.subjectRuns}} {
			label := c.name
			if i > 0 {
				label = ""
			}
			fmt.Fprintf(w, "  %-*s %-40s %9.0f %10s %10s %9d\n", cw, label, s.t.name, s.r.rps(), ms(s.r.p50()), ms(s.r.p99()), s.r.non2xx())
			non2xx += s.r.non2xx()
			sockErr += s.r.socketErrors()
		}
	}

	fmt.Fprintf(w, "\ntargets: ratios are medians of the per-pair ratios\n")
	met, total := 0, 0
	line := func(name, value, want string, g *goal, note string) {
		verdict := ""
		if g != nil {
			verdict = g.verdict()
			total++
			if g.met() {
				met++
			}
		}
		fmt.Fprintln(w, strings.TrimRight(fmt.Sprintf("  %-*s %8s   %-12s %-4s  %s", tw, name, value, want, verdict, note), " "))
	}
	for _, c := range cmps {
		rps, _ := pairRatios(c.baseRuns, c.subjectRuns)
		each, _ := pairs(c.baseRuns, c.subjectRuns)
		if c.minRatio == 0 {
			line(fmt.Sprintf("%s / %s req/s", c.name, c.baseName), fmt.Sprintf("%.2fx", rps), "(no target)", nil, spread(each, 0))
			continue
		}
		line(fmt.Sprintf("%s / %s req/s", c.name, c.baseName), fmt.Sprintf("%.2fx", rps),
			fmt.Sprintf(">= %.2fx", c.minRatio), &goal{value: rps, want: c.minRatio}, spread(each, c.minRatio))
	}
	for _, c := range cmps {
		_, p99 := pairRatios(c.baseRuns, c.subjectRuns)
		note := fmt.Sprintf("(medians %s vs %s)", ms(c.subjectRuns.p99()), ms(c.baseRuns.p99()))
		name := fmt.Sprintf("%s p99 / %s p99", c.name, c.baseName)
		if c.checkP99 {
			line(name, fmt.Sprintf("%.2fx", p99), "<= 1.00x", &goal{value: p99, want: 1, atMost: true}, note)
		} else {
			line(name, fmt.Sprintf("%.2fx", p99), "(no target)", nil, note)
		}
	}
	line("Redis bytes per live token", fmt.Sprintf("%.0f", cost.BytesPerToken), "<= 200",
		&goal{value: cost.BytesPerToken, want: 200, atMost: true},
		fmt.Sprintf("(used_memory %s -> %s over %d tokens; %.2f keys per token)", mib(cost.Before), mib(cost.After), cost.MemoryTokens, cost.KeysPerToken))
	st, first := apps.Steady, apps.First
	line(fmt.Sprintf("round trips per token, %d apps", opts.Apps), fmt.Sprintf("%.2f", st.RoundTrips), "<= 1.05",
		&goal{value: st.RoundTrips, want: 1.05, atMost: true},
		fmt.Sprintf("(oauthd's Redis client, %d tokens of applications not cached; a bucket's first token: %.2f)", st.Tokens, first.RoundTrips))
	line(fmt.Sprintf("Redis commands per token, %d apps", opts.Apps), fmt.Sprintf("%.2f", st.Commands.Total), "<= 4",
		&goal{value: st.Commands.Total, want: 4, atMost: true},
		fmt.Sprintf("(INFO commandstats, the usage count included; a bucket's and an hour's first token: %.2f)", first.Commands.Total))
	line("non-2xx answers, all runs", fmt.Sprintf("%d", non2xx), "0", &goal{value: float64(non2xx), want: 0, atMost: true}, "")

	fmt.Fprintf(w, "\nredis commands per token issue: %.2f (%s; counted over %d tokens with INFO commandstats)\n",
		cost.Commands.Total, byName(cost.Commands), cost.StatTokens)
	for _, c := range []struct {
		what string
		c    issueCost
	}{{"an application not cached, its bucket live", st}, {"a bucket's and an hour's first token", first}} {
		fmt.Fprintf(w, "redis commands per token, %d apps, %s: %.2f (%s; %d tokens)\n",
			opts.Apps, c.what, c.c.Commands.Total, byName(c.c.Commands), c.c.Tokens)
	}
	fmt.Fprintf(w, "(between the two, %d tokens of other applications pushed those out of oauthd's application cache)\n", apps.Evicted)
	fmt.Fprintf(w, "redis commands of one overall usage flush, every %s whatever the tokens: %.0f (%s; %d applications counted)\n",
		redis.DefaultUsageFlushEvery, apps.Flush.Commands.Total, byName(apps.Flush.Commands), apps.Flush.Apps)

	fmt.Fprintf(w, "\n%d of %d targets met\n", met, total)
	if non2xx > 0 {
		fmt.Fprintf(w, "!! FAILURE: %d requests were answered outside 2xx; the throughput of the runs marked !! above counts failures\n", non2xx)
	}
	if sockErr > 0 {
		fmt.Fprintf(w, "!! %d socket errors (connect, read, write or timeout) in the runs marked !! above\n", sockErr)
	}
}

// byName lists each command's share: "evalsha 1.00, hset 1.00, ...".
func byName(c commandCost) string {
	var parts []string
	for _, nv := range c.ByName {
		parts = append(parts, fmt.Sprintf("%s %.2f", nv.Name, nv.Value))
	}
	return strings.Join(parts, ", ")
}

func mib(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }
