package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/oauthd/oauthd/cmd/internal/runtest"
	"github.com/oauthd/oauthd/cmd/internal/settings"
	"github.com/oauthd/oauthd/store/redis/redistest"
)

type program = runtest.Program

// testBuild is the build information the tests' oauthd reports.
var testBuild = buildInfo{Version: "v0.0.0-test", Revision: "0123456789abcdef", GoVersion: "go1.test"}

// runTest is run as the tests' oauthd binary: with testBuild.
func runTest(ctx context.Context, args []string, env settings.Environ, stdout, stderr io.Writer) error {
	return run(ctx, testBuild, args, env, stdout, stderr)
}

func envFunc(env map[string]string) settings.Environ { return runtest.Env(env) }

// startOAuthd runs the whole program with "serve" on a free loopback port
// and returns once it logs that it is listening.
func startOAuthd(t *testing.T, env map[string]string, args ...string) *program {
	t.Helper()
	args = append([]string{"serve", "--http-addr", "127.0.0.1:0", "--log-format", "json"}, args...)
	p := runtest.Start(t, runTest, "oauthd listening", env, args...)
	leaks.addSource("the output of "+t.Name()+"'s oauthd", p.Stdout.String)
	leaks.addSink("log lines", "the log of "+t.Name()+"'s oauthd", p.Logs.String)
	return p
}

var demoRE = regexp.MustCompile(`client_id:\s+(\S+)\s+client_secret:\s+(\S+)`)

// demoCredentials reads the demo application printed by embedded mode.
func demoCredentials(t *testing.T, p *program) (string, string) {
	t.Helper()
	m := demoRE.FindStringSubmatch(p.Stdout.String())
	if m == nil {
		t.Fatalf("no demo credentials printed:\n%s", p.Stdout)
	}
	return m[1], m[2]
}

// runCLI runs one non-serve command line and returns its stdout.
func runCLI(t *testing.T, env map[string]string, args ...string) (string, error) {
	t.Helper()
	stdout, _, err := runCLIStderr(t, env, args...)
	return stdout, err
}

// runCLIStderr is runCLI that returns the standard error too.
func runCLIStderr(t *testing.T, env map[string]string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	// Synchronised buffers: go-redis's process-wide logger may still
	// write to this CLI's standard error from a connection it dials late.
	var out, errOut runtest.Buffer
	err = runTest(context.Background(), args, envFunc(env), &out, &errOut)
	stdout, stderr = out.String(), errOut.String()
	leaks.addSource("the output of "+t.Name()+"'s CLI", func() string { return stdout })
	leaks.addSink("CLI standard error", "the standard error of "+t.Name()+"'s CLI", func() string { return stderr })
	return stdout, stderr, err
}

func getJSON(t *testing.T, resp *http.Response) map[string]any {
	t.Helper()
	defer resp.Body.Close()
	var m map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		t.Fatalf("answer is not JSON: %v", err)
	}
	return m
}

func isCI() bool { return os.Getenv("CI") != "" }

func contains(s, sub string) bool { return strings.Contains(s, sub) }

func startMini(t *testing.T) string { return startScannedRedis(t, redistest.Mini).Addr }

// waitFor polls cond, bounded by within, for effects that give the test
// no signal of their own (a pub/sub message crossing replicas, Redis
// expiring a key).
func waitFor(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(within); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, within)
		}
	}
}
