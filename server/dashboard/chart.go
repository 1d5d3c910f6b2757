package dashboard

import (
	"fmt"
	"time"
)

// chart is the tokens-per-hour bar chart, laid out here so the template
// only writes SVG elements with attributes (the CSP allows no inline
// style).
type chart struct {
	Width, Height int
	Bars          []bar
	Ticks         []tick
	Total, Max    int64
	// Baseline is the y of the x axis; Left the x of the y axis.
	Baseline, Left, Right int
	MaxY                  int
}

type bar struct {
	X, Y, W, H int
	Count      int64
	Label      string
}

type tick struct {
	X    int
	Text string
}

const (
	chartW      = 720
	chartH      = 200
	chartLeft   = 44
	chartRight  = 712
	chartTop    = 12
	chartBottom = 172
)

// newChart lays out one bar per hour; counts are oldest first and the
// last is now's hour.
func newChart(counts []int64, now time.Time) chart {
	c := chart{Width: chartW, Height: chartH, Baseline: chartBottom, Left: chartLeft, Right: chartRight, MaxY: chartTop}
	for _, n := range counts {
		c.Total += n
		c.Max = max(c.Max, n)
	}
	if len(counts) == 0 {
		return c
	}
	slot := (chartRight - chartLeft) / len(counts)
	first := now.UTC().Truncate(time.Hour).Add(-time.Duration(len(counts)-1) * time.Hour)
	for i, n := range counts {
		h := 0
		if c.Max > 0 {
			h = int(n * int64(chartBottom-chartTop) / c.Max)
		}
		if n > 0 && h < 2 {
			h = 2 // a non-zero hour stays visible
		}
		at := first.Add(time.Duration(i) * time.Hour)
		x := chartLeft + i*slot + 2
		c.Bars = append(c.Bars, bar{X: x, Y: chartBottom - h, W: slot - 4, H: h, Count: n,
			Label: fmt.Sprintf("%s: %d tokens", at.Format("15:04 UTC"), n)})
		if i%6 == 0 || i == len(counts)-1 {
			c.Ticks = append(c.Ticks, tick{X: x + (slot-4)/2, Text: at.Format("15:04")})
		}
	}
	return c
}
