// Package logbatch lets a server write its per-request access lines in
// batches while every other log line goes out at once.
//
// One write(2) per request is a large share of a small request's cost: a
// token request is itself only a read and a write on its connection and
// one Redis round trip. Batching the access lines (as nginx's
// "access_log ... buffer=" does) turns thousands of writes a second into a
// few. The price is that an access line may appear up to one flush
// interval late, or be lost if the process is killed; lines about failures
// and everything that is not an access line are written at once, after
// whatever is pending, so the log stays in order.
package logbatch

import (
	"context"
	"io"
	"sync"
	"time"
)

// maxPending bounds the bytes waiting for a flush; past it a batched write
// flushes at once.
const maxPending = 64 << 10

// Writer is one output (stderr, say) shared by a batched and a direct
// stream. It is safe for concurrent use.
type Writer struct {
	mu  sync.Mutex
	out io.Writer
	buf []byte
}

// New returns a Writer on out.
func New(out io.Writer) *Writer { return &Writer{out: out} }

// Batched returns the stream whose writes wait for the next flush.
func (w *Writer) Batched() io.Writer { return batched{w} }

// Direct returns the stream whose writes go out at once, after whatever is
// pending.
func (w *Writer) Direct() io.Writer { return direct{w} }

type batched struct{ w *Writer }

func (b batched) Write(p []byte) (int, error) {
	b.w.mu.Lock()
	defer b.w.mu.Unlock()
	b.w.buf = append(b.w.buf, p...)
	if len(b.w.buf) >= maxPending {
		if err := b.w.flushLocked(); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

type direct struct{ w *Writer }

func (d direct) Write(p []byte) (int, error) {
	d.w.mu.Lock()
	defer d.w.mu.Unlock()
	if err := d.w.flushLocked(); err != nil {
		return 0, err
	}
	return d.w.out.Write(p)
}

// Flush writes whatever is pending.
func (w *Writer) Flush() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.flushLocked()
}

func (w *Writer) flushLocked() error {
	if len(w.buf) == 0 {
		return nil
	}
	_, err := w.out.Write(w.buf)
	w.buf = w.buf[:0]
	return err
}

// Run flushes every interval until ctx is done, then once more.
func (w *Writer) Run(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			_ = w.Flush()
			return
		case <-t.C:
			_ = w.Flush()
		}
	}
}
