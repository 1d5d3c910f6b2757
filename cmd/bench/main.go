// Command bench is `make bench`, the load benchmark of issue 9. It builds
// oauthd, the example sms-api and a baseline server (cmd/bench/baseline),
// starts them on a real redis-server on loopback, drives each with wrk in
// alternating pairs against the baseline, and prints throughput, latency,
// the ratios to the baseline with their targets, and what a token costs
// Redis. docs/benchmarks.md explains every line.
//
// A missed target is reported, not an error: the exit status is non-zero
// only when the harness itself could not run (a tool missing, a process
// that did not start or died).
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// A closed stdout (make bench | head) would kill the harness outright
	// with SIGPIPE, skipping its cleanup; taking the signal turns it into
	// a write error, which cancelOnError makes end the run cleanly.
	signal.Notify(make(chan os.Signal, 1), syscall.SIGPIPE)
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	if err := run(ctx, os.Args[1:], &cancelOnError{w: os.Stdout, cancel: cancel}, os.Stderr); err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("stopped (%v); every process it started has been stopped", context.Cause(ctx))
		}
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// cancelOnError ends the run at the first failed write: figures nobody
// can read are not worth the minutes.
type cancelOnError struct {
	w      io.Writer
	cancel context.CancelCauseFunc
}

func (c *cancelOnError) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	if err != nil {
		c.cancel(fmt.Errorf("writing the output: %w", err))
	}
	return n, err
}
