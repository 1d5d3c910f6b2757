// Package scopes parses, formats and checks OAuth 2.0 scopes (RFC 6749 §3.3)
// and holds the catalogue of scopes an operator may grant to applications.
// An application may also hold forms that stand for several catalogued
// scopes (all:any, sms:*); tokens carry the concrete scopes they expand
// to, so resource servers never meet a form.
//
// Every function here is pure: no I/O, no globals. The token endpoint, the
// admin API and the resource-server middleware all use the same rules.
package scopes

import (
	"errors"
	"fmt"
	"strings"
)

// MaxLen bounds a single scope name. RFC 6749 sets no limit; a bound keeps
// hostile input from costing memory and keeps log lines short.
const MaxLen = 128

// ErrSyntax is returned (wrapped) when a scope string breaks the RFC 6749 §3.3
// grammar or oauthd's naming rule.
var ErrSyntax = errors.New("malformed scope")

// ValidToken reports whether s is a scope-token as RFC 6749 §3.3 defines it:
// one or more characters from %x21 / %x23-5B / %x5D-7E (printable ASCII except
// space, double quote and backslash).
func ValidToken(s string) bool {
	if s == "" || len(s) > MaxLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x21 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// ValidName reports whether s is a name oauthd accepts into a catalogue:
// a plain name ("sms") or a resource:action pair ("messages:send"), each part
// starting with a lower-case letter and made of lower-case letters, digits,
// '_', '-' and '.'. Names are stricter than RFC scope-tokens so that they read
// well in URLs, logs and shell commands.
func ValidName(s string) bool {
	if !ValidToken(s) {
		return false
	}
	resource, action, pair := strings.Cut(s, ":")
	if !validPart(resource) {
		return false
	}
	return !pair || validPart(action)
}

func validPart(p string) bool {
	if p == "" || p[0] < 'a' || p[0] > 'z' {
		return false
	}
	for i := 1; i < len(p); i++ {
		c := p[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '_', c == '-', c == '.':
		default:
			return false
		}
	}
	return true
}

// Parse splits a space-delimited scope parameter into scope-tokens, dropping
// duplicates and keeping the first occurrence's order. Runs of spaces are
// tolerated (some clients join with two), every other deviation from the
// RFC 6749 §3.3 grammar is an error naming the offending token. An empty or
// all-space string yields nil.
func Parse(s string) ([]string, error) {
	if s == "" {
		return nil, nil
	}
	var out []string
	for rest := s; rest != ""; {
		var tok string
		tok, rest, _ = strings.Cut(rest, " ")
		if tok == "" {
			continue
		}
		if !ValidToken(tok) {
			return nil, fmt.Errorf("%w: %q is not a valid scope-token (RFC 6749 §3.3)", ErrSyntax, truncate(tok))
		}
		if !contains(out, tok) {
			out = append(out, tok)
		}
	}
	return out, nil
}

// Format joins scopes with single spaces, the wire form of RFC 6749 §3.3.
func Format(list []string) string { return strings.Join(list, " ") }

// Missing returns the members of requested that allowed lacks, in request
// order. An empty result means requested is a subset of allowed.
func Missing(requested, allowed []string) []string {
	var out []string
	for _, r := range requested {
		if !contains(allowed, r) {
			out = append(out, r)
		}
	}
	return out
}

// Intersect returns the members of a that are also in b, in a's order: a
// itself when all of them are.
func Intersect(a, b []string) []string {
	if len(a) > 0 && Missing(a, b) == nil {
		return a // the common case (nothing narrowed): no copy
	}
	out := make([]string, 0, len(a))
	for _, s := range a {
		if contains(b, s) {
			out = append(out, s)
		}
	}
	return out
}

// Linear search on purpose: scope lists are a handful of short strings, where
// a map would cost more to build than it saves.
func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func truncate(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}
