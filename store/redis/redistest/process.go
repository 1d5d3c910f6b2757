package redistest

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

// Process is a redis-server or redis-sentinel that a fault test controls:
// started on a free loopback port with a directory of its own, killed
// without warning (SIGKILL, as a crash or a lost machine) and started again
// on the same port and data. Every process is killed at the end of the test.
type Process struct {
	Port string
	Dir  string // its working directory: data, AOF, nodes.conf, sentinel.conf

	t     testing.TB
	bin   string
	args  []string
	ready string

	mu  sync.Mutex
	cmd *exec.Cmd
}

// Addr is the process's host:port.
func (p *Process) Addr() string { return "127.0.0.1:" + p.Port }

// NeedBinaries skips the test when a binary is missing, or fails it when
// OAUTHD_REQUIRE_REDIS is set (as in CI, which installs them).
func NeedBinaries(t testing.TB, names ...string) {
	t.Helper()
	for _, n := range names {
		if _, err := exec.LookPath(n); err != nil {
			if os.Getenv(RequireEnv) != "" {
				t.Fatalf("%s is not on PATH but %s is set: apt-get install redis-server redis-sentinel", n, RequireEnv)
			}
			t.Skipf("%s is not on PATH (apt-get install redis-server redis-sentinel; set %s=1 to make this a failure)", n, RequireEnv)
		}
	}
}

// StartProcess runs bin with args followed by --port, --bind 127.0.0.1
// and --dir, and returns once it prints ready. "{dir}" in an argument is
// replaced by the process's directory (for config files). An argument
// holding "{port}" gets the free port instead of --port, which is then 0:
// "--tls-port", "{port}" makes a TLS-only server.
func StartProcess(t testing.TB, bin, ready string, args ...string) *Process {
	t.Helper()
	p := &Process{Dir: t.TempDir(), t: t, bin: bin, ready: ready}
	for _, a := range args {
		p.args = append(p.args, strings.ReplaceAll(a, "{dir}", p.Dir))
	}
	var lastErr error
	for range 5 { // a port taken between probe and bind: try another
		port, err := freePort()
		if err != nil {
			t.Fatal(err)
		}
		p.Port = port
		if lastErr = p.start(); lastErr == nil {
			t.Cleanup(p.Kill)
			return p
		}
	}
	t.Fatalf("starting %s: %v", bin, lastErr)
	return nil
}

// Restart starts the process again on its port with its data.
func (p *Process) Restart() {
	p.t.Helper()
	if err := p.start(); err != nil {
		p.t.Fatalf("restarting %s on %s: %v", p.bin, p.Port, err)
	}
}

func (p *Process) start() error {
	port := p.Port
	var args []string
	for _, a := range p.args {
		if strings.Contains(a, "{port}") {
			a, port = strings.ReplaceAll(a, "{port}", p.Port), "0"
		}
		args = append(args, a)
	}
	args = append(args, "--port", port, "--bind", "127.0.0.1", "--dir", p.Dir)
	cmd := exec.Command(p.bin, args...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		return err
	}
	ready := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(out)
		var log strings.Builder
		for sc.Scan() {
			line := sc.Text()
			log.WriteString(line + "\n")
			if strings.Contains(line, p.ready) {
				ready <- nil
				_, _ = io.Copy(io.Discard, out)
				return
			}
		}
		ready <- fmt.Errorf("%s exited before it was ready:\n%s", p.bin, log.String())
	}()
	select {
	case err := <-ready:
		if err != nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			return err
		}
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return fmt.Errorf("%s did not print %q within 30s", p.bin, p.ready)
	}
	p.mu.Lock()
	p.cmd = cmd
	p.mu.Unlock()
	return nil
}

// Kill sends SIGKILL and waits for the process to go. Killing a stopped
// process does nothing.
func (p *Process) Kill() {
	p.mu.Lock()
	cmd := p.cmd
	p.cmd = nil
	p.mu.Unlock()
	if cmd != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}
}
