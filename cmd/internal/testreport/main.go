// Command testreport is make test's reader of `go test -json`: it prints
// what plain `go test` would (a line per package, the output of failed
// tests and of failed packages), then the slowest packages, then a NOTE
// for every part of the suite that did not run: each distinct reason a
// test skipped itself (redis-server, a browser, make, curl missing) with
// how many tests it cost, and each "NOTE:" a test logged (axe-core
// missing). A skip is otherwise silent without -v, so a missing tool could
// pass unnoticed. It exits 1 if a package failed.
//
//	go test -json ./... | testreport
package main

import (
	"bufio"
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strings"
)

func main() {
	failed, err := report(os.Stdin, os.Stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "testreport:", err)
		os.Exit(2)
	}
	if failed {
		os.Exit(1)
	}
}

// event is one line of `go test -json` (cmd/test2json).
type event struct {
	Action  string
	Package string
	Test    string
	Output  string
	Elapsed float64
	// ImportPath is a build-output event's package.
	ImportPath string
}

// logPrefix is how testing prefixes a logged line: "    file_test.go:42: ".
var logPrefix = regexp.MustCompile(`^\s*[\w.-]+\.go:\d+: `)

// report reads the events from r and writes the report to w; failed says
// whether a package (or its build) failed.
func report(r io.Reader, w io.Writer) (failed bool, err error) {
	type key struct{ pkg, test string }
	outputs := map[key][]string{}
	skips := map[string][]string{} // reason → the tests it skipped
	var notes []string
	var elapsed []event
	sc := bufio.NewScanner(r)
	sc.Buffer(nil, 4<<20)
	for sc.Scan() {
		var e event
		if json.Unmarshal(sc.Bytes(), &e) != nil {
			fmt.Fprintln(w, sc.Text()) // not an event: go test's own words
			continue
		}
		k := key{e.Package, e.Test}
		switch e.Action {
		case "build-output":
			fmt.Fprint(w, e.Output)
		case "build-fail":
			failed = true
		case "output":
			outputs[k] = append(outputs[k], e.Output)
			if _, note, ok := strings.Cut(e.Output, "NOTE: "); ok && e.Test != "" && !slices.Contains(notes, strings.TrimSpace(note)) {
				notes = append(notes, strings.TrimSpace(note))
			}
		case "skip":
			if e.Test != "" {
				reason := skipReason(outputs[k])
				skips[reason] = append(skips[reason], strings.TrimPrefix(e.Package, "github.com/oauthd/oauthd/")+" "+e.Test)
			} else {
				printPackage(w, outputs[k], false)
			}
			delete(outputs, k)
		case "fail":
			if e.Test != "" {
				printTest(w, outputs[k])
			} else {
				failed = true
				printPackage(w, outputs[k], true)
				elapsed = append(elapsed, e)
			}
			delete(outputs, k)
		case "pass":
			if e.Test == "" {
				printPackage(w, outputs[k], false)
				elapsed = append(elapsed, e)
			}
			delete(outputs, k)
		}
	}
	if err := sc.Err(); err != nil {
		return failed, err
	}
	slices.SortStableFunc(elapsed, func(a, b event) int { return cmp.Compare(b.Elapsed, a.Elapsed) })
	fmt.Fprintln(w, "Slowest packages:")
	for _, e := range elapsed[:min(5, len(elapsed))] {
		fmt.Fprintf(w, "%8.1fs  %s\n", e.Elapsed, e.Package)
	}
	reasons := make([]string, 0, len(skips))
	for r := range skips {
		reasons = append(reasons, r)
	}
	slices.SortFunc(reasons, func(a, b string) int { return cmp.Or(cmp.Compare(len(skips[b]), len(skips[a])), cmp.Compare(a, b)) })
	for _, r := range reasons {
		tests := skips[r]
		fmt.Fprintf(w, "NOTE: %d %s SKIPPED: %s (%s%s)\n", len(tests), plural(len(tests), "test", "tests"), r, tests[0], more(len(tests)-1))
	}
	for _, n := range notes {
		fmt.Fprintf(w, "NOTE: %s\n", n)
	}
	return failed, nil
}

// skipReason is the last line a skipped test logged, the message of its
// t.Skip, without testing's file:line prefix.
func skipReason(lines []string) string {
	for _, l := range slices.Backward(lines) {
		l = strings.TrimRight(l, "\n")
		if t := strings.TrimSpace(l); t == "" || strings.HasPrefix(t, "=== ") || strings.HasPrefix(t, "--- ") {
			continue
		}
		return strings.TrimSpace(logPrefix.ReplaceAllString(l, ""))
	}
	return "no reason given"
}

// printTest prints a failed test's output, as go test does without -v.
func printTest(w io.Writer, lines []string) {
	for _, l := range lines {
		if !strings.HasPrefix(l, "=== ") {
			fmt.Fprint(w, l)
		}
	}
}

// printPackage prints a package's own lines: only its summary ("ok",
// "?") when it passed; everything (panics, TestMain's words) when it
// failed.
func printPackage(w io.Writer, lines []string, failed bool) {
	for _, l := range lines {
		if failed || strings.HasPrefix(l, "ok  \t") || strings.HasPrefix(l, "?   \t") {
			fmt.Fprint(w, l)
		}
	}
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

func more(n int) string {
	if n == 0 {
		return ""
	}
	return fmt.Sprintf(" and %d more", n)
}
