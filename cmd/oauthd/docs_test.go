package main

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/oauthd/oauthd/store/redis/redistest"
)

// Every test docs/security.md's threat table names exists: a row's proof
// must not silently point at a test that was renamed or removed.
func TestSecurityDocTestsExist(t *testing.T) {
	t.Parallel()
	doc, err := os.ReadFile("../../docs/security.md")
	if err != nil {
		t.Fatal(err)
	}
	defined := map[string]bool{}
	decl := regexp.MustCompile(`(?m)^func ((?:Test|Fuzz|Benchmark)\w+)\(`)
	err = filepath.WalkDir("../..", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "node_modules" || strings.HasPrefix(d.Name(), ".")) && path != "../.." {
			return filepath.SkipDir
		}
		if !strings.HasSuffix(path, "_test.go") {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range decl.FindAllSubmatch(b, -1) {
			defined[string(m[1])] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	named := regexp.MustCompile(`\b((?:Test|Fuzz)[A-Z]\w+)`)
	rows := 0
	for _, line := range strings.Split(string(doc), "\n") {
		if !strings.HasPrefix(line, "|") {
			continue
		}
		rows++
		for _, m := range named.FindAllStringSubmatch(line, -1) {
			if !defined[m[1]] {
				t.Errorf("docs/security.md names %s, which no test defines:\n%s", m[1], line)
			}
		}
	}
	if rows < 10 {
		t.Fatalf("only %d table rows read from docs/security.md", rows)
	}
}

// The README's Redis quick start, run: its admin-key line comes before
// serve and sets, as eval would, the digest serve accepts and the key the
// CLI's --endpoint sends, so the running server's admin API works at once.
func TestReadmeRedisQuickStart(t *testing.T) {
	t.Parallel()
	block := readmeBlock(t, "point it at Redis:\n\n```sh\n")
	const evalLine = `eval "$(oauthd admin-key | grep '^export')"`
	key, serve := strings.Index(block, evalLine), strings.Index(block, "oauthd serve")
	if key < 0 || serve < 0 || key > serve {
		t.Fatalf("the Redis quick start does not set an admin key before oauthd serve:\n%s", block)
	}

	rs := startScannedRedis(t, redistest.Real)
	env := map[string]string{"OAUTHD_REDIS_URL": rs.URL}
	out, err := runCLI(t, nil, "admin-key")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(out, "\n") {
		if name, value, ok := strings.Cut(strings.TrimPrefix(line, "export "), "="); ok && strings.HasPrefix(line, "export ") {
			env[name] = value
		}
	}
	if env["OAUTHD_ADMIN_KEY_SHA256"] == "" || !strings.HasPrefix(env["OAUTHD_ADMIN_KEY"], "oadm_") {
		t.Fatalf("admin-key's export lines set %v:\n%s", env, out)
	}
	if _, err := runCLI(t, env, "apps", "create", "--name", "billing", "--scopes", "sms groups", "--lifetime", "168h"); err != nil {
		t.Fatal(err)
	}
	p := startOAuthd(t, env)
	env["OAUTHD_ENDPOINT"] = p.URL
	if out, err := runCLI(t, env, "apps", "list", "--json"); err != nil || !strings.Contains(out, `"billing"`) {
		t.Fatalf("apps list --endpoint with the quick start's key: %v\n%s", err, out)
	}
}

// The README's Layout block names every package: a directory of Go
// files has a line of its own, or its parent's line names it.
func TestReadmeLayout(t *testing.T) {
	t.Parallel()
	block := readmeBlock(t, "## Layout\n\n```\n")
	entries := map[string]string{} // path → its text, continuation lines included
	last := ""
	for _, line := range strings.Split(block, "\n") {
		if path, text, ok := strings.Cut(line, " "); ok && path != "" {
			last = strings.TrimSuffix(path, "/")
			entries[last] = text
		} else if last != "" {
			entries[last] += " " + strings.TrimSpace(line)
		}
	}
	if len(entries) < 10 {
		t.Fatalf("only %d entries read from the Layout block", len(entries))
	}
	packages := map[string]bool{}
	err := filepath.WalkDir("../..", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && path != "../.." && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata" || d.Name() == "node_modules" || d.Name() == "bin") {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(path, ".go") {
			packages[filepath.ToSlash(strings.TrimPrefix(filepath.Dir(path), "../../"))] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for pkg := range packages {
		if _, ok := entries[pkg]; ok {
			continue
		}
		parent := pkg
		for parent != "." && entries[parent] == "" {
			parent = filepath.Dir(parent)
		}
		if parent == "." || !regexp.MustCompile(`\b`+regexp.QuoteMeta(filepath.Base(pkg))+`\b`).MatchString(entries[parent]) {
			t.Errorf("the README's Layout block does not name package %s", pkg)
		}
	}
}

// readmeBlock is the README's code block that starts after opening.
func readmeBlock(t *testing.T, opening string) string {
	t.Helper()
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(b), opening)
	if !ok {
		t.Fatalf("the README has no %q", opening)
	}
	block, _, _ := strings.Cut(rest, "```")
	return block
}
