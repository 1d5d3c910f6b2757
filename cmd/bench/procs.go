package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// startTimeout bounds how long a process may take to say it is ready.
const startTimeout = 30 * time.Second

// stopTimeout is how long a process gets to exit after SIGTERM before it
// is killed.
const stopTimeout = 10 * time.Second

// proc is one process the harness started.
type proc struct {
	name string
	cmd  *exec.Cmd
	done chan struct{} // closed once it has exited
	err  error         // how it exited; read only after done
	out  *tailBuffer   // its last lines of output, for error messages
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// procs are the processes of one harness run, stopped together at the end
// whatever happened.
type procs struct{ list []*proc }

// start runs cmd and returns once ready accepts a line of its output (a
// signal, not a sleep), with that line. The process's output is read to
// the end so it never blocks on a full pipe; only its last lines are kept.
func (g *procs) start(ctx context.Context, name string, cmd *exec.Cmd, ready func(line string) bool) (*proc, string, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, "", err
	}
	cmd.Stdout, cmd.Stderr = w, w
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		r.Close()
		w.Close()
		return nil, "", fmt.Errorf("starting %s: %w", name, err)
	}
	w.Close() // the child holds its own copy; EOF comes when it exits
	p := &proc{name: name, cmd: cmd, done: make(chan struct{}), out: newTailBuffer(16<<10, 40)}
	g.list = append(g.list, p)

	readyLine := make(chan string, 1)
	go func() {
		defer r.Close()
		br := bufio.NewReaderSize(r, 64<<10)
		// Line by line until the ready line...
		for {
			line, err := br.ReadString('\n')
			_, _ = p.out.Write([]byte(line))
			if ready(strings.TrimSuffix(line, "\n")) {
				readyLine <- strings.TrimSuffix(line, "\n")
				break
			}
			if err != nil {
				return
			}
		}
		// ...then in bulk. The harness shares the machine it measures: a
		// line-by-line scan of the servers' access lines (tens of
		// thousands a second) would take CPU from them under load.
		_, _ = io.Copy(p.out, br)
	}()
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()

	timer := time.NewTimer(startTimeout)
	defer timer.Stop()
	select {
	case line := <-readyLine:
		return p, line, nil
	case <-p.done:
		return nil, "", fmt.Errorf("%s exited before it was ready (%v); its last output:\n%s", name, p.err, p.out)
	case <-timer.C:
		return nil, "", fmt.Errorf("%s did not say it was ready within %s; its last output:\n%s", name, startTimeout, p.out)
	case <-ctx.Done():
		return nil, "", ctx.Err()
	}
}

// check fails if any process has exited: figures taken without it would
// be figures of nothing.
func (g *procs) check() error {
	for _, p := range g.list {
		if p.exited() {
			return fmt.Errorf("%s exited during the benchmark (%v); its last output:\n%s", p.name, p.err, p.out)
		}
	}
	return nil
}

// stop ends every process, last started first, so servers go before the
// Redis they use. It reports processes that had to be killed or that
// exited badly before they were asked to.
func (g *procs) stop() error {
	var errs []error
	for i := len(g.list) - 1; i >= 0; i-- {
		p := g.list[i]
		if p.exited() {
			if p.err != nil {
				errs = append(errs, fmt.Errorf("%s had exited: %v", p.name, p.err))
			}
			continue
		}
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(stopTimeout):
			_ = p.cmd.Process.Kill()
			<-p.done
			errs = append(errs, fmt.Errorf("%s did not stop within %s of SIGTERM and was killed", p.name, stopTimeout))
		}
	}
	g.list = nil
	return errors.Join(errs...)
}

// tailBuffer keeps the last bytes written to it (at least n), for the
// last lines of a process's output. It is safe for concurrent use.
type tailBuffer struct {
	mu    sync.Mutex
	buf   []byte
	n     int
	lines int // shown by String
}

func newTailBuffer(n, lines int) *tailBuffer { return &tailBuffer{n: n, lines: lines} }

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > 2*t.n {
		// Trimmed once per n bytes, not on every write, to a line's start.
		tail := t.buf[len(t.buf)-t.n:]
		if i := bytes.IndexByte(tail, '\n'); i >= 0 {
			tail = tail[i+1:]
		}
		t.buf = append(t.buf[:0], tail...)
	}
	return len(p), nil
}

// String is the last lines, indented.
func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	lines := strings.Split(strings.TrimRight(string(t.buf), "\n"), "\n")
	if len(lines) > t.lines {
		lines = lines[len(lines)-t.lines:]
	}
	if len(lines) == 0 || len(lines) == 1 && lines[0] == "" {
		return "  (no output)"
	}
	return "  " + strings.Join(lines, "\n  ")
}

// freeAddr returns a loopback address with a port free right now. The
// harness must know ports before it starts the processes (oauthd's issuer
// URL contains its port); a process that loses the race fails to start and
// says so.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// childEnv is the harness's environment without oauthd's and sms-api's
// settings, so a developer's OAUTHD_CONFIG or SMSAPI_CACHE_TTL cannot
// change what is measured, nor an OTEL_EXPORTER_OTLP_ENDPOINT turn tracing
// on; extra is added.
func childEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "OAUTHD_") || strings.HasPrefix(kv, "SMSAPI_") || strings.HasPrefix(kv, "OTEL_") {
			continue
		}
		env = append(env, kv)
	}
	return append(env, extra...)
}
