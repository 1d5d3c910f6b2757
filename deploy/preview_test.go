//go:build faults

package deploy

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"hash/crc32"
	"image"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/promqltest"
)

// previewFile is the dashboard preview that docs/operations.md shows.
const previewFile = "../docs/grafana-dashboard.png"

var updatePreview = flag.Bool("update-preview", false, "write "+previewFile+" from this run (make dashboard-preview)")

// TestDashboardPreview renders the dashboard as Grafana would lay it out,
// from its own JSON and over real data: every panel's queries run in
// Prometheus's engine over a simulated half hour of a real oauthd
// (preview_run_test.go), and are drawn where the panel's gridPos puts
// them (preview_draw_test.go). A panel whose queries return nothing, or
// only zeros, over that traffic fails the test: it would show nothing in
// Grafana either. With -update-preview it writes the image to
// docs/grafana-dashboard.png; without, it checks that the committed image
// shows the dashboard's panels as they are now (their list is written in
// the PNG), and leaves this run's image in the test's artifact directory
// (go test -artifacts keeps it).
func TestDashboardPreview(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("simulates half an hour of traffic")
	}
	d := loadDashboard(t)
	data := simulate(t)
	engine := promqltest.NewTestEngineWithOpts(t, promql.EngineOpts{
		MaxSamples: 10_000_000, Timeout: time.Minute, LookbackDelta: 5 * time.Minute, Parser: promParser,
	})
	var panels []shownPanel
	undrawable := false
	for _, p := range d.Panels {
		for _, p := range append([]panel{p}, p.Panels...) {
			sp := shownPanel{panel: p}
			if err := drawable(p); err != nil {
				t.Errorf("panel %q: %v", p.Title, err)
				undrawable = true
			}
			if p.Type != "row" {
				sp.series = evaluate(t, engine, data, p)
				if len(sp.series) == 0 {
					t.Errorf("panel %q: its queries return nothing over the run", p.Title)
				} else if !slices.ContainsFunc(sp.series, nonZero) {
					t.Errorf("panel %q: every value is 0 over the run; the traffic (preview_run_test.go) must exercise what it shows", p.Title)
				}
			}
			panels = append(panels, sp)
		}
	}
	if undrawable {
		t.FailNow()
	}
	img := drawDashboard(d, panels, data.start, data.end)
	w, h := previewSize(panels)
	if b := img.Bounds(); b.Dx() != w || b.Dy() != h {
		t.Fatalf("the image is %dx%d; the panels' grid makes it %dx%d", b.Dx(), b.Dy(), w, h)
	}
	stamp := panelList(panels)
	out, err := encodePreview(img, stamp, *updatePreview)
	if err != nil {
		t.Fatal(err)
	}
	if *updatePreview {
		if t.Failed() {
			t.Fatalf("not writing %s: the preview would show the failures above", previewFile)
		}
		if err := os.WriteFile(previewFile, out, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s (%dx%d, %d KiB)", previewFile, w, h, len(out)>>10)
		return
	}
	if err := os.WriteFile(filepath.Join(t.ArtifactDir(), filepath.Base(previewFile)), out, 0o644); err != nil {
		t.Fatal(err)
	}
	committed, err := os.ReadFile(previewFile)
	if err != nil {
		t.Fatalf("%v: run make dashboard-preview", err)
	}
	cfg, err := png.DecodeConfig(bytes.NewReader(committed))
	if err != nil {
		t.Fatalf("%s: %v", previewFile, err)
	}
	if got, _ := previewStamp(committed); got != stamp || cfg.Width != w || cfg.Height != h {
		t.Errorf("%s (%dx%d) shows another version of the dashboard than %s (%dx%d): run make dashboard-preview and commit the image.\nit shows:\n%s\nthe dashboard has:\n%s",
			previewFile, cfg.Width, cfg.Height, dashboardFile, w, h, got, stamp)
	}
}

// drawable says what of a panel the preview cannot draw as Grafana
// would: a panel type, unit or calculation it does not know.
func drawable(p panel) error {
	def := p.FieldConfig.Defaults
	var errs []error
	if !slices.Contains([]string{"row", "stat", "timeseries"}, p.Type) {
		errs = append(errs, fmt.Errorf("type %s", p.Type))
	}
	if _, ok := units[def.Unit]; !ok && def.Unit != "" && def.Unit != "none" {
		errs = append(errs, fmt.Errorf("unit %s", def.Unit))
	}
	for _, c := range slices.Concat(p.Options.Legend.Calcs, p.Options.ReduceOptions.Calcs) {
		if !slices.Contains(calcs, c) {
			errs = append(errs, fmt.Errorf("calculation %s", c))
		}
	}
	if p.Type == "stat" && len(p.Options.ReduceOptions.Calcs) != 1 {
		errs = append(errs, fmt.Errorf("%d calculations; the preview draws one", len(p.Options.ReduceOptions.Calcs)))
	}
	if m := def.Custom.Stacking.Mode; m != "" && m != "none" && m != "normal" {
		errs = append(errs, fmt.Errorf("stacking %s", m))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("the preview (preview_draw_test.go) does not draw its %w", err)
	}
	return nil
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

// panelList is what the image shows of the dashboard: each panel's id,
// type, place, title, unit and queries. The image carries it, so a test
// can tell when the dashboard changed and the image did not.
func panelList(panels []shownPanel) string {
	var b strings.Builder
	for _, p := range panels {
		g := p.GridPos
		fmt.Fprintf(&b, "%d %s %d,%d %dx%d %q %s\n", p.ID, p.Type, g.X, g.Y, g.W, g.H, p.Title, p.FieldConfig.Defaults.Unit)
		for _, tg := range p.Targets {
			fmt.Fprintf(&b, "  %s %q %s\n", tg.RefID, tg.LegendFormat, tg.Expr)
		}
	}
	return b.String()
}

// stampKeyword names the PNG text chunk holding panelList.
const stampKeyword = "oauthd-dashboard-panels"

// encodePreview encodes img as PNG with stamp in a tEXt chunk (PNG
// §11.3.4.3) right after the header, where any PNG reader skips it. The
// committed image is compressed best; a test run's, fast.
func encodePreview(img image.Image, stamp string, commit bool) ([]byte, error) {
	level := png.BestSpeed
	if commit {
		level = png.BestCompression
	}
	var buf bytes.Buffer
	if err := (&png.Encoder{CompressionLevel: level}).Encode(&buf, img); err != nil {
		return nil, err
	}
	b := buf.Bytes()
	const afterIHDR = 8 + 4 + 4 + 13 + 4 // signature, IHDR's length, type, data, CRC
	data := append([]byte(stampKeyword+"\x00"), stamp...)
	chunk := binary.BigEndian.AppendUint32(nil, uint32(len(data)))
	chunk = append(chunk, "tEXt"...)
	chunk = append(chunk, data...)
	chunk = binary.BigEndian.AppendUint32(chunk, crc32.ChecksumIEEE(chunk[4:]))
	return slices.Concat(b[:afterIHDR], chunk, b[afterIHDR:]), nil
}

// previewStamp reads the stamp encodePreview wrote.
func previewStamp(b []byte) (string, error) {
	if len(b) < 8 || string(b[1:4]) != "PNG" {
		return "", errors.New("not a PNG")
	}
	for b = b[8:]; len(b) >= 12; {
		n := int(binary.BigEndian.Uint32(b))
		if len(b) < 12+n {
			break
		}
		typ, data := string(b[4:8]), b[8:8+n]
		if k, v, ok := bytes.Cut(data, []byte{0}); typ == "tEXt" && ok && string(k) == stampKeyword {
			return string(v), nil
		}
		b = b[12+n:]
	}
	return "", errors.New("no " + stampKeyword + " text chunk")
}
