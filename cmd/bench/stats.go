package main

import (
	"slices"
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
	n := min(len(base), len(subject))
	r := make([]float64, 0, n)
	p := make([]float64, 0, n)
	for i := range n {
		if base[i].RPS > 0 {
			r = append(r, subject[i].RPS/base[i].RPS)
		}
		if base[i].P99 > 0 {
			p = append(p, float64(subject[i].P99)/float64(base[i].P99))
		}
	}
	return median(r), median(p)
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
