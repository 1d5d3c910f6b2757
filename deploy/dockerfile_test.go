//go:build faults

package deploy

import (
	"bufio"
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// No container runtime runs in CI, so the image cannot be built. Its
// build lines can: each `RUN ... go build` runs here as written (with /out
// as a temporary directory), then the oauthd binary must report the
// stamped version, start, and pass the HEALTHCHECK's own probe. Under the
// faults tag (make test-faults): two builds and a process of its own were
// the default suite's costliest few seconds of CPU.
func TestDockerfileBuildSteps(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds both binaries")
	}
	f, err := os.Open("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := t.TempDir()
	var builds, healthcheck []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if cmd, ok := strings.CutPrefix(line, "RUN "); ok && strings.Contains(cmd, "go build") {
			builds = append(builds, strings.ReplaceAll(strings.ReplaceAll(cmd, "/out/", out+"/"), "${VERSION}", "v9.9.9-docker"))
		}
		if cmd, ok := strings.CutPrefix(line, "CMD [\"/oauthd\", "); ok {
			// the HEALTHCHECK's exec form, continued from the line before
			for _, a := range strings.Split(strings.TrimSuffix(cmd, "]"), ",") {
				healthcheck = append(healthcheck, strings.Trim(strings.TrimSpace(a), `"`))
			}
		}
	}
	if len(builds) != 2 || len(healthcheck) == 0 {
		t.Fatalf("build lines %q, health check %q", builds, healthcheck)
	}
	for _, b := range builds {
		cmd := exec.Command("sh", "-c", b)
		cmd.Dir = ".."
		if msg, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", b, err, msg)
		}
	}
	bin := filepath.Join(out, "oauthd")
	if _, err := os.Stat(filepath.Join(out, "sms-api")); err != nil {
		t.Fatal(err)
	}
	if v, err := exec.Command(bin, "--version").Output(); err != nil || !strings.HasPrefix(string(v), "oauthd v9.9.9-docker") {
		t.Fatalf("--version: %q %v", v, err)
	}
	if v, err := exec.Command(filepath.Join(out, "sms-api"), "--version").Output(); err != nil || !strings.HasPrefix(string(v), "sms-api v9.9.9-docker") {
		t.Fatalf("sms-api --version: %q %v", v, err)
	}

	port := freePort(t)
	ctx, cancel := context.WithCancel(context.Background())
	srv := exec.CommandContext(ctx, bin, "serve", "--http-addr", "127.0.0.1:"+port)
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); _ = srv.Wait() })
	probe := make([]string, len(healthcheck))
	copy(probe, healthcheck)
	for i, a := range probe {
		probe[i] = strings.Replace(a, "127.0.0.1:8080", "127.0.0.1:"+port, 1)
	}
	// A bounded poll: the process has no log line to wait for here.
	deadline := time.Now().Add(20 * time.Second)
	for {
		err := exec.Command(bin, probe...).Run()
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the HEALTHCHECK (%q) never passed: %v", probe, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	alive := []string{"health", "--url", "http://127.0.0.1:" + port + "/health/alive"}
	if err := exec.Command(bin, alive...).Run(); err != nil {
		t.Fatalf("/health/alive: %v", err)
	}
}

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
}
