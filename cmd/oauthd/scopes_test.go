package main

import (
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2/clientcredentials"

	"github.com/oauthd/oauthd/store/redis/redistest"
)

// scopesRow is an "apps get" table's row of an application holding sms
// alone.
var scopesRow = regexp.MustCompile(`(?m)^scopes\s+sms$`)

// scopesSupported is the metadata's scopes_supported of the server at url,
// space-separated.
func scopesSupported(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url + "/.well-known/oauth-authorization-server")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, s := range getJSON(t, resp)["scopes_supported"].([]any) {
		out = append(out, s.(string))
	}
	return strings.Join(out, " ")
}

// waitPubSub polls cond, bounded: for a change that crosses Redis's pub/sub
// from one process to another.

// Issue 20, item 2, as the operator hit it: serve ran with a catalogue file
// without viber; "oauthd apps create --scopes 'sms viber'" on the same
// Redis without --config used the CLI's built-in catalogue, accepted
// viber, and the server then issued viber tokens while its
// scopes_supported lacked viber. Now the CLI validates against the
// catalogue serve stored in Redis and refuses; a scope added through the
// CLI reaches the server's metadata and tokens, and a server started with
// the file afterwards keeps Redis's catalogue and says how to import its
// own, which scopes import then does.
func TestCatalogueDisagreementReplayed(t *testing.T) {
	t.Parallel()
	rs := startScannedRedis(t, redistest.Mini)
	file := writeFile(t, "scopes:\n  - {name: sms, description: Send SMS}\n  - {name: reports, description: Read delivery reports}\n")
	p := startOAuthd(t, nil, "--redis-url", rs.URL, "--config", file)
	waitFor(t, 10*time.Second, "the file's catalogue in the metadata", func() bool { return scopesSupported(t, p.URL) == "sms reports tokens:introspect" })

	direct := map[string]string{"OAUTHD_REDIS_URL": rs.URL} // no --config: the CLI's own catalogue has viber
	_, err := runCLI(t, direct, "apps", "create", "--name", "billing", "--scopes", "sms viber")
	if err == nil || !strings.Contains(err.Error(), "unknown scope(s) viber") {
		t.Fatalf("creating an application with a scope the server's catalogue lacks: %v", err)
	}
	if out, _ := runCLI(t, direct, "apps", "list"); strings.Contains(out, "billing") {
		t.Fatalf("the refused application exists:\n%s", out)
	}

	// The catalogue is changed where it lives; the server follows.
	if out, err := runCLI(t, direct, "scopes", "set", "viber", "--description", "Send Viber messages"); err != nil || !strings.Contains(out, "added scope viber") {
		t.Fatalf("scopes set: %q, %v", out, err)
	}
	waitFor(t, 10*time.Second, "viber in the metadata", func() bool { return scopesSupported(t, p.URL) == "sms reports tokens:introspect viber" })
	var app struct {
		ClientID     string `json:"client_id"`
		ClientSecret string `json:"client_secret"`
	}
	out, err := runCLI(t, direct, "apps", "create", "--json", "--name", "billing", "--scopes", "sms viber")
	if err != nil || json.Unmarshal([]byte(out), &app) != nil {
		t.Fatalf("create once viber is catalogued: %v\n%s", err, out)
	}
	cc := clientcredentials.Config{ClientID: app.ClientID, ClientSecret: app.ClientSecret, TokenURL: p.URL + "/oauth/token"}
	if tok, err := cc.Token(t.Context()); err != nil || tok.Extra("scope") != "sms viber" {
		t.Fatalf("token: %v, %v", tok, err)
	}

	// Another replica started with the file keeps Redis's catalogue and
	// says so, with the way to import the file.
	q := startOAuthd(t, nil, "--redis-url", rs.URL, "--config", file)
	waitFor(t, 10*time.Second, "the replica's catalogue warning", func() bool {
		return strings.Contains(q.Logs.String(), "oauthd scopes import --config "+file+" --dry-run")
	})
	if logs := q.Logs.String(); !strings.Contains(logs, `"only_in_redis":["viber"]`) {
		t.Fatalf("the warning does not name viber:\n%s", logs)
	}
	if got := scopesSupported(t, q.URL); got != "sms reports tokens:introspect viber" {
		t.Fatalf("the replica serves %q, not Redis's catalogue", got)
	}

	// The import: shown, refused while billing holds viber, then forced.
	withFile := map[string]string{"OAUTHD_REDIS_URL": rs.URL, "OAUTHD_CONFIG": file}
	if out, err := runCLI(t, withFile, "scopes", "import", "--dry-run"); err != nil || !strings.Contains(out, "- viber") || !strings.Contains(out, "nothing changed") {
		t.Fatalf("import --dry-run: %v\n%s", err, out)
	}
	if _, err := runCLI(t, withFile, "scopes", "import"); err == nil || !strings.Contains(err.Error(), "kept viber") {
		t.Fatalf("import of a catalogue without a held scope: %v", err)
	}
	if out, err := runCLI(t, withFile, "scopes", "import", "--force"); err != nil || !strings.Contains(out, "- viber") {
		t.Fatalf("import --force: %v\n%s", err, out)
	}
	waitFor(t, 10*time.Second, "viber gone from both replicas", func() bool {
		return scopesSupported(t, p.URL) == "sms reports tokens:introspect" && scopesSupported(t, q.URL) == "sms reports tokens:introspect"
	})
	if out, _ := runCLI(t, direct, "apps", "get", app.ClientID); !scopesRow.MatchString(out) {
		t.Fatalf("billing after viber was imported away:\n%s", out)
	}
	if out, err := runCLI(t, withFile, "scopes", "import"); err != nil || !strings.Contains(out, "is the file's already") {
		t.Fatalf("a second import: %v\n%s", err, out)
	}
}

// The scopes verbs, through a running server's admin API and directly on
// its Redis, alike: a held scope's deletion names its holders.
func TestScopesVerbs(t *testing.T) {
	t.Parallel()
	modes := adminModes(t, startScannedRedis(t, redistest.Mini))
	for name, env := range modes {
		t.Run(name, func(t *testing.T) {
			cli := cliOK(t, env)
			scope := "messages-" + name + ":send"
			if out := cli("scopes", "set", scope, "--description", "Send any message"); !strings.Contains(out, "added scope "+scope) {
				t.Fatalf("scopes set: %s", out)
			}
			if out := cli("scopes", "set", scope, "--description", "Send"); !strings.Contains(out, "described scope "+scope) {
				t.Fatalf("scopes set again: %s", out)
			}
			if out := cli("scopes", "list"); !strings.Contains(out, scope+"  Send\n") || !strings.Contains(out, "messages-"+name+":*") || !strings.Contains(out, "forms:") {
				t.Fatalf("scopes list:\n%s", out)
			}
			var list struct{ Scopes []struct{ Name string } }
			if err := json.Unmarshal([]byte(cli("scopes", "list", "--json")), &list); err != nil || len(list.Scopes) < 17 {
				t.Fatalf("scopes list --json: %+v %v", list, err)
			}
			var app struct {
				ClientID string `json:"client_id"`
			}
			json.Unmarshal([]byte(cli("apps", "create", "--json", "--name", "holder", "--scopes", "sms messages-"+name+":*")), &app)
			cli("apps", "update", app.ClientID, "--scopes", "sms "+scope)
			if _, err := runCLI(t, env, "scopes", "delete", scope); err == nil || !strings.Contains(err.Error(), "held by "+app.ClientID) {
				t.Fatalf("deleting a held scope: %v", err)
			}
			if _, err := runCLI(t, env, "scopes", "delete", "tokens:introspect", "--force"); err == nil || !strings.Contains(err.Error(), "reserved") {
				t.Fatalf("deleting tokens:introspect: %v", err)
			}
			if out := cli("scopes", "delete", scope, "--force"); !strings.Contains(out, "deleted scope "+scope) {
				t.Fatalf("scopes delete --force: %s", out)
			}
			if out := cli("apps", "get", app.ClientID); !scopesRow.MatchString(out) {
				t.Fatalf("the holder after the forced deletion:\n%s", out)
			}
			events := cli("events", "--kind", "scope.deleted")
			actor := map[string]string{"remote": "admin-key:", "direct": "cli"}[name]
			if !strings.Contains(events, scope) || !strings.Contains(events, actor) {
				t.Fatalf("scope.deleted events:\n%s", events)
			}
		})
	}
	if _, err := runCLI(t, modes["direct"], "scopes", "import"); err == nil || !strings.Contains(err.Error(), "--config FILE") {
		t.Fatalf("import without a file: %v", err)
	}
}
