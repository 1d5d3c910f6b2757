package main

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oauthd/oauthd/cmd/internal/runtest"
	"github.com/oauthd/oauthd/store/redis/redistest"
)

// oauthdBinary is the oauthd program for tests that need real, separate
// oauthd processes: this test binary, which runs oauthd's main instead of
// the tests when oauthdMainEnv is in its environment (TestMain). The
// process is oauthd's main as the real binary runs it; building one was a
// link of seconds of CPU on every run of the tests.
func oauthdBinary(t *testing.T) string {
	t.Helper()
	bin, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

// oauthdMainEnv, set in the environment, makes this test binary oauthd.
const oauthdMainEnv = "OAUTHD_TEST_BINARY_IS_OAUTHD"

// asOAuthd adds oauthdMainEnv to env, for a process of oauthdBinary.
func asOAuthd(env map[string]string) map[string]string {
	out := map[string]string{oauthdMainEnv: "1"}
	for k, v := range env {
		out[k] = v
	}
	return out
}

// mustBuild is the binary build makes, or the test's end.
func mustBuild(t *testing.T, build func() (string, error)) string {
	t.Helper()
	bin, err := build()
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

// buildOnce returns a function that builds the program pkg (a path from
// this directory) the first time it is called and then returns that
// binary. The binary is kept between runs, in a folder of the user's cache
// named after this package's directory: go build links again only when
// the program changed (a link is seconds on a loaded machine), and two
// checkouts never share one.
func buildOnce(name, pkg string) func() (string, error) {
	return sync.OnceValues(func() (string, error) {
		dir, err := builtDir()
		if err != nil {
			return "", err
		}
		bin := filepath.Join(dir, name)
		if out, err := exec.Command("go", "build", "-o", bin, pkg).CombinedOutput(); err != nil {
			return "", fmt.Errorf("go build %s: %v\n%s", pkg, err, out)
		}
		return bin, nil
	})
}

// builtDir is where buildOnce keeps the binaries of this checkout: the
// user's cache folder, or the temporary one where there is none ($HOME
// unset).
func builtDir() (string, error) {
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256([]byte(wd))
	dir := filepath.Join(cache, "oauthd-test-bin", hex.EncodeToString(sum[:8]))
	return dir, os.MkdirAll(dir, 0o755)
}

// startBinary starts bin with args and env added to the test's
// environment, and returns its standard error to read the log from.
func startBinary(t *testing.T, bin string, env map[string]string, args ...string) (*exec.Cmd, io.Reader) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = os.Environ()
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd, stderr
}

// replica is one oauthd process.
type replica struct {
	url     string
	cacheOn chan struct{}
	// stop interrupts the process and waits for it to exit cleanly; the
	// test's cleanup calls it too (a second call does nothing).
	stop func()
	// kill sends SIGKILL (a crash: no drain, connections reset) and
	// waits for the process.
	kill func()
}

// startReplica runs bin serve with env and waits (on its log lines, not a
// timer) until it listens and its application cache follows invalidations.
func startReplica(t *testing.T, bin string, env map[string]string) *replica {
	t.Helper()
	cmd, stderr := startBinary(t, bin, asOAuthd(env), "serve", "--http-addr", "127.0.0.1:0", "--log-format", "json")
	var once sync.Once
	stop := func() {
		once.Do(func() {
			_ = cmd.Process.Signal(os.Interrupt)
			if err := cmd.Wait(); err != nil {
				t.Errorf("oauthd replica exited with %v", err)
			}
		})
	}
	t.Cleanup(stop)
	kill := func() {
		once.Do(func() {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		})
	}
	r := &replica{cacheOn: make(chan struct{}), stop: stop, kill: kill}
	listening := make(chan string, 1)
	logs := &runtest.Buffer{}
	leaks.addSink("log lines", "the log of an oauthd replica in "+t.Name(), logs.String)
	go func() {
		sc := bufio.NewScanner(stderr)
		on := false
		for sc.Scan() {
			logs.Write(append(sc.Bytes(), '\n'))
			var rec struct{ Msg, Addr string }
			if json.Unmarshal(sc.Bytes(), &rec) != nil {
				continue
			}
			switch {
			case rec.Msg == "oauthd listening":
				listening <- rec.Addr
			case strings.HasPrefix(rec.Msg, "application cache on") && !on:
				on = true
				close(r.cacheOn)
			}
		}
		close(listening)
		_, _ = io.Copy(io.Discard, stderr)
	}()
	select {
	case addr, ok := <-listening:
		if !ok {
			t.Fatalf("replica exited before listening:\n%s", logs.String())
		}
		r.url = "http://" + addr
	case <-time.After(30 * time.Second):
		t.Fatal("replica did not listen within 30s")
	}
	select {
	case <-r.cacheOn:
	case <-time.After(10 * time.Second):
		t.Fatal("replica's application cache did not come on within 10s")
	}
	return r
}

// adminCall sends an admin API request and decodes the JSON answer.
func adminCall(t *testing.T, method, url, key string, body any) (int, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, url, rd)
	req.Header.Set("Authorization", "Bearer "+key)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&m)
	return resp.StatusCode, m
}

// tokenStatus asks r for a token and returns the HTTP status.
func tokenStatus(t *testing.T, r *replica, id, secret string) int {
	t.Helper()
	resp := postForm(t, r.url+"/oauth/token", "grant_type=client_credentials", basicAuth(id, secret))
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// Usage is counted in memory and written every 10 s: a clean shutdown
// writes what is pending, so tokens_issued survives a restart.
func TestUsageSurvivesRestart(t *testing.T) {
	t.Parallel()
	rs := startScannedRedis(t, redistest.Real)
	key, digest := newAdminKey(t)
	bin := oauthdBinary(t)
	env := map[string]string{"OAUTHD_REDIS_URL": rs.URL, "OAUTHD_ADMIN_KEY_SHA256": digest}
	a := startReplica(t, bin, env)
	code, m := adminCall(t, "POST", a.url+"/admin/v1/applications", key, map[string]any{"name": "u", "scopes": []string{"sms"}})
	if code != 201 {
		t.Fatalf("create: %d %v", code, m)
	}
	id, secret := m["client_id"].(string), m["client_secret"].(string)
	for range 2 {
		if code := tokenStatus(t, a, id, secret); code != 200 {
			t.Fatalf("token: %d", code)
		}
	}
	a.stop() // SIGINT: drains, then flushes usage
	b := startReplica(t, bin, env)
	if code, m := adminCall(t, "GET", b.url+"/admin/v1/applications/"+id, key, nil); code != 200 || m["tokens_issued"] != float64(2) || m["last_used_at"] == nil {
		t.Fatalf("after a restart: %d tokens_issued=%v last_used_at=%v, want 2 and a time", code, m["tokens_issued"], m["last_used_at"])
	}
}
