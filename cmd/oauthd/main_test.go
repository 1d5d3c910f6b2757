package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oauthd/oauthd/store/redis/redistest"
)

// syncBuffer is a bytes.Buffer safe for the program and the test to share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type program struct {
	URL    string
	Stdout *syncBuffer
	Logs   *syncBuffer
}

func envFunc(env map[string]string) func(string) string {
	return func(k string) string { return env[k] }
}

// startOAuthd runs the whole program (run) with "serve" on a free loopback
// port and returns once it logs that it is listening. The test's end stops
// it and checks that it shut down cleanly.
func startOAuthd(t *testing.T, env map[string]string, args ...string) *program {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	p := &program{Stdout: &syncBuffer{}, Logs: &syncBuffer{}}
	args = append([]string{"serve", "--http-addr", "127.0.0.1:0", "--log-format", "json"}, args...)
	done := make(chan error, 1)
	go func() {
		err := run(ctx, args, envFunc(env), p.Stdout, pw)
		pw.CloseWithError(errors.New("oauthd exited"))
		done <- err
	}()
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			line := sc.Bytes()
			p.Logs.Write(append(line, '\n'))
			var rec struct {
				Msg  string `json:"msg"`
				Addr string `json:"addr"`
			}
			if json.Unmarshal(line, &rec) == nil && rec.Msg == "oauthd listening" {
				ready <- rec.Addr
			}
		}
		close(ready)
	}()
	select {
	case addr, ok := <-ready:
		if !ok {
			cancel()
			t.Fatalf("oauthd exited before listening: %v\nlogs:\n%s", <-done, p.Logs)
		}
		p.URL = "http://" + addr
	case <-time.After(30 * time.Second):
		cancel()
		t.Fatalf("oauthd did not start within 30s; logs:\n%s", p.Logs)
	}
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("oauthd run returned %v", err)
		}
	})
	return p
}

var demoRE = regexp.MustCompile(`client_id:\s+(\S+)\s+client_secret:\s+(\S+)`)

// demoCredentials reads the demo application printed by embedded mode.
func (p *program) demoCredentials(t *testing.T) (string, string) {
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
	var out, errOut bytes.Buffer
	err := run(context.Background(), args, envFunc(env), &out, &errOut)
	return out.String(), err
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

func startMini(t *testing.T) string { return redistest.Start(t, redistest.Mini).Addr }
