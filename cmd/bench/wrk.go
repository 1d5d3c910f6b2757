package main

import (
	"bytes"
	"context"
	"embed"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// The wrk scripts. report.lua is appended to each: it counts answers
// outside 2xx and prints the line parseWrk reads.
//
//go:embed fixed.lua introspect.lua tokens.lua assertions.lua dpop.lua report.lua
var luaFS embed.FS

// writeScripts writes each request script, with report.lua appended, to
// dir and returns their paths by name.
func writeScripts(dir string) (map[string]string, error) {
	report, err := luaFS.ReadFile("report.lua")
	if err != nil {
		return nil, err
	}
	paths := map[string]string{}
	for _, name := range []string{"fixed.lua", "introspect.lua", "tokens.lua", "assertions.lua", "dpop.lua"} {
		src, err := luaFS.ReadFile(name)
		if err != nil {
			return nil, err
		}
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, append(append(src, '\n'), report...), 0o644); err != nil {
			return nil, err
		}
		paths[name] = p
	}
	return paths, nil
}

// load is how wrk drives a target.
type load struct {
	Threads, Connections int
	Duration             time.Duration
}

// runResult is one wrk run.
type runResult struct {
	Requests     int64
	RPS          float64
	P50, P99     time.Duration
	Non2xx       int64 // answers outside 2xx
	SocketErrors int64 // connect, read, write errors and timeouts
	// CPU is the user+system time of the target's processes during the
	// run, RedisCPU redis-server's (meter.run sets them).
	CPU, RedisCPU time.Duration
}

// runWrk runs wrk once against url with the given script and its
// arguments, and parses what it prints.
func runWrk(ctx context.Context, l load, script, url string, args ...string) (runResult, error) {
	argv := []string{
		"-t", strconv.Itoa(l.Threads),
		"-c", strconv.Itoa(l.Connections),
		"-d", strconv.Itoa(int(l.Duration / time.Second)),
		"-s", script, url, "--",
	}
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, "wrk", append(argv, args...)...)
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return runResult{}, ctx.Err() // interrupted: wrk was killed, its output means nothing
		}
		return runResult{}, fmt.Errorf("wrk %s: %v; it printed:\n%s", url, err, out.String())
	}
	r, err := parseWrk(out.String())
	if err != nil {
		return r, fmt.Errorf("wrk %s: %v; it printed:\n%s", url, err, out.String())
	}
	return r, nil
}

// parseWrk reads wrk's summary and the BENCH line report.lua's done()
// prints. Latency percentiles come from done() (wrk prints them only with
// --latency, rounded); requests per second from wrk's own summary line.
func parseWrk(out string) (runResult, error) {
	var r runResult
	var bench map[string]int64
	var wrkNon2xx int64
	haveRPS := false
	for _, line := range strings.Split(out, "\n") {
		line = strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(line, "Requests/sec:"):
			v, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimPrefix(line, "Requests/sec:")), 64)
			if err != nil {
				return r, fmt.Errorf("bad Requests/sec line %q", line)
			}
			r.RPS, haveRPS = v, true
		case strings.HasPrefix(line, "Non-2xx or 3xx responses:"):
			v, err := strconv.ParseInt(strings.TrimSpace(strings.TrimPrefix(line, "Non-2xx or 3xx responses:")), 10, 64)
			if err != nil {
				return r, fmt.Errorf("bad Non-2xx line %q", line)
			}
			wrkNon2xx = v
		case strings.HasPrefix(line, "BENCH "):
			kv, err := parseFields(strings.TrimPrefix(line, "BENCH "))
			if err != nil {
				return r, fmt.Errorf("bad BENCH line %q: %v", line, err)
			}
			bench = kv
		}
	}
	if !haveRPS {
		return r, fmt.Errorf("no Requests/sec line")
	}
	if bench == nil {
		return r, fmt.Errorf("no BENCH line from the script's done()")
	}
	for _, k := range []string{"requests", "p50_us", "p99_us", "non2xx", "connect", "read", "write", "timeout"} {
		if _, ok := bench[k]; !ok {
			return r, fmt.Errorf("BENCH line lacks %s", k)
		}
	}
	r.Requests = bench["requests"]
	r.P50 = time.Duration(bench["p50_us"]) * time.Microsecond
	r.P99 = time.Duration(bench["p99_us"]) * time.Microsecond
	// The script counts every status outside 2xx; wrk's own line counts
	// only 4xx and 5xx. Take the larger, so neither can hide the other.
	r.Non2xx = max(bench["non2xx"], wrkNon2xx)
	r.SocketErrors = bench["connect"] + bench["read"] + bench["write"] + bench["timeout"]
	if r.Requests == 0 {
		return r, fmt.Errorf("no request completed")
	}
	return r, nil
}

// parseFields reads "k=v k=v" with integer values.
func parseFields(s string) (map[string]int64, error) {
	kv := map[string]int64{}
	for _, f := range strings.Fields(s) {
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			return nil, fmt.Errorf("%q is not key=value", f)
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", k, err)
		}
		kv[k] = n
	}
	return kv, nil
}
