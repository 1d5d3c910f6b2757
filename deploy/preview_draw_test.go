//go:build faults

package deploy

import (
	"cmp"
	"fmt"
	"image"
	"image/color"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/prometheus/promql"
	xfont "golang.org/x/image/font"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// The preview is drawn with gonum.org/v1/plot: it brings the axes, tick
// placement and line drawing a time-series panel needs, and its own fonts
// (Liberation, as Go packages), so the image comes out the same on every
// machine with no font installed. The page, panel frames, stat values and
// legend tables are drawn on its canvas by hand, after Grafana's light
// theme.

// Grafana's grid: 24 columns across the page; rows 30 px high with 8 px
// between panels (its GRID_CELL_HEIGHT and GRID_CELL_VMARGIN).
const (
	previewWidth  = 1600
	gridColumns   = 24
	gridRowHeight = 30
	gridGap       = 8
	pagePad       = 16
	pageHeader    = 76
	titleHeight   = 30
	legendRow     = 17
)

var (
	pageColor   = color.RGBA{0xf4, 0xf5, 0xf5, 0xff}
	panelColor  = color.White
	borderColor = color.RGBA{0xdc, 0xdd, 0xe0, 0xff}
	textColor   = color.RGBA{0x24, 0x29, 0x2e, 0xff}
	mutedColor  = color.RGBA{0x6e, 0x70, 0x76, 0xff}
	gridColor   = color.RGBA{0xe9, 0xea, 0xec, 0xff}
	// seriesColors is Grafana's classic palette.
	seriesColors = []color.RGBA{
		{0x7e, 0xb2, 0x6d, 0xff}, {0xea, 0xb8, 0x39, 0xff}, {0x6e, 0xd0, 0xe0, 0xff}, {0xef, 0x84, 0x3c, 0xff},
		{0xe2, 0x4d, 0x42, 0xff}, {0x1f, 0x78, 0xc1, 0xff}, {0xba, 0x43, 0xa9, 0xff}, {0x70, 0x5d, 0xa0, 0xff},
		{0x50, 0x86, 0x42, 0xff}, {0xcc, 0xa3, 0x00, 0xff}, {0x44, 0x7e, 0xbc, 0xff}, {0xc1, 0x5c, 0x17, 0xff},
	}
	// namedColors are the threshold colors the dashboard names, as
	// Grafana's light theme shows them.
	namedColors = map[string]color.RGBA{
		"green": {0x56, 0xa6, 0x4b, 0xff}, "orange": {0xff, 0x78, 0x0a, 0xff},
		"red": {0xe0, 0x2f, 0x44, 0xff}, "yellow": {0xe0, 0xb4, 0x00, 0xff},
	}
)

// shownPanel is a panel and what its queries returned over the run.
type shownPanel struct {
	panel
	series []previewSeries
}

// previewSeries is one line of a panel: its legend name and its points.
type previewSeries struct {
	name   string
	points []promql.FPoint
}

// rect is an area of the page in pixels, from its top left corner.
type rect struct{ x, y, w, h float64 }

// previewSize is the size of the page that lays out panels.
func previewSize(panels []shownPanel) (w, h int) {
	rows := 0
	for _, p := range panels {
		rows = max(rows, p.GridPos.Y+p.GridPos.H)
	}
	return previewWidth, pageHeader + rows*(gridRowHeight+gridGap) - gridGap + pagePad
}

// gridRect is where a panel's gridPos puts it on the page.
func gridRect(g gridPos) rect {
	col := float64(previewWidth-2*pagePad+gridGap) / gridColumns
	row := float64(gridRowHeight + gridGap)
	return rect{
		x: pagePad + float64(g.X)*col, y: pageHeader + float64(g.Y)*row,
		w: float64(g.W)*col - gridGap, h: float64(g.H)*row - gridGap,
	}
}

// page draws on a vgimg canvas with the page's coordinates: pixels from
// the top left (vg's run from the bottom left, in points; at 72 dpi a
// point is a pixel).
type page struct {
	c draw.Canvas
	h float64
}

func (p page) pt(x, y float64) vg.Point { return vg.Point{X: vg.Length(x), Y: vg.Length(p.h - y)} }

func (p page) area(r rect) draw.Canvas {
	return draw.Canvas{Canvas: p.c.Canvas, Rectangle: vg.Rectangle{Min: p.pt(r.x, r.y+r.h), Max: p.pt(r.x+r.w, r.y)}}
}

func (p page) fill(r rect, c color.Color) {
	p.c.FillPolygon(c, []vg.Point{p.pt(r.x, r.y), p.pt(r.x+r.w, r.y), p.pt(r.x+r.w, r.y+r.h), p.pt(r.x, r.y+r.h)})
}

func (p page) frame(r rect, c color.Color) {
	p.c.StrokeLines(draw.LineStyle{Color: c, Width: 1}, []vg.Point{
		p.pt(r.x, r.y), p.pt(r.x+r.w, r.y), p.pt(r.x+r.w, r.y+r.h), p.pt(r.x, r.y+r.h), p.pt(r.x, r.y),
	})
}

// style is a text style: size in pixels, bold or not, aligned left,
// centre or right (0, -0.5, -1) of the point it is drawn at.
func style(size float64, bold bool, c color.Color, align text.XAlignment) text.Style {
	f := font.Font{Typeface: "Liberation", Variant: "Sans", Size: vg.Length(size)}
	if bold {
		f.Weight = xfont.WeightBold
	}
	return text.Style{Color: c, Font: f, XAlign: align, YAlign: text.YCenter, Handler: plot.DefaultTextHandler}
}

// text draws s with its vertical centre at y, cut short with an ellipsis
// to fit width (0: no limit).
func (p page) text(x, y float64, s string, st text.Style, width float64) {
	if width > 0 && float64(st.Width(s)) > width {
		r := []rune(s)
		for len(r) > 1 && float64(st.Width(string(r)+"…")) > width {
			r = r[:len(r)-1]
		}
		s = string(r) + "…"
	}
	p.c.FillText(st, p.pt(x, y), s)
}

// drawDashboard draws the page: the dashboard's title, the variables as
// set for the preview, and every panel where its gridPos puts it.
func drawDashboard(d dashboard, panels []shownPanel, start, end time.Time) image.Image {
	w, h := previewSize(panels)
	img := vgimg.NewWith(vgimg.UseWH(vg.Length(w), vg.Length(h)), vgimg.UseDPI(72), vgimg.UseBackgroundColor(pageColor))
	pg := page{c: draw.New(img), h: float64(h)}
	pg.text(pagePad, 24, d.Title, style(22, true, textColor, text.XLeft), 0)
	pg.text(previewWidth-pagePad, 24, fmt.Sprintf("Job: All     Replica: All     %s to %s UTC",
		start.Format("2006-01-02 15:04"), end.Format("15:04")), style(13, false, mutedColor, text.XRight), 0)
	pg.text(pagePad, 52, "A preview, not a Grafana screenshot: deploy/preview_test.go drew deploy/grafana/oauthd.json's panels from their own "+
		"queries, run by Prometheus's PromQL engine over a simulated half hour of a real oauthd (two replicas on miniredis).",
		style(13, false, mutedColor, text.XLeft), previewWidth-2*pagePad)
	for _, p := range panels {
		r := gridRect(p.GridPos)
		switch p.Type {
		case "row":
			pg.text(r.x, r.y+r.h/2, p.Title, style(16, true, textColor, text.XLeft), r.w)
		case "stat":
			drawStat(pg, r, p, start, end)
		default:
			drawTimeSeries(pg, r, p, start, end)
		}
	}
	return img.Image()
}

func drawFrame(pg page, r rect, title string) {
	pg.fill(r, panelColor)
	pg.frame(r, borderColor)
	pg.text(r.x+8, r.y+titleHeight/2, title, style(14, true, textColor, text.XLeft), r.w-16)
}

// drawStat draws a stat panel as the dashboard sets them: its one
// series reduced as the panel says (the last value), in the color its
// thresholds give that, over the series' area graph.
func drawStat(pg page, r rect, p shownPanel, start, end time.Time) {
	drawFrame(pg, r, p.Title)
	if len(p.series) == 0 {
		pg.text(r.x+r.w/2, r.y+r.h/2, "No data", style(16, false, mutedColor, text.XCenter), 0)
		return
	}
	pts := p.series[0].points
	v := reduce(p.Options.ReduceOptions.Calcs[0], pts)
	c := thresholdColor(p, v)
	body := rect{r.x + 1, r.y + titleHeight, r.w - 2, r.h - titleHeight - 1}
	spark := plot.New()
	spark.BackgroundColor = color.Transparent
	spark.HideAxes()
	top := 0.0
	for _, run := range runs(pts) {
		line := xys(pts[run[0]:run[1]])
		for _, q := range line {
			top = max(top, q.Y)
		}
		spark.Add(&plotter.Line{XYs: line, LineStyle: draw.LineStyle{Color: c, Width: 1}, FillColor: fade(c, 0.18)})
	}
	if top == 0 {
		top = 1
	}
	// Set after Add, which widens the axes to the data; the value sits
	// over the top of the graph.
	spark.Y.Min, spark.Y.Max = 0, top*2.8
	spark.X.Min, spark.X.Max = float64(start.Unix()), float64(end.Unix())
	spark.Draw(pg.area(body))
	pg.text(body.x+body.w/2, body.y+body.h*0.36, formatValue(v, p.FieldConfig.Defaults.Unit, p.FieldConfig.Defaults.Decimals),
		style(math.Min(32, body.h*0.4), true, c, text.XCenter), body.w-8)
}

// thresholdColor is the color of the last threshold step v reaches.
func thresholdColor(p shownPanel, v float64) color.RGBA {
	c := namedColors["green"]
	for _, s := range p.FieldConfig.Defaults.Thresholds.Steps {
		if s.Value == nil || v >= *s.Value {
			if n, ok := namedColors[s.Color]; ok {
				c = n
			}
		}
	}
	return c
}

func fade(c color.RGBA, alpha float64) color.Color {
	return color.NRGBA{c.R, c.G, c.B, uint8(math.Round(alpha * 255))}
}

// xys is points as gonum plots them: x in Unix seconds.
func xys(pts []promql.FPoint) plotter.XYs {
	out := make(plotter.XYs, len(pts))
	for i, p := range pts {
		out[i] = plotter.XY{X: float64(p.T) / 1000, Y: p.F}
	}
	return out
}

// runs splits a series where it has no point for longer than a scrape
// interval, as [from, to) index ranges: Grafana leaves those gaps open
// (spanNulls false).
func runs(pts []promql.FPoint) [][2]int {
	var out [][2]int
	from := 0
	for i := 1; i < len(pts); i++ {
		if pts[i].T-pts[i-1].T > previewScrape.Milliseconds() {
			out = append(out, [2]int{from, i})
			from = i
		}
	}
	return append(out, [2]int{from, len(pts)})
}

// drawTimeSeries draws a time-series panel: its lines (stacked when the
// panel stacks them), axes in its unit, and its legend table with the
// calculations it asks for.
func drawTimeSeries(pg page, r rect, p shownPanel, start, end time.Time) {
	drawFrame(pg, r, p.Title)
	def := p.FieldConfig.Defaults
	// The legend table takes at most two fifths of the panel; Grafana
	// would scroll the rest.
	rows, more := len(p.series), 0
	if room := int(0.4*(r.h-titleHeight)/legendRow) - 1; rows > room {
		rows, more = room-1, rows-room+1
	}
	legendH := float64(rows+1+min(more, 1)) * legendRow
	graph := rect{r.x + 4, r.y + titleHeight, r.w - 12, r.h - titleHeight - legendH - 10}

	pl := plot.New()
	pl.BackgroundColor = color.Transparent
	pl.X.Tick.Marker = timeTicks{perLabel: end.Sub(start).Seconds() / (graph.w / 70)}
	styleAxis(&pl.X)
	styleAxis(&pl.Y)
	pl.X.Tick.Label.YAlign = text.YTop
	pl.X.Padding = 4
	grid := plotter.NewGrid()
	grid.Horizontal = draw.LineStyle{Color: gridColor, Width: 1}
	grid.Vertical = grid.Horizontal
	pl.Add(grid)

	// Each series is a line over a band, filled at the panel's opacity:
	// down to 0, or down to the series below when the panel stacks them.
	width := vg.Length(max(def.Custom.LineWidth, 1))
	stacked := def.Custom.Stacking.Mode == "normal"
	below := map[int64]float64{}
	lo, hi := 0.0, 0.0
	for i, s := range p.series {
		c := seriesColors[i%len(seriesColors)]
		upper := make([]promql.FPoint, len(s.points))
		lower := make([]promql.FPoint, len(s.points))
		for j, q := range s.points {
			lower[j].T, upper[j].T = q.T, q.T
			if stacked {
				lower[j].F = below[q.T]
				below[q.T] += q.F
			}
			upper[j].F = lower[j].F + q.F
			lo, hi = min(lo, upper[j].F), max(hi, upper[j].F)
		}
		for _, run := range runs(upper) {
			top := xys(upper[run[0]:run[1]])
			if def.Custom.FillOpacity > 0 {
				band := append(slices.Clone(top), xys(lower[run[0]:run[1]])...)
				slices.Reverse(band[len(top):])
				pl.Add(&plotter.Polygon{XYs: []plotter.XYs{band}, Color: fade(c, def.Custom.FillOpacity/100)})
			}
			pl.Add(&plotter.Line{XYs: top, LineStyle: draw.LineStyle{Color: c, Width: width}})
		}
	}
	if def.Min != nil {
		lo = *def.Min
	}
	if def.Max != nil {
		hi = *def.Max
	}
	// Set after Add, which widens the axes to the data.
	pl.X.Min, pl.X.Max = float64(start.Unix()), float64(end.Unix())
	pl.Y.Min, pl.Y.Max = lo, hi
	ticks := valueTicks{unit: def.Unit}
	if def.Max == nil {
		pl.Y.Max = ticks.top(lo, hi)
	}
	pl.Y.Tick.Marker = ticks
	pl.Draw(pg.area(graph))

	drawLegend(pg, rect{r.x + 8, graph.y + graph.h + 6, r.w - 16, legendH}, p, rows, more)
}

func styleAxis(a *plot.Axis) {
	a.LineStyle.Width = 0
	a.Tick.LineStyle.Width = 0
	a.Tick.Length = 0
	a.Padding = 0
	a.Tick.Label = style(11, false, mutedColor, a.Tick.Label.XAlign)
	a.Tick.Label.YAlign = text.YCenter
}

// drawLegend draws the legend as a table: each series' color and name,
// then the calculations the panel asks for.
func drawLegend(pg page, r rect, p shownPanel, rows, more int) {
	calcs := p.Options.Legend.Calcs
	head := map[string]string{"mean": "Mean", "max": "Max", "min": "Min", "lastNotNull": "Last *", "last": "Last"}
	const col = 92.0
	nameW := r.w - col*float64(len(calcs)) - 16
	muted := style(11, true, mutedColor, text.XRight)
	y := r.y + legendRow/2
	pg.text(r.x, y, "Name", style(11, true, mutedColor, text.XLeft), 0)
	for i, c := range calcs {
		pg.text(r.x+nameW+16+col*float64(i+1), y, head[c], muted, 0)
	}
	// When not every series fits, those with the highest mean do, in
	// the panel's order.
	shown := make([]int, len(p.series))
	for i := range shown {
		shown[i] = i
	}
	slices.SortStableFunc(shown, func(a, b int) int {
		return cmp.Compare(reduce("mean", p.series[b].points), reduce("mean", p.series[a].points))
	})
	shown = shown[:rows]
	slices.Sort(shown)
	for _, i := range shown {
		s := p.series[i]
		y += legendRow
		pg.fill(rect{r.x, y - 1.5, 12, 3}, seriesColors[i%len(seriesColors)])
		pg.text(r.x+18, y, s.name, style(12, false, textColor, text.XLeft), nameW-18)
		for j, c := range calcs {
			pg.text(r.x+nameW+16+col*float64(j+1), y, formatValue(reduce(c, s.points), p.FieldConfig.Defaults.Unit, p.FieldConfig.Defaults.Decimals),
				style(12, false, textColor, text.XRight), col-4)
		}
	}
	if more > 0 {
		pg.text(r.x+18, y+legendRow, fmt.Sprintf("and %d more", more), style(12, false, mutedColor, text.XLeft), 0)
	}
}

// calcs are the legend and stat calculations reduce knows.
var calcs = []string{"mean", "max", "min", "last", "lastNotNull"}

// reduce is one of Grafana's calculations over a series.
func reduce(calc string, pts []promql.FPoint) float64 {
	switch calc {
	case "mean":
		sum := 0.0
		for _, p := range pts {
			sum += p.F
		}
		return sum / float64(len(pts))
	case "max":
		m := math.Inf(-1)
		for _, p := range pts {
			m = max(m, p.F)
		}
		return m
	case "min":
		m := math.Inf(1)
		for _, p := range pts {
			m = min(m, p.F)
		}
		return m
	}
	return pts[len(pts)-1].F // last, lastNotNull: evaluate dropped the NaNs
}

// timeTicks labels the time axis every round number of minutes that
// leaves about perLabel seconds between labels.
type timeTicks struct{ perLabel float64 }

func (t timeTicks) Ticks(lo, hi float64) []plot.Tick {
	step := 60.0
	for _, m := range []float64{1, 2, 5, 10, 15, 30, 60} {
		if step = m * 60; step >= t.perLabel {
			break
		}
	}
	// None at the very ends, where a label would run into the value
	// axis's or out of the panel.
	margin := (hi - lo) / 25
	var out []plot.Tick
	for v := math.Ceil((lo+margin)/step) * step; v < hi-margin; v += step {
		out = append(out, plot.Tick{Value: v, Label: time.Unix(int64(v), 0).UTC().Format("15:04")})
	}
	return out
}

// valueTicks labels the value axis with round numbers in the panel's
// unit, about four of them.
type valueTicks struct{ unit string }

func (t valueTicks) step(lo, hi float64) float64 {
	if hi <= lo {
		return 1
	}
	raw := (hi - lo) / 4
	// Bytes step in round numbers of KiB, MiB or GiB.
	unit := 1.0
	if t.unit == "bytes" && raw >= 1024 {
		unit = math.Pow(1024, math.Floor(math.Log(raw)/math.Log(1024)))
	}
	raw /= unit
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if m*mag >= raw {
			return m * mag * unit
		}
	}
	return 10 * mag * unit
}

// top is the axis maximum: hi rounded up to a step (1 when everything
// is 0, so a flat line sits at the bottom as in Grafana).
func (t valueTicks) top(lo, hi float64) float64 {
	if hi <= lo {
		return lo + 1
	}
	s := t.step(lo, hi)
	return math.Ceil(hi/s) * s
}

func (t valueTicks) Ticks(lo, hi float64) []plot.Tick {
	s := t.step(lo, hi)
	var out []plot.Tick
	for v := math.Ceil(lo/s) * s; v <= hi+s/1e6; v += s {
		out = append(out, plot.Tick{Value: v, Label: formatTick(v, s, t.unit)})
	}
	return out
}

// units are the dashboard's units as Grafana writes them: each a list of
// scales, from the largest, and the suffix of each.
var units = map[string][]struct {
	factor float64
	suffix string
}{
	"s":           {{1, " s"}, {1e-3, " ms"}, {1e-6, " µs"}},
	"bytes":       {{1 << 30, " GiB"}, {1 << 20, " MiB"}, {1 << 10, " KiB"}, {1, " B"}},
	"short":       {{1e6, " Mil"}, {1e3, " K"}, {1, ""}},
	"reqps":       {{1, " req/s"}},
	"ops":         {{1, " ops/s"}},
	"percentunit": {{0.01, "%"}},
}

// scaleOf is the scale Grafana writes v in: the largest that leaves v at
// least 1.
func scaleOf(v float64, unit string) (float64, string) {
	scales, ok := units[unit]
	if !ok {
		return 1, ""
	}
	for _, s := range scales {
		if math.Abs(v) >= s.factor || v == 0 && s.factor <= 1 {
			return s.factor, s.suffix
		}
	}
	last := scales[len(scales)-1]
	return last.factor, last.suffix
}

// formatValue writes a value in its unit: with the panel's decimals when
// it sets them, else with three significant digits.
func formatValue(v float64, unit string, decimals *int) string {
	if math.IsNaN(v) {
		return "No data"
	}
	f, suffix := scaleOf(v, unit)
	v /= f
	if decimals != nil {
		return strconv.FormatFloat(v, 'f', *decimals, 64) + suffix
	}
	d := 0
	if v != 0 {
		d = max(0, 2-int(math.Floor(math.Log10(math.Abs(v)))))
	}
	s := strconv.FormatFloat(v, 'f', d, 64)
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s + suffix
}

// formatTick writes a tick value in the scale of the step between ticks,
// with as many decimals as the step needs.
func formatTick(v, step float64, unit string) string {
	f, suffix := scaleOf(step, unit)
	d := max(0, -int(math.Floor(math.Log10(step/f)+1e-9)))
	if s := step / f * math.Pow10(d); math.Abs(s-math.Round(s)) > 1e-9 {
		d++ // 2.5 and 0.25
	}
	return strconv.FormatFloat(v/f, 'f', d, 64) + suffix
}
