package storetest

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/oauthd/oauthd/store"
)

// testSearchApplications checks SearchApplications against the rule
// computed here: every combination of term, owner, order and direction,
// paged forwards to the end and back to the start, on names chosen to
// share words, prefixes and creation milliseconds.
func testSearchApplications(t *testing.T, s Backend) {
	ctx := context.Background()
	base := time.Now().UTC().Truncate(time.Millisecond)
	names := []string{"sms-daemon-1", "SMS daemon 2", "billing-daemon-2", "smsDaemon3", "daemon-2 reports",
		"Reports", "reports-daemon-20", "alpha", "Alpha", "zeta daemon-2", "billing", "daemon2"}
	var all []store.Application
	for i, n := range names {
		a := newApp(t)
		a.ClientID = fmt.Sprintf("c%02d-%s", (i*7)%12, a.ClientID) // client_id order differs from creation order
		a.Name = n
		a.Owner = []string{"acct_1", "acct_2", ""}[i%3]
		a.CreatedAt = base.Add(time.Duration(i/3) * time.Millisecond) // threes share a millisecond
		mustCreate(t, s, a)
		all = append(all, a)
	}
	queries := []store.AppQuery{
		{}, {Desc: true}, {Sort: store.SortName}, {Sort: store.SortName, Desc: true},
		{Search: "daemon-2"}, {Search: "DAEMON", Sort: store.SortName}, {Search: "daemon", Desc: true},
		{Search: "2"}, {Search: "reports", Sort: store.SortName, Desc: true}, {Search: "c0"},
		{Owner: "acct_1"}, {Owner: "acct_2", Desc: true}, {Owner: "acct_1", Sort: store.SortName},
		{Owner: "acct_2", Search: "daemon", Sort: store.SortName}, {Search: "emon"}, {Owner: "nobody"},
	}
	for _, q := range queries {
		checkSearch(t, s, q, all)
	}

	// Changes move the index entries with them.
	renamed, err := s.UpdateApplication(ctx, all[0].ClientID, func(a store.Application) (store.Application, error) {
		a.Name, a.Owner = "gateway primary", "acct_9"
		return a, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	all[0] = renamed
	if err := s.DeleteApplication(ctx, all[1].ClientID); err != nil {
		t.Fatal(err)
	}
	all = all[1:]
	all[0] = renamed
	for _, q := range []store.AppQuery{{Search: "sms"}, {Search: "primary"}, {Owner: "acct_9"}, {Owner: "acct_1"}, {Sort: store.SortName}} {
		checkSearch(t, s, q, all)
	}

	// Cursors are checked, and belong to their order.
	if _, err := s.SearchApplications(ctx, store.AppQuery{After: "garbage!", Limit: 3}); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("a malformed cursor: %v, want ErrInvalid", err)
	}
	p, err := s.SearchApplications(ctx, store.AppQuery{Limit: 3})
	if err != nil || p.Next == "" {
		t.Fatalf("first page: %+v, %v", p, err)
	}
	if _, err := s.SearchApplications(ctx, store.AppQuery{Sort: store.SortName, After: p.Next, Limit: 3}); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("a cursor of another order: %v, want ErrInvalid", err)
	}
}

// checkSearch pages q (3 at a time) forwards, then back from the last
// page, and compares both with the expected order.
func checkSearch(t *testing.T, s Backend, q store.AppQuery, all []store.Application) {
	t.Helper()
	ctx := context.Background()
	term := store.SearchTerm(q.Search)
	var want []string
	sorted := slices.Clone(all)
	slices.SortFunc(sorted, func(a, b store.Application) int {
		c := cmp.Or(a.CreatedAt.Compare(b.CreatedAt), strings.Compare(a.ClientID, b.ClientID))
		if q.Sort == store.SortName {
			c = cmp.Or(strings.Compare(store.NameKey(a.Name), store.NameKey(b.Name)), strings.Compare(a.ClientID, b.ClientID))
		}
		if q.Desc {
			return -c
		}
		return c
	})
	for _, a := range sorted {
		if store.MatchesSearch(a, term) && (q.Owner == "" || a.Owner == q.Owner) {
			want = append(want, a.Name)
		}
	}
	q.Limit = 3
	var got []string
	var pages []store.AppPage
	for {
		p, err := s.SearchApplications(ctx, q)
		if err != nil {
			t.Fatalf("SearchApplications(%+v): %v", q, err)
		}
		if len(pages) > 10 || p.Capped {
			t.Fatalf("SearchApplications(%+v): %d pages, capped %v", q, len(pages), p.Capped)
		}
		if (len(pages) == 0) != (p.Prev == "") {
			t.Errorf("%+v: page %d has Prev %q", q, len(pages), p.Prev)
		}
		pages = append(pages, p)
		for _, a := range p.Apps {
			got = append(got, a.Name)
		}
		if p.Next == "" {
			break
		}
		q.After = p.Next
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("%+v forwards:\n got  %q\n want %q", q, got, want)
	}
	// Back from the last page: the same pages, in reverse.
	q.After = ""
	for i := len(pages) - 1; i > 0; i-- {
		q.Before = pages[i].Prev
		p, err := s.SearchApplications(ctx, q)
		if err != nil {
			t.Fatalf("SearchApplications(%+v): %v", q, err)
		}
		if names(p.Apps) != names(pages[i-1].Apps) || p.Next == "" || (i > 1) != (p.Prev != "") {
			t.Errorf("%+v back to page %d: %s (prev %q, next %q), want %s", q, i-1, names(p.Apps), p.Prev, p.Next, names(pages[i-1].Apps))
		}
	}
}

func names(list []store.Application) string {
	var out []string
	for _, a := range list {
		out = append(out, a.Name)
	}
	return strings.Join(out, ", ")
}

// testIssuedOverall: tokens count at once in the hour's total and the top
// applications, busiest first.
func testIssuedOverall(t *testing.T, s Backend) {
	ctx := context.Background()
	busy, quiet := newApp(t), newApp(t)
	mustCreate(t, s, busy)
	mustCreate(t, s, quiet)
	for i, a := range []store.Application{busy, busy, busy, quiet} {
		tok := newToken(a, time.Hour)
		if err := s.CreateToken(ctx, refOf(tok, fmt.Sprint("o", i)), tok); err != nil {
			t.Fatal(err)
		}
	}
	sum, err := s.IssuedOverall(ctx, 24, 1, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if len(sum.PerHour) != 24 || sum.PerHour[23] != 4 {
		t.Errorf("per hour %v, want 24 hours ending with 4", sum.PerHour)
	}
	if len(sum.Top) != 1 || sum.Top[0] != (store.AppIssued{ClientID: busy.ClientID, Issued: 3}) {
		t.Errorf("top %+v, want %s with 3", sum.Top, busy.ClientID)
	}
}
