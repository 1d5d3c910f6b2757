package main

import (
	"encoding/json"
	"io"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

func TestVersion(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"--version"}, {"-v"}} {
		out, err := runCLI(t, nil, args...)
		if err != nil || out != "oauthd v0.0.0-test (commit 0123456789ab, go1.test)\n" {
			t.Errorf("%v: %q %v", args, out, err)
		}
	}
	// The real binary's: no stamp, no VCS (GOFLAGS=-buildvcs=false), so the
	// Go toolchain's version is all it can say beside "devel".
	if b := readBuild(""); b.Version == "" || b.GoVersion == "" {
		t.Errorf("readBuild: %+v", b)
	}
	if b := readBuild("v9.9.9"); b.Version != "v9.9.9" {
		t.Errorf("the linker's stamp lost: %+v", b)
	}
}

// A mistyped or missing subcommand fails: a script must not carry on as if
// "oauthd apps lst" had listed something.
func TestUnknownCommands(t *testing.T) {
	t.Parallel()
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"apps", "lst"}, `unknown command "lst" for "oauthd apps"; did you mean get or list?`},
		{[]string{"srve"}, `unknown command "srve" for "oauthd"`},
		{[]string{"tokens", "nope"}, `unknown command "nope" for "oauthd tokens"`},
		{[]string{"apps"}, "oauthd apps needs a command"},
		{[]string{}, "oauthd needs a command"},
	}
	for _, tt := range tests {
		_, err := runCLI(t, nil, tt.args...)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%v: error %v, want %q", tt.args, err, tt.want)
		}
	}
	if out, err := runCLI(t, nil, "apps", "--help"); err != nil || !strings.Contains(out, "reset-secret") {
		t.Errorf("apps --help: %v\n%s", err, out)
	}
}

// A verb's client_id that cannot be one, or a missing one, is refused
// before anything is asked of the admin API, naming what the verb takes;
// a flag misspelt names the one meant.
func TestClientIDArguments(t *testing.T) {
	t.Parallel()
	notID := `is not a client_id: ids are 1 to 128 letters, digits, '-', '.' or '~' ('oauthd apps list' shows them)`
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"apps", "get", ""}, `"" ` + notID},
		{[]string{"apps", "get", "../../etc"}, `"../../etc" ` + notID},
		{[]string{"apps", "update", "a b", "--name", "x"}, `"a b" ` + notID},
		{[]string{"apps", "delete", "{slot}"}, `"{slot}" ` + notID},
		{[]string{"apps", "reset-secret", "*"}, `"*" ` + notID},
		{[]string{"apps", "revoke-tokens", "x_y"}, `"x_y" ` + notID},
		{[]string{"tokens", "list", "x/y"}, `"x/y" ` + notID},
		{[]string{"api-keys", "create", "%41", "--name", "k"}, `"%41" ` + notID},
		{[]string{"apps", "get"}, "'oauthd apps get' takes CLIENT_ID, got 0 argument(s); 'oauthd apps list' shows the client_ids"},
		{[]string{"apps", "delete-secret", "abc"}, "'oauthd apps delete-secret' takes CLIENT_ID SECRET_ID, got 1 argument(s)"},
		{[]string{"apps", "get", "a", "b"}, "'oauthd apps get' takes CLIENT_ID, got 2 argument(s)"},
		{[]string{"apps", "create", "--audiences", "x"}, "unknown flag --audiences for 'oauthd apps create'; did you mean --audience?"},
		{[]string{"scopes", "set"}, "'oauthd scopes set' takes NAME, got 0 argument(s)"},
		{[]string{"tokens", "revoke"}, "'oauthd tokens revoke' takes JTI, got 0 argument(s)"},
	}
	for _, tt := range tests {
		// No Redis and no endpoint: a refusal that got as far as the
		// admin API would name those instead.
		_, err := runCLI(t, nil, tt.args...)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: error %v, want %q", tt.args, err, tt.want)
		}
	}
}

func TestScopesCommaHint(t *testing.T) {
	t.Parallel()
	url := "redis://" + startMini(t)
	for _, args := range [][]string{
		{"apps", "create", "--name", "x", "--scopes", "sms,groups"},
		{"apps", "update", "someid", "--scopes", "sms, groups"},
		{"api-keys", "create", "someid", "--name", "x", "--scopes", "sms,groups"},
	} {
		_, err := runCLI(t, nil, append(args, "--redis-url", url)...)
		if err == nil || !strings.Contains(err.Error(), `not commas: --scopes "sms groups"`) {
			t.Errorf("%v: %v", args, err)
		}
	}
}

// --json changes what every verb prints; without it the credential verbs
// print a table and say the secret is shown only now.
func TestJSONEveryVerb(t *testing.T) {
	t.Parallel()
	url := "redis://" + startMini(t)
	cli := func(args ...string) string {
		t.Helper()
		out, err := runCLI(t, nil, append(args, "--redis-url", url)...)
		if err != nil {
			t.Fatalf("oauthd %v: %v", args, err)
		}
		return out
	}
	table := cli("apps", "create", "--name", "table", "--scopes", "sms")
	if !regexp.MustCompile(`client_secret\s+ocs_`).MatchString(table) || !strings.Contains(table, "shown only now") || strings.HasPrefix(table, "{") {
		t.Fatalf("create without --json:\n%s", table)
	}
	var a app
	if err := json.Unmarshal([]byte(cli("apps", "create", "--name", "json", "--scopes", "sms", "--json")), &a); err != nil || a.ClientSecret == "" {
		t.Fatalf("create --json: %v %+v", err, a)
	}
	if out := cli("apps", "reset-secret", a.ClientID); !regexp.MustCompile(`client_secret\s+ocs_`).MatchString(out) {
		t.Fatalf("reset-secret without --json:\n%s", out)
	}
	if out := cli("api-keys", "create", a.ClientID, "--name", "cron"); !regexp.MustCompile(`api_key\s+oak_`).MatchString(out) || !strings.Contains(out, "API key above") {
		t.Fatalf("api-keys create without --json:\n%s", out)
	}
	tests := []struct {
		args []string
		key  string
	}{
		{[]string{"apps", "revoke-tokens", a.ClientID}, "revoked_tokens_of"},
		{[]string{"apps", "delete", a.ClientID}, "deleted"},
	}
	for _, tt := range tests {
		var m map[string]string
		out := cli(append(tt.args, "--json")...)
		if err := json.Unmarshal([]byte(out), &m); err != nil || m[tt.key] != a.ClientID {
			t.Errorf("%v --json printed %q", tt.args, out)
		}
	}
}

// oauthd health is the distroless image's health check: exit status only.
func TestHealthCommand(t *testing.T) {
	t.Parallel()
	p := startOAuthd(t, nil)
	for _, tt := range []struct {
		path string
		ok   bool
	}{
		{"/health/alive", true},
		{"/health/ready", true},
		{"/healthz", true},
		{"/health/nope", false},
	} {
		out, err := runCLI(t, nil, "health", "--url", p.URL+tt.path)
		if (err == nil) != tt.ok {
			t.Errorf("%s: %v", tt.path, err)
		}
		if tt.ok && !strings.Contains(out, `"status":"ok"`) {
			t.Errorf("%s printed %q", tt.path, out)
		}
	}
	if _, err := runCLI(t, nil, "health", "--url", "http://127.0.0.1:1/health/alive"); err == nil {
		t.Error("health succeeded against a closed port")
	}
}

// A verb's help lists its own flags first and the ones every verb shares
// (where Redis or the server is, JWT keys, log, --config) under "Global
// Flags"; no help anywhere shows a boolean as --json[=true|false].
func TestHelpLayout(t *testing.T) {
	t.Parallel()
	out, err := runCLI(t, nil, "apps", "create", "--help")
	if err != nil {
		t.Fatal(err)
	}
	own, global, ok := strings.Cut(out, "\nGlobal Flags:\n")
	if !ok || !strings.Contains(own, "\nFlags:\n") {
		t.Fatalf("apps create --help:\n%s", out)
	}
	for _, f := range []string{"--name string", "--scopes stringArray", "--owner", "--token-format", "--audience", "--metadata"} {
		if !strings.Contains(own, f) {
			t.Errorf("the verb's own flags lack %s", f)
		}
	}
	if !regexp.MustCompile(`\n\s+--json\s+print JSON`).MatchString(own) {
		t.Errorf("--json is not a plain switch among the verb's flags:\n%s", own)
	}
	for _, f := range []string{"--redis-url", "--endpoint", "--config", "--log-level", "--jwt-sealing-key", "--redis-tls-enabled "} {
		if strings.Contains(own, f) || !strings.Contains(global, f) {
			t.Errorf("%s is not under Global Flags", f)
		}
	}
	var walk func(path []string, cmd *cobra.Command)
	walk = func(path []string, cmd *cobra.Command) {
		help, err := runCLI(t, nil, append(path, "--help")...)
		if err != nil || strings.Contains(help, "[=true|false]") {
			t.Errorf("oauthd %s --help: %v\n%s", strings.Join(path, " "), err, help)
		}
		for _, sub := range cmd.Commands() {
			walk(append(slices.Clone(path), sub.Name()), sub)
		}
	}
	walk(nil, rootCommand(testBuild, envFunc(nil), io.Discard, io.Discard))
}
