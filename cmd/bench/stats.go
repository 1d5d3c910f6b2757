package main

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// median of xs (the mean of the middle two for an even count); 0 for none.
// Medians, not means: on a shared machine one disturbed run should not move
// the figure.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// series is one target's measured runs.
type series []runResult

func (s series) values(f func(runResult) float64) []float64 {
	v := make([]float64, len(s))
	for i, r := range s {
		v[i] = f(r)
	}
	return v
}

func (s series) rps() float64 { return median(s.values(func(r runResult) float64 { return r.RPS })) }

func (s series) p50() time.Duration {
	return time.Duration(median(s.values(func(r runResult) float64 { return float64(r.P50) })))
}

func (s series) p99() time.Duration {
	return time.Duration(median(s.values(func(r runResult) float64 { return float64(r.P99) })))
}

func (s series) non2xx() (n int64) {
	for _, r := range s {
		n += r.Non2xx
	}
	return n
}

func (s series) socketErrors() (n int64) {
	for _, r := range s {
		n += r.SocketErrors
	}
	return n
}

// pairRatios divides each subject run by the baseline run of its pair and
// returns the medians of the throughput and p99 ratios. Ratios are taken
// within a pair, seconds apart, because the machine's load drifts between
// pairs more than within one.
func pairRatios(base, subject series) (rps, p99 float64) {
	r, p := pairs(base, subject)
	return median(r), median(p)
}

// pairs is each pair's subject/base ratio of req/s and of p99, in run
// order, pairs whose base has none left out.
func pairs(base, subject series) (rps, p99 []float64) {
	n := min(len(base), len(subject))
	rps, p99 = make([]float64, 0, n), make([]float64, 0, n)
	for i := range n {
		if base[i].RPS > 0 {
			rps = append(rps, subject[i].RPS/base[i].RPS)
		}
		if base[i].P99 > 0 {
			p99 = append(p99, float64(subject[i].P99)/float64(base[i].P99))
		}
	}
	return rps, p99
}

// spread is the note beside a req/s ratio: each pair's ratio, and, when a
// target (want > 0) lies between the least and the greatest of them,
// that the run cannot tell which side of it the comparison is: on a
// shared machine pairs of the same binaries differ by 10-20%, and the
// median of three says little about a target inside that.
func spread(ratios []float64, want float64) string {
	if len(ratios) < 2 {
		return ""
	}
	parts := make([]string, len(ratios))
	for i, r := range ratios {
		parts[i] = fmt.Sprintf("%.2f", r)
	}
	note := "(pairs " + strings.Join(parts, " ") + ")"
	if want > 0 && slices.Min(ratios) <= want && want <= slices.Max(ratios) {
		note += " the target lies within the pairs: more -repeat to tell"
	}
	return note
}

// goal is one target of issue 9: value must be at least (or, with atMost,
// at most) want.
type goal struct {
	value, want float64
	atMost      bool
}

func (g goal) met() bool {
	if g.atMost {
		return g.value <= g.want
	}
	return g.value >= g.want
}

func (g goal) verdict() string {
	if g.met() {
		return "PASS"
	}
	return "MISS"
}
