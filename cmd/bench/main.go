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
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("interrupted; every process it started has been stopped (%w)", err)
		}
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}
