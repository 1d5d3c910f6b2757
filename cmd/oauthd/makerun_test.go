//go:build unix && faults

package main

import (
	"bufio"
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// make run, then Ctrl-C: oauthd shuts down cleanly and make reports no
// error (it used go run, which exits 1 on SIGINT whatever its program
// does). The demo listens on loopback and names it in its URLs. Under the
// faults tag (make test-faults): make builds oauthd again and runs it as
// a process of its own.
func TestMakeRunCtrlC(t *testing.T) {
	if testing.Short() {
		t.Skip("builds oauthd with make")
	}
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("make is not installed: make run's Ctrl-C did not run")
	}
	cmd := exec.Command("make", "--no-print-directory", "run", "BIN="+filepath.Join(t.TempDir(), "oauthd"), "ARGS=--http-addr=127.0.0.1:0")
	cmd.Dir = "../.."
	// Its own process group, as a terminal's foreground job is: Ctrl-C
	// signals make and oauthd alike.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 256)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	var seen []string
	timeout := time.After(2 * time.Minute)
	for listening := false; !listening; {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("make run ended before oauthd listened:\n%s", strings.Join(seen, "\n"))
			}
			seen = append(seen, l)
			listening = strings.Contains(l, `msg="oauthd listening"`)
		case <-timeout:
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			t.Fatalf("oauthd did not listen within 2 minutes:\n%s", strings.Join(seen, "\n"))
		}
	}
	if err := syscall.Kill(-cmd.Process.Pid, syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	for l := range lines {
		seen = append(seen, l)
	}
	all := strings.Join(seen, "\n")
	// make ends as a program does on Ctrl-C, by the signal, silently; had
	// its recipe failed it would say "*** [run] Error 1".
	err = cmd.Wait()
	var exit *exec.ExitError
	if err != nil && !(errors.As(err, &exit) && exit.Sys().(syscall.WaitStatus).Signal() == syscall.SIGINT) || strings.Contains(all, "***") {
		t.Fatalf("make run after Ctrl-C: %v\n%s", err, all)
	}
	if !strings.Contains(all, "addr=127.0.0.1:") || !strings.Contains(all, "-d grant_type=client_credentials http://127.0.0.1:") {
		t.Fatalf("the demo does not listen on, or name, loopback:\n%s", all)
	}
}
