//go:build faults

package dashboard_test

import (
	"context"
	"fmt"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/oauthd/oauthd/store"
	"github.com/oauthd/oauthd/store/redis/redistest"
)

// The applications page over 5,000 applications on a real redis-server:
// a search finds matches on every page, not a few per page (issue 20
// item 4: "daemon-2" showed 4 of 10), the orders and both directions of
// paging work in the browser, and each page answers within pageBound.
// TestFaultBrowserManyApplications does 100,000. Under the faults tag (make
// test-faults), with it: loading a real redis-server and bounding page
// times is the fault suite's kind of test, and was a quarter of the
// default suite's dashboard time.
func TestBrowserManyApplications(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	browseMany(t, 5000)
}

// pageBound is what an applications page may take, server side (search,
// usage and rendering): the aim is under 50 ms; the bound is generous
// because the machine is shared.
const pageBound = 300 * time.Millisecond

func browseMany(t *testing.T, n int) {
	ctx := newBrowser(t)
	env := newTestEnv(t, redistest.Real)
	start := time.Now()
	redistest.LoadApplications(t, env.store, n)
	t.Logf("FIGURE dashboard load: %d applications in %s", n, time.Since(start).Round(time.Millisecond))

	// Server-side time of each kind of page, through HTTP.
	b := env.signedIn()
	var took []time.Duration
	timed := func(path string) answer {
		t.Helper()
		t0 := time.Now()
		a := b.get(path)
		d := time.Since(t0)
		took = append(took, d)
		if a.status != 200 {
			t.Fatalf("%s: %d\n%s", path, a.status, a.body)
		}
		if d > pageBound {
			t.Errorf("%s took %s, more than %s", path, d, pageBound)
		}
		return a
	}
	for _, q := range []string{"", "sort=name", "sort=-name", "sort=created", "search=daemon-2", "search=daemon-2&sort=name",
		"search=sms&sort=-name", "owner=acct_42", "owner=acct_42&sort=name", "search=scale-0012"} {
		a := timed("/dashboard/applications?" + q)
		// Follow Next five times, then Previous back.
		for range 5 {
			next := pagerLink(a.body, "next")
			if next == "" {
				break
			}
			a = timed(next)
		}
		for prev := pagerLink(a.body, "prev"); prev != ""; prev = pagerLink(a.body, "prev") {
			a = timed(prev)
		}
	}
	slices.Sort(took)
	t.Logf("FIGURE dashboard pages: %d applications, %d pages: median %s, 95th %s, slowest %s",
		n, len(took), took[len(took)/2].Round(10*time.Microsecond), took[len(took)*95/100].Round(10*time.Microsecond), took[len(took)-1].Round(10*time.Microsecond))

	traffic(t, env)
	u := &ui{t: t, ctx: ctx, axe: axeSource(t), shot: shotDir(t)}
	u.do("sign in", chromedp.Navigate(env.url+"/dashboard/signin"), chromedp.WaitVisible(chromedp.CSS("#admin_key")),
		chromedp.SendKeys(chromedp.CSS("#admin_key"), env.key+kb.Enter), chromedp.WaitVisible(chromedp.CSS("#ov-issued")))
	if top := u.text("#top tbody"); !strings.Contains(top, "scale-000000") {
		t.Errorf("the busiest applications lack the busiest, scale-000000:\n%s", top)
	}
	u.check(fmt.Sprintf("overview-%d", n))
	u.do("applications by name", chromedp.Navigate(env.url+"/dashboard/applications?sort=name"), chromedp.WaitVisible(chromedp.CSS("#apps")))
	first := u.text("#apps tbody tr:first-child td:first-child")
	u.check(fmt.Sprintf("applications-%d", n))

	// Search with the form: every row matches, and Next goes on.
	loaded := func(what, param string) {
		u.waitFor(what, `location.search.includes("`+param+`") && document.readyState === "complete" && document.querySelector("#apps") !== null`)
	}
	u.do("search daemon-2", chromedp.SetValue(chromedp.CSS("#f-search"), "daemon-2"), chromedp.SetValue(chromedp.CSS("#f-sort"), "name"),
		chromedp.Click(chromedp.CSS(`form[role=search] button`)))
	loaded("the search", "search=daemon-2")
	names := u.text("#apps tbody")
	if rows := strings.Count(names, "daemon-2"); rows != 25 {
		t.Errorf("the first page of daemon-2 shows %d matching rows, want 25:\n%s", rows, names)
	}
	u.check(fmt.Sprintf("applications-%d-search", n))
	u.do("next page", chromedp.Click(chromedp.CSS(`a[rel=next]`)))
	loaded("the next page", "after=")
	if second := u.text("#apps tbody"); second == names || strings.Count(second, "daemon-2") != strings.Count(second, "scale-") {
		t.Errorf("the second page of daemon-2 holds other rows:\n%s", second)
	}
	u.do("previous page", chromedp.Click(chromedp.CSS(`a[rel=prev]`)))
	loaded("the previous page", "before=")
	if back := u.text("#apps tbody"); back != names {
		t.Errorf("back on the first page:\n%s\nwant\n%s", back, names)
	}
	// Z to A, and back to A to Z: the first row is the one seen first.
	u.do("Z to A", chromedp.Navigate(env.url+"/dashboard/applications"), chromedp.WaitVisible(chromedp.CSS("#apps")),
		chromedp.SetValue(chromedp.CSS("#f-sort"), "-name"), chromedp.Click(chromedp.CSS(`form[role=search] button`)))
	loaded("the Z to A page", "sort=-name")
	if last := u.text("#apps tbody tr:first-child td:first-child"); store.NameKey(last) < store.NameKey(first) {
		t.Errorf("Z to A starts with %q, before A to Z's %q", last, first)
	}
}

// traffic is a day of tokens for twelve applications, the first the
// busiest, fewer at night, and some failed authentications and
// lock-outs: what the overview shows.
func traffic(t *testing.T, env *testEnv) {
	t.Helper()
	ctx := context.Background()
	now := time.Now().UTC()
	for app := range 12 {
		id := fmt.Sprintf("scale-%06d", app)
		for h := range 24 {
			at := now.Add(-time.Duration(h) * time.Hour)
			n := (12 - app) * (3 + (at.Hour()+6)%24/3)
			for i := range n {
				tok := store.Token{ClientID: id, Scopes: []string{"sms"}, IssuedAt: at, ExpiresAt: now.Add(time.Hour)}
				ref := store.TokenRef{ClientID: id, Bucket: tok.Bucket(), Digest: store.Sum(fmt.Sprint(id, h, i))}
				if err := env.store.CreateToken(ctx, ref, tok); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	if err := env.store.FlushUsage(ctx); err != nil {
		t.Fatal(err)
	}
	for i := range 40 {
		kind := []string{"client.auth_failed", "client.auth_failed", "client.auth_failed", "client.locked_out", "token.quota_exceeded"}[i%5]
		env.apps.Security(ctx, store.SecurityEvent{Kind: kind, ClientID: "scale-000003", Known: i%2 == 0, Addr: netip.AddrFrom4([4]byte{198, 51, 100, byte(i)}), Reason: "wrong secret"})
	}
	env.apps.Flush(ctx)
}

// pagerLink is the pager's link with rel in a page ("" when it has none).
func pagerLink(body, rel string) string {
	i := strings.Index(body, `" rel="`+rel+`"`)
	if i < 0 {
		return ""
	}
	j := strings.LastIndex(body[:i], `href="`)
	href := strings.ReplaceAll(body[j+len(`href="`):i], "&amp;", "&")
	if u, err := url.Parse(href); err == nil {
		return u.RequestURI()
	}
	return ""
}
