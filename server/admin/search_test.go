package admin

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/oauthd/oauthd/server/admin/adminapi"
	"github.com/oauthd/oauthd/server/apps"
)

// GET /applications searches every application, not one page (issue 20
// item 4: "daemon-2" showed 4 of 10 matches on a page of 25), sorts by
// name both ways, and pages back with prev_cursor.
func TestListSearchSortAndPageBack(t *testing.T) {
	env, c, _ := newClientEnv(t)
	ctx := apps.WithActor(context.Background(), apps.Actor{Name: "test"})
	for i := range 40 {
		name := fmt.Sprintf("filler-%02d", i)
		if i%4 == 0 {
			name = fmt.Sprintf("sms-daemon-2%02d", i)
		}
		if _, _, err := env.apps.Create(ctx, apps.NewApplication{Name: name, Scopes: []string{"sms"}, Owner: fmt.Sprint("acct_", i%2)}); err != nil {
			t.Fatal(err)
		}
	}
	all := func(f adminapi.ApplicationFilter) (names []string, pages []adminapi.ApplicationList) {
		t.Helper()
		cursor := ""
		for {
			l, err := c.ListApplications(context.Background(), f, 3, cursor)
			if err != nil {
				t.Fatal(err)
			}
			pages = append(pages, l)
			for _, a := range l.Applications {
				names = append(names, a.Name)
			}
			if cursor = l.NextCursor; cursor == "" {
				return names, pages
			}
		}
	}
	names, pages := all(adminapi.ApplicationFilter{Search: "DAEMON-2", Sort: "name", Desc: true})
	if len(names) != 10 || names[0] != "sms-daemon-236" || names[9] != "sms-daemon-200" {
		t.Fatalf("daemon-2 by name, descending: %v", names)
	}
	// Back from the last page with prev_cursor: the same pages.
	for i := len(pages) - 1; i > 0; i-- {
		l, err := c.ListApplications(context.Background(), adminapi.ApplicationFilter{Search: "daemon-2", Sort: "name", Desc: true, Before: pages[i].PrevCursor}, 3, "")
		if err != nil || fmt.Sprint(l.Applications) != fmt.Sprint(pages[i-1].Applications) {
			t.Fatalf("back to page %d: %v, %v", i-1, l.Applications, err)
		}
	}
	if names, _ := all(adminapi.ApplicationFilter{Owner: "acct_1", Sort: "name"}); len(names) != 20 || names[0] != "filler-01" {
		t.Errorf("acct_1 by name: %v", names)
	}
	// The older name filter still works, as search.
	if names, _ := all(adminapi.ApplicationFilter{Name: "sms"}); len(names) != 10 {
		t.Errorf("name=sms: %v", names)
	}
	for _, q := range []struct {
		f      adminapi.ApplicationFilter
		cursor string
	}{{f: adminapi.ApplicationFilter{Sort: "size"}}, {cursor: "bad"}, {f: adminapi.ApplicationFilter{Search: strings.Repeat("x", 101)}},
		{f: adminapi.ApplicationFilter{Sort: "created"}, cursor: pages[0].NextCursor}} { // a name cursor
		if _, err := c.ListApplications(context.Background(), q.f, 3, q.cursor); err == nil || !strings.Contains(err.Error(), "invalid_request") {
			t.Errorf("%+v, cursor %q: %v, want invalid_request", q.f, q.cursor, err)
		}
	}
}
