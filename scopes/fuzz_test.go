package scopes

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

// FuzzParseFormat: Parse never panics; what it accepts is a list of
// distinct, valid scope-tokens, and Format of that list parses back to the
// same list (the wire form round-trips). What it refuses is ErrSyntax.
func FuzzParseFormat(f *testing.F) {
	for _, s := range []string{
		"", " ", "sms", "sms groups", "  sms   groups ", "groups sms groups",
		"messages:send tokens:introspect", "a!#[]~", "sms\tgroups", `sm"s`, `sm\s`,
		"smsé", "sms\x00", strings.Repeat("a", MaxLen), strings.Repeat("a", MaxLen+1),
		"\xff", "sms \x7f",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		list, err := Parse(s)
		if err != nil {
			if !errors.Is(err, ErrSyntax) {
				t.Fatalf("Parse(%q) error %v is not ErrSyntax", s, err)
			}
			if list != nil {
				t.Fatalf("Parse(%q) returned %q with an error", s, list)
			}
			return
		}
		for i, tok := range list {
			if !ValidToken(tok) {
				t.Fatalf("Parse(%q) accepted invalid token %q", s, tok)
			}
			if slices.Contains(list[:i], tok) {
				t.Fatalf("Parse(%q) returned %q twice", s, tok)
			}
			if !strings.Contains(" "+s+" ", " "+tok+" ") {
				t.Fatalf("Parse(%q) returned %q, which is not one of its tokens", s, tok)
			}
		}
		wire := Format(list)
		again, err := Parse(wire)
		if err != nil || !slices.Equal(again, list) {
			t.Fatalf("Parse(Format(Parse(%q))) = %q, %v; want %q", s, again, err, list)
		}
		if Format(again) != wire {
			t.Fatalf("Format is not stable: %q then %q", wire, Format(again))
		}
	})
}
