// Package runtest runs a whole program (its run function) inside a test:
// it starts it, waits for the JSON log line that says it is listening (a
// signal, not a sleep), and stops it at the end of the test, checking that
// it shut down cleanly.
package runtest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/oauthd/oauthd/cmd/internal/settings"
)

// RunFunc is a program's run(ctx, args, env, stdout, stderr).
type RunFunc func(ctx context.Context, args []string, env settings.Environ, stdout, stderr io.Writer) error

// Buffer is a bytes.Buffer safe for the program and the test to share.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *Buffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *Buffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Program is a running program.
type Program struct {
	URL    string // http://<address it listens on>
	Stdout *Buffer
	Logs   *Buffer // its log lines (JSON)
}

// Env turns a map into an environment, in the order of its names.
func Env(env map[string]string) settings.Environ {
	out := make(settings.Environ, 0, len(env))
	for _, k := range slices.Sorted(maps.Keys(env)) {
		out = append(out, k+"="+env[k])
	}
	return out
}

// Start runs run with args (which must make it log JSON) and returns once
// it logs readyMsg with an "addr" attribute.
func Start(t *testing.T, run RunFunc, readyMsg string, env map[string]string, args ...string) *Program {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	p := &Program{Stdout: &Buffer{}, Logs: &Buffer{}}
	done := make(chan error, 1)
	go func() {
		err := run(ctx, args, Env(env), p.Stdout, pw)
		pw.CloseWithError(errors.New("program exited"))
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
			if json.Unmarshal(line, &rec) == nil && rec.Msg == readyMsg {
				ready <- rec.Addr
			}
		}
		close(ready)
	}()
	select {
	case addr, ok := <-ready:
		if !ok {
			cancel()
			t.Fatalf("program exited before listening: %v\nlogs:\n%s", <-done, p.Logs)
		}
		p.URL = "http://" + addr
	case <-time.After(30 * time.Second):
		cancel()
		t.Fatalf("program did not start within 30s; logs:\n%s", p.Logs)
	}
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("program returned %v", err)
		}
	})
	return p
}
