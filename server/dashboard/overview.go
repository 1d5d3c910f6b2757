package dashboard

import (
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/oauthd/oauthd/server/apps"
)

// overviewHours is the span of the overview's figures.
const overviewHours = 24

// overviewView is the landing page: the whole server at a glance.
type overviewView struct {
	Chart chart
	// Issued is the tokens of the last overviewHours; Failures, Lockouts
	// and QuotaRefusals what the security log counted in them.
	Issued, Failures, Lockouts, QuotaRefusals int64
	SecurityPartial                           bool
	Security                                  []kindCount
	Top                                       []apps.TopApplication
	Keys                                      []keyRow
	KeysOff                                   bool
	// Figures are this replica's counters, when the dashboard has them.
	Figures *Figures
}

type kindCount struct {
	Kind  string
	Count int64
}

type keyRow struct {
	ID, Alg, State                string
	CreatedAt, ActiveAt, RetireAt time.Time
}

func (d *Dashboard) overview(c echo.Context) error {
	o, err := d.apps.Overview(c.Request().Context(), overviewHours, 10)
	if err != nil {
		return d.renderError(c, err)
	}
	now := d.cfg.Now()
	v := overviewView{Chart: newChart(o.Issued, now), Top: o.Top, KeysOff: o.KeysOff, SecurityPartial: o.SecurityPartial}
	v.Issued = v.Chart.Total
	for kind, n := range o.Security {
		v.Security = append(v.Security, kindCount{kind, n})
		switch {
		case strings.HasSuffix(kind, ".auth_failed"):
			v.Failures += n
		case strings.HasSuffix(kind, ".locked_out"):
			v.Lockouts += n
		case kind == "token.quota_exceeded":
			v.QuotaRefusals += n
		}
	}
	slices.SortFunc(v.Security, func(a, b kindCount) int { return int(b.Count - a.Count) })
	for _, k := range o.Keys {
		state := "published, signs from " + k.ActiveAt.UTC().Format("2006-01-02 15:04 UTC")
		switch {
		case !k.RetireAt.IsZero():
			state = "retiring: verifies old tokens until " + k.RetireAt.UTC().Format("2006-01-02 15:04 UTC")
		case !k.ActiveAt.After(now):
			state = "signing"
		}
		v.Keys = append(v.Keys, keyRow{ID: k.ID, Alg: k.Alg, State: state, CreatedAt: k.CreatedAt, ActiveAt: k.ActiveAt, RetireAt: k.RetireAt})
	}
	if d.cfg.Figures != nil {
		f := d.cfg.Figures()
		v.Figures = &f
	}
	return d.render(c, http.StatusOK, "overview", page{Title: "Overview", Nav: "overview", Data: v})
}
