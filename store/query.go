package store

import (
	"strconv"
	"strings"
	"time"
	"unicode"
)

// AppSort is the order of a search (Applications.SearchApplications).
type AppSort string

// The orders a backend keeps an index for. Last use is not one: it
// changes with every token, and an index of it would cost a write on the
// token path.
const (
	// SortCreated is creation order, ties broken by client_id.
	SortCreated AppSort = "created"
	// SortName is by name, case-insensitively, ties broken by client_id.
	SortName AppSort = "name"
)

// MaxSearchMatches bounds what one search reads when it cannot walk an
// index in the order asked (a search term, or an owner's applications by
// name): at most this many applications are matched, sorted and paged.
// A search matching more says so (AppPage.Capped).
const MaxSearchMatches = 2000

// AppQuery selects and orders applications (SearchApplications). Zero
// fields select every application in creation order.
type AppQuery struct {
	// Search keeps the applications whose name has a word starting with
	// it, or whose client_id starts with it, case-insensitively (see
	// SearchKeys). It may run on across words: "daemon-2" finds
	// "sms-daemon-2".
	Search string
	// Owner keeps one owner's applications.
	Owner string
	// Sort is SortCreated ("" too) or SortName; Desc reverses it.
	Sort AppSort
	Desc bool
	// After asks for the page after a cursor, Before for the page before
	// one (at most one of them); neither, the first page.
	After, Before string
	// Limit is the page size.
	Limit int
}

// AppPage is a page of a search.
type AppPage struct {
	Apps []Application
	// Prev and Next are the cursors of the pages before and after this
	// one, for AppQuery.Before and AppQuery.After; "" when there is none.
	Prev, Next string
	// Capped reports a search that matched more than MaxSearchMatches
	// applications: it pages through the first MaxSearchMatches it found
	// (by the index's order, not the one asked), so the query should be
	// narrowed.
	Capped bool
}

// SearchTerm is a search as the index compares it: trimmed, lower-cased,
// without control characters.
func SearchTerm(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return -1
		}
		return unicode.ToLower(r)
	}, strings.TrimSpace(s))
}

// maxWordStarts bounds the words of a name that are indexed: a name is at
// most 100 bytes, and a search seldom starts past its sixteenth word.
const maxWordStarts = 16

// SearchKeys are the strings a search term must be a prefix of to find
// the application: its lower-cased client_id, and its lower-cased name
// from the start of each word. A word starts after a character that is
// neither letter nor digit, where letters turn to digits or back
// ("daemon2"), and at an upper-case letter after a lower-case one
// ("smsDaemon"). So a search finds a name by any word, and may run on
// across words; it does not find the middle of a word ("emon").
func SearchKeys(a Application) []string {
	keys := []string{strings.ToLower(a.ClientID)}
	name := a.Name
	var prev rune
	for i, r := range name {
		if len(keys) > maxWordStarts {
			break
		}
		if i == 0 || startsWord(prev, r) {
			keys = append(keys, SearchTerm(name[i:]))
		}
		prev = r
	}
	return keys
}

func startsWord(prev, r rune) bool {
	alnum := func(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }
	switch {
	case !alnum(r):
		return false
	case !alnum(prev):
		return true
	case unicode.IsDigit(prev) != unicode.IsDigit(r):
		return true
	}
	return unicode.IsLower(prev) && unicode.IsUpper(r)
}

// MatchesSearch reports whether a search term (SearchTerm's form) finds a.
func MatchesSearch(a Application, term string) bool {
	if term == "" {
		return true
	}
	for _, k := range SearchKeys(a) {
		if strings.HasPrefix(k, term) {
			return true
		}
	}
	return false
}

// NameKey is the name as SortName orders it.
func NameKey(name string) string { return strings.ToLower(name) }

// IssuedSummary is the token issue of every application together, per
// hour (UsageCounts.IssuedOverall).
type IssuedSummary struct {
	// PerHour counts the tokens issued in each hour, oldest first, the
	// last one for now's hour.
	PerHour []int64
	// Top are the applications issued the most tokens over those hours,
	// most first.
	Top []AppIssued
}

// AppIssued is how many tokens an application was issued.
type AppIssued struct {
	ClientID string
	Issued   int64
}

// EventsBefore is a ListEvents cursor that starts at t: the events older
// than it come first. Event ids are "<ms>-<seq>" (FeedIDLess).
func EventsBefore(t time.Time) string {
	return strconv.FormatInt(t.UnixMilli(), 10) + "-0"
}
