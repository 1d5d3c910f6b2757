package scopes

import "strings"

// All is the form an application holds to be granted every catalogued
// scope but the reserved ones: the whole catalogue, as it is when a token
// is issued. It is always valid and never a catalogue entry.
const All = "all:any"

// groupSuffix ends a group form, "resource:*": every catalogued
// "resource:<action>" scope but the reserved ones. It is valid while the
// catalogue has at least one such scope.
const groupSuffix = ":*"

// Reserved reports whether s is a reserved scope: applications (the
// admin API) and tokens:introspect (introspection and the revocation
// feed). A reserved scope is granted by its name only: no form reaches
// it (tokens:* does not include tokens:introspect), and delegated
// administration never grants it.
func Reserved(s string) bool { return s == Admin || s == Introspect }

// IsForm reports whether s is a form that stands for several scopes,
// All or a group "resource:*", rather than a scope.
func IsForm(s string) bool {
	_, ok := group(s)
	return ok || s == All
}

// group returns the resource of a group form "resource:*" (a valid
// resource name), and whether s is one.
func group(s string) (string, bool) {
	resource, ok := strings.CutSuffix(s, groupSuffix)
	return resource, ok && validPart(resource)
}

// covers reports whether the single held entry h grants the concrete
// scope s: h is s itself, or a form that reaches s (never a reserved s).
func covers(h, s string) bool {
	if h == s {
		return true
	}
	if Reserved(s) {
		return false
	}
	if h == All {
		return true
	}
	resource, ok := group(h)
	return ok && len(s) > len(resource)+1 && s[len(resource)] == ':' && strings.HasPrefix(s, resource)
}

// Covers reports whether an application holding held may be granted s:
// it holds s itself, or a form that reaches it. For a form s, held must
// hold s or a wider form: All for a group. Pure string matching: whether
// s is catalogued is the Catalogue's question.
func Covers(held []string, s string) bool {
	form := IsForm(s)
	for _, h := range held {
		switch {
		case h == s, form && h == All:
			return true
		case !form && covers(h, s):
			return true
		}
	}
	return false
}

// Held returns the members of granted that held still covers, in
// granted's order: granted itself when all of them are (no copy, the
// common case). Introspection narrows a token's scopes with it to what
// its application holds now.
func Held(granted, held []string) []string {
	keep := 0
	for _, g := range granted {
		if Covers(held, g) {
			keep++
		}
	}
	if keep == len(granted) {
		return granted
	}
	out := make([]string, 0, keep)
	for _, g := range granted {
		if Covers(held, g) {
			out = append(out, g)
		}
	}
	return out
}
