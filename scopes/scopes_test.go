package scopes

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		in      string
		want    []string
		wantErr bool
	}{
		{"", nil, false},
		{"   ", nil, false},
		{"sms", []string{"sms"}, false},
		{"sms groups", []string{"sms", "groups"}, false},
		{"groups sms groups", []string{"groups", "sms"}, false},
		{"  sms   groups ", []string{"sms", "groups"}, false},
		{"messages:send", []string{"messages:send"}, false},
		{"a!#[]~", []string{"a!#[]~"}, false}, // RFC grammar allows these
		{"sms\tgroups", nil, true},            // only %x20 separates
		{`sm"s`, nil, true},
		{`sm\s`, nil, true},
		{"smsé", nil, true},
		{"sms\x00", nil, true},
		{strings.Repeat("a", MaxLen+1), nil, true},
	}
	for _, tt := range tests {
		got, err := Parse(tt.in)
		if (err != nil) != tt.wantErr {
			t.Errorf("Parse(%q) error = %v, wantErr %v", tt.in, err, tt.wantErr)
			continue
		}
		if err != nil && !errors.Is(err, ErrSyntax) {
			t.Errorf("Parse(%q) error %v is not ErrSyntax", tt.in, err)
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Parse(%q) = %#v, want %#v", tt.in, got, tt.want)
		}
	}
}

func TestValidName(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"sms", true},
		{"messages:send", true},
		{"tokens:introspect", true},
		{"a1_b-c.d", true},
		{"", false},
		{"SMS", false},
		{"1sms", false},
		{"sms:", false},
		{":send", false},
		{"a:b:c", false},
		{"sms groups", false},
		{"sms/send", false},
	}
	for _, tt := range tests {
		if got := ValidName(tt.in); got != tt.want {
			t.Errorf("ValidName(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestMissingAndIntersect(t *testing.T) {
	tests := []struct {
		req, allowed, missing, both []string
	}{
		{nil, []string{"sms"}, nil, []string{}},
		{[]string{"sms"}, []string{"sms", "groups"}, nil, []string{"sms"}},
		{[]string{"groups", "sms", "viber"}, []string{"sms"}, []string{"groups", "viber"}, []string{"sms"}},
		{[]string{"sms"}, nil, []string{"sms"}, []string{}},
	}
	for _, tt := range tests {
		if got := Missing(tt.req, tt.allowed); !reflect.DeepEqual(got, tt.missing) {
			t.Errorf("Missing(%v, %v) = %#v, want %#v", tt.req, tt.allowed, got, tt.missing)
		}
		if got := Intersect(tt.req, tt.allowed); !reflect.DeepEqual(got, tt.both) {
			t.Errorf("Intersect(%v, %v) = %#v, want %#v", tt.req, tt.allowed, got, tt.both)
		}
	}
}

func TestFormatRoundTrip(t *testing.T) {
	in := []string{"sms", "messages:send", "groups"}
	got, err := Parse(Format(in))
	if err != nil || !reflect.DeepEqual(got, in) {
		t.Fatalf("Parse(Format(%v)) = %v, %v", in, got, err)
	}
}

func TestCatalogue(t *testing.T) {
	def, err := NewCatalogue(DefaultScopes())
	if err != nil {
		t.Fatalf("default catalogue does not validate: %v", err)
	}
	if !reflect.DeepEqual(def.Names(), Default().Names()) {
		t.Fatal("Default() differs from NewCatalogue(DefaultScopes())")
	}
	for _, name := range []string{"sms", "viber", "whatsapp", "multichannel", "conversations", "reports", "groups",
		"originators", "templates", "shortlinks", "attachments", "optouts", "account", "applications", "numbers"} {
		if !def.Has(name) {
			t.Errorf("default catalogue lacks %q", name)
		}
	}
	if err := def.Check([]string{"sms", "groups"}); err != nil {
		t.Errorf("Check(known) = %v", err)
	}
	err = def.Check([]string{"sms", "smss", "bogus"})
	if err == nil || !strings.Contains(err.Error(), "smss, bogus") {
		t.Errorf("Check(unknown) = %v, want an error naming smss and bogus", err)
	}

	bad := []struct {
		name string
		list []Scope
	}{
		{"empty", nil},
		{"bad name", []Scope{{Name: "Bad Name"}}},
		{"duplicate", []Scope{{Name: "sms"}, {Name: "sms"}}},
	}
	for _, tt := range bad {
		if _, err := NewCatalogue(tt.list); err == nil {
			t.Errorf("NewCatalogue(%s) accepted %v", tt.name, tt.list)
		}
	}

	// Scopes returns a copy: editing it must not change the catalogue.
	s := def.Scopes()
	s[0].Name = "changed"
	if def.Has("changed") {
		t.Error("Scopes() exposed the catalogue's backing array")
	}
}
