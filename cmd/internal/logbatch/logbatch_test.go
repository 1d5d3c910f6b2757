package logbatch

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
	"time"
)

// countingWriter records each write separately.
type countingWriter struct {
	mu     sync.Mutex
	writes []string
}

func (c *countingWriter) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.writes = append(c.writes, string(p))
	return len(p), nil
}

func (c *countingWriter) all() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.writes...)
}

func TestBatchedAndDirect(t *testing.T) {
	out := &countingWriter{}
	w := New(out)
	for _, l := range []string{"a\n", "b\n", "c\n"} {
		if _, err := w.Batched().Write([]byte(l)); err != nil {
			t.Fatal(err)
		}
	}
	if got := out.all(); len(got) != 0 {
		t.Fatalf("batched lines written before a flush: %q", got)
	}
	// A direct line goes out at once, after what was pending: in order.
	if _, err := w.Direct().Write([]byte("ERROR\n")); err != nil {
		t.Fatal(err)
	}
	if got := out.all(); len(got) != 2 || got[0] != "a\nb\nc\n" || got[1] != "ERROR\n" {
		t.Fatalf("writes %q, want the batch then the direct line", got)
	}
	w.Batched().Write([]byte("d\n"))
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if got := out.all(); len(got) != 3 || got[2] != "d\n" {
		t.Fatalf("after Flush: %q", got)
	}
	if err := w.Flush(); err != nil || len(out.all()) != 3 {
		t.Fatal("an empty flush wrote")
	}
}

// A batch never grows past maxPending: a large burst is written as it
// comes.
func TestBatchBounded(t *testing.T) {
	var out bytes.Buffer
	w := New(&out)
	line := strings.Repeat("x", 1023) + "\n"
	for range 2 * maxPending / len(line) {
		w.Batched().Write([]byte(line))
	}
	if out.Len() < maxPending {
		t.Fatalf("%d bytes written of a %d-byte burst; pending is bounded by %d", out.Len(), 2*maxPending, maxPending)
	}
}

// Run flushes on its ticker and once more when stopped.
func TestRun(t *testing.T) {
	out := &countingWriter{}
	w := New(out)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); w.Run(ctx, time.Millisecond) }()
	w.Batched().Write([]byte("tick\n"))
	deadline := time.Now().Add(5 * time.Second)
	for len(out.all()) == 0 { // the ticker gives no signal of its own
		if time.Now().After(deadline) {
			t.Fatal("Run did not flush within 5s")
		}
		time.Sleep(time.Millisecond)
	}
	w.Batched().Write([]byte("last\n"))
	cancel()
	<-done
	if got := out.all(); got[len(got)-1] != "last\n" {
		t.Fatalf("stopping Run did not flush: %q", got)
	}
}
