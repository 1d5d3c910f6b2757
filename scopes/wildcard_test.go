package scopes

import (
	"reflect"
	"strings"
	"testing"
)

// smsgate is a resource:action catalogue like the SMSGate customer's
// seed, with the reserved scopes.
func smsgate(t *testing.T) *Catalogue {
	t.Helper()
	c, err := NewCatalogue([]Scope{
		{Name: "sms:send"}, {Name: "sms:read"}, {Name: "viber:send"}, {Name: "reports"},
		{Name: Admin}, {Name: All, Description: "everything"}, {Name: "smsx:send"},
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestIsForm(t *testing.T) {
	for s, want := range map[string]bool{
		"all:any": true, "sms:*": true, "a1-b.c_d:*": true,
		"sms": false, "sms:send": false, "*": false, ":*": false, "SMS:*": false, "sms:*:x": false, "sms*": false, "all:*": true,
	} {
		if got := IsForm(s); got != want {
			t.Errorf("IsForm(%q) = %v, want %v", s, got, want)
		}
	}
}

func TestCovers(t *testing.T) {
	tests := []struct {
		held []string
		s    string
		want bool
	}{
		{[]string{"sms:send"}, "sms:send", true},
		{[]string{"sms:send"}, "sms:read", false},
		{[]string{"sms:*"}, "sms:send", true},
		{[]string{"sms:*"}, "sms", false},        // a plain name is no action of sms
		{[]string{"sms:*"}, "smsx:send", false},  // another resource sharing a prefix
		{[]string{"sms:*"}, "viber:send", false}, // another resource
		{[]string{"all:any"}, "viber:send", true},
		{[]string{"all:any"}, "reports", true},
		// Reserved scopes are reached by their name only.
		{[]string{"all:any"}, Admin, false},
		{[]string{"all:any"}, Introspect, false},
		{[]string{"tokens:*"}, Introspect, false},
		{[]string{Introspect}, Introspect, true},
		// A form is covered by itself, and a group by all:any.
		{[]string{"sms:*"}, "sms:*", true},
		{[]string{"all:any"}, "sms:*", true},
		{[]string{"sms:send", "sms:read"}, "sms:*", false},
		{[]string{"sms:*"}, "all:any", false},
		{[]string{"all:any"}, "all:any", true},
		{nil, "sms", false},
	}
	for _, tt := range tests {
		if got := Covers(tt.held, tt.s); got != tt.want {
			t.Errorf("Covers(%v, %q) = %v, want %v", tt.held, tt.s, got, tt.want)
		}
	}
}

func TestHeld(t *testing.T) {
	tests := []struct {
		granted, held, want []string
	}{
		{[]string{"sms:send", "reports"}, []string{"sms:*", "reports"}, []string{"sms:send", "reports"}},
		{[]string{"sms:send", "reports"}, []string{"reports"}, []string{"reports"}},
		{[]string{"sms:send", "viber:send"}, []string{"all:any"}, []string{"sms:send", "viber:send"}},
		{[]string{"sms:send", Introspect}, []string{"all:any"}, []string{"sms:send"}},
		{[]string{"sms"}, nil, []string{}},
	}
	for _, tt := range tests {
		if got := Held(tt.granted, tt.held); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Held(%v, %v) = %#v, want %#v", tt.granted, tt.held, got, tt.want)
		}
	}
}

func TestCatalogueForms(t *testing.T) {
	c := smsgate(t)
	if c.Has(All) {
		t.Error("all:any in a seed became a catalogue entry; it is a form")
	}
	if got := strings.Join(c.Forms(), " "); got != "sms:* viber:* smsx:* all:any" {
		t.Errorf("Forms() = %q", got)
	}
	if err := c.Check([]string{"sms:*", "all:any", "reports", Admin}); err != nil {
		t.Errorf("Check(forms) = %v", err)
	}
	// A group the catalogue has no action of, a form of no kind, a
	// reserved-only group: none may be held.
	for _, bad := range []string{"email:*", "*", "sms:**", "tokens:*", "sms"} {
		if err := c.Check([]string{bad}); err == nil || !strings.Contains(err.Error(), bad) {
			t.Errorf("Check(%q) = %v, want an error naming it", bad, err)
		}
	}
}

func TestExpand(t *testing.T) {
	c := smsgate(t)
	tests := []struct {
		held, want []string
	}{
		{[]string{"reports"}, []string{"reports"}},
		{[]string{"sms:*"}, []string{"sms:send", "sms:read"}},
		{[]string{"reports", "sms:*", "sms:send"}, []string{"reports", "sms:send", "sms:read"}},
		{[]string{"all:any"}, []string{"sms:send", "sms:read", "viber:send", "reports", "smsx:send"}},
		{[]string{"all:any", Admin}, []string{"sms:send", "sms:read", "viber:send", "reports", "smsx:send", Admin}},
		{[]string{Introspect, "sms:*"}, []string{Introspect, "sms:send", "sms:read"}},
		// A name deleted from the catalogue grants nothing.
		{[]string{"reports", "viber"}, []string{"reports"}},
		{[]string{"email:*"}, []string{}},
	}
	for _, tt := range tests {
		if got := c.Expand(tt.held); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Expand(%v) = %#v, want %#v", tt.held, got, tt.want)
		}
	}
}

func TestGrant(t *testing.T) {
	c := smsgate(t)
	tests := []struct {
		held, requested, granted, refused []string
	}{
		// No scope asked for: everything held, expanded.
		{[]string{"sms:*", "reports"}, nil, []string{"sms:send", "sms:read", "reports"}, nil},
		{[]string{"all:any"}, nil, []string{"sms:send", "sms:read", "viber:send", "reports", "smsx:send"}, nil},
		// A scope held literally or through a form.
		{[]string{"sms:*"}, []string{"sms:send"}, []string{"sms:send"}, nil},
		{[]string{"all:any"}, []string{"viber:send", "reports"}, []string{"viber:send", "reports"}, nil},
		{[]string{"reports"}, []string{"reports"}, []string{"reports"}, nil},
		// A form asked for, held or reached through all:any, expanded.
		{[]string{"sms:*"}, []string{"sms:*"}, []string{"sms:send", "sms:read"}, nil},
		{[]string{"all:any"}, []string{"sms:*", "reports"}, []string{"sms:send", "sms:read", "reports"}, nil},
		// Refused: not held, not catalogued, a form not held, reserved
		// through a form.
		{[]string{"sms:*"}, []string{"viber:send", "sms:send"}, nil, []string{"viber:send"}},
		{[]string{"sms:send", "sms:read"}, []string{"sms:*"}, nil, []string{"sms:*"}},
		{[]string{"sms:*", "viber"}, []string{"viber"}, nil, []string{"viber"}},
		{[]string{"all:any"}, []string{Admin}, nil, []string{Admin}},
		{[]string{"all:any"}, []string{"email:*"}, nil, []string{"email:*"}},
		{[]string{"sms:*"}, []string{"all:any"}, nil, []string{"all:any"}},
	}
	for _, tt := range tests {
		granted, refused := c.Grant(tt.held, tt.requested)
		if !reflect.DeepEqual(granted, tt.granted) || !reflect.DeepEqual(refused, tt.refused) {
			t.Errorf("Grant(%v, %v) = %#v, %#v; want %#v, %#v", tt.held, tt.requested, granted, refused, tt.granted, tt.refused)
		}
	}
}

// The token path: an application holding no form costs no allocation,
// with or without a scope parameter, and gets its own slice back.
func TestGrantWithoutFormsAllocatesNothing(t *testing.T) {
	c := Default()
	held := []string{"sms", "groups", "reports"}
	requested := []string{"groups"}
	if allocs := testing.AllocsPerRun(100, func() {
		c.Grant(held, nil)
		c.Grant(held, requested)
		c.Filter(held)
		Held(requested, held)
	}); allocs != 0 {
		t.Errorf("%v allocations per token request", allocs)
	}
	if got, _ := c.Grant(held, nil); &got[0] != &held[0] {
		t.Error("Grant copied the application's scopes")
	}
}

func TestFilter(t *testing.T) {
	c := smsgate(t)
	if got := c.Filter([]string{"sms:send", "viber", "reports"}); !reflect.DeepEqual(got, []string{"sms:send", "reports"}) {
		t.Errorf("Filter = %v", got)
	}
}

func TestDiff(t *testing.T) {
	from := []Scope{{"sms", "Send SMS"}, {"viber", "Viber"}, {"reports", "old"}}
	to := []Scope{{"sms", "Send SMS"}, {"reports", "new"}, {"numbers", "Look up"}}
	added, removed, changed := Diff(from, to)
	if !reflect.DeepEqual(added, []Scope{{"numbers", "Look up"}}) || !reflect.DeepEqual(removed, []Scope{{"viber", "Viber"}}) ||
		!reflect.DeepEqual(changed, []Scope{{"reports", "new"}}) {
		t.Errorf("Diff = +%v -%v ~%v", added, removed, changed)
	}
	if a, r, c := Diff(to, to); a != nil || r != nil || c != nil {
		t.Errorf("Diff of equal catalogues = %v %v %v", a, r, c)
	}
}
