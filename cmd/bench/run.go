package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// debianPackages names, for each tool the harness runs, the Debian
// package that installs it.
func debianPackages() [][2]string {
	return [][2]string{{"wrk", "wrk"}, {"redis-server", "redis-server"}, {"go", "golang (or Go from go.dev)"}}
}

func checkTools() error {
	for _, t := range debianPackages() {
		if _, err := exec.LookPath(t[0]); err != nil {
			return fmt.Errorf("%s is not on PATH: install the Debian package %s (apt-get install %s)", t[0], t[1], strings.Fields(t[1])[0])
		}
	}
	return nil
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) (err error) {
	opts, err := parseOptions(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := checkTools(); err != nil {
		return err
	}
	root, err := moduleRoot(ctx)
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "oauthd-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	// Stopped after the processes (deferred before them): their last
	// spans reach it.
	sink, err := startOTLPSink(opts.TraceSample)
	if err != nil {
		return err
	}
	defer sink.close()
	var ps procs
	defer func() {
		if serr := ps.stop(); serr != nil {
			err = errors.Join(err, fmt.Errorf("stopping: %w", serr))
		}
	}()

	m := describeMachine(ctx)
	fmt.Fprintf(stdout, "oauthd load benchmark (make bench; docs/benchmarks.md explains each line)\n\n")
	// What comparisons (measure.go) declares: comparisons, and distinct
	// targets, each warmed up once.
	comparisons, targets := 11, 15
	if opts.Replicas > 1 {
		comparisons, targets = comparisons+1, targets+2
	}
	runs := comparisons * 2 * opts.Repeat
	fmt.Fprintf(stdout, "load:     wrk -t%d -c%d (keep-alive), %s runs, pairs per comparison: %d, warm-up per target: %s (about %s of load)\n",
		opts.Threads, opts.Connections, opts.Duration, opts.Repeat, opts.Warmup,
		time.Duration(runs)*opts.Duration+time.Duration(targets)*opts.Warmup)

	bin := filepath.Join(dir, "bin")
	start := time.Now()
	if err := build(ctx, root, bin); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "built:    oauthd, sms-api, baseline, echoapi from %s in %.1fs\n", revision(ctx, root), time.Since(start).Seconds())

	r, err := startRig(ctx, &ps, dir, bin, opts, sink.env())
	if err != nil {
		return err
	}
	defer r.rdb.Close()
	m.Redis = r.redisVersion
	fmt.Fprintln(stdout, m)
	fmt.Fprintf(stdout, "servers:  redis-server %s (no persistence), baseline %s, oauthd %s, sms-api %s (introspection cache 5m), echoapi %s; all log at info but the baseline and echoapi, which log nothing per request\n",
		r.redisAddr, r.baselineURL, r.oauthdURL, r.smsURL, r.echoURL)
	if len(r.replicas) > 1 {
		var urls []string
		for _, rp := range r.replicas[1:] {
			urls = append(urls, rp.url)
		}
		fmt.Fprintf(stdout, "replicas: %d oauthd on the one redis-server: %s and %s\n", len(r.replicas), r.oauthdURL, strings.Join(urls, ", "))
	}
	fmt.Fprintf(stdout, "cpu:      each run reads its server's CPU time from /proc/<pid>/stat (utime+stime, %d ticks a second) and redis-server's from INFO cpu\n\n", r.cpu.hz)
	fmt.Fprintf(stdout, "%s\n\n", sink)

	if opts.Feed > 0 {
		return r.feedBench(ctx, &ps, dir, opts, stdout)
	}
	cost, err := r.redisCosts(ctx, opts, stdout)
	if err != nil {
		return err
	}
	if err := ps.check(); err != nil {
		return err
	}
	apps, err := r.manyApps(ctx, dir, opts, stdout)
	if err != nil {
		return err
	}
	if err := ps.check(); err != nil {
		return err
	}
	// Timed before the load, while the servers are idle: it sizes the
	// DPoP middleware runs' proofs, and the report's arithmetic reads it.
	pc, err := measureProofCheck()
	if err != nil {
		return err
	}
	cmps, err := r.comparisons(ctx, dir, opts, apps, pc)
	if err != nil {
		return err
	}
	if opts.Only != nil {
		var names []string
		for _, c := range cmps {
			names = append(names, strconv.Quote(c.name))
		}
		cmps = slices.DeleteFunc(cmps, func(c *comparison) bool { return !opts.Only.MatchString(c.name) })
		if len(cmps) == 0 {
			return fmt.Errorf("-only %q matches no comparison; they are %s", opts.Only, strings.Join(names, ", "))
		}
	}
	fmt.Fprintf(stdout, "assertions: %d written before each private_key_jwt and DPoP token run, each used once; a run that uses them up shows non-2xx answers (-assertions)\n",
		assertionsPerRun(opts))
	proofsLine := "1.5 times the checks a second the dpop: line at the end allows, per second of a run"
	if opts.Proofs > 0 {
		proofsLine = "-proofs"
	}
	fmt.Fprintf(stdout, "proofs:   %d written before each DPoP middleware run (%s), each used once; a run that uses them up shows non-2xx answers\n",
		proofsPerRun(opts, pc), proofsLine)
	l := load{Threads: opts.Threads, Connections: opts.Connections, Duration: opts.Duration}
	mt := meter{proc: r.procCPU, redis: func(ctx context.Context) (time.Duration, error) { return readRedisCPU(ctx, r.rdb) }}
	if err := measure(ctx, &ps, mt, l, opts.Warmup, opts.Repeat, cmps, stdout); err != nil {
		return err
	}
	report(stdout, opts, cmps, cost, apps.cost)
	capacity(stdout, opts, cmps, cost, apps)
	fmt.Fprintln(stdout)
	dpopArithmetic(stdout, pc, cmps)
	if sink != nil {
		fmt.Fprintf(stdout, "\n%s\n", sink)
	}
	return nil
}

// moduleRoot is the directory of oauthd's go.mod, so the harness builds
// the code of the tree it was started in.
func moduleRoot(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "list", "-m", "-f", "{{.Path}} {{.Dir}}").Output()
	if err != nil {
		return "", fmt.Errorf("finding the module (run make bench in the oauthd repository): %v", err)
	}
	path, dir, _ := strings.Cut(strings.TrimSpace(string(out)), " ")
	if path != "github.com/oauthd/oauthd" {
		return "", fmt.Errorf("run make bench in the oauthd repository (this is module %q)", path)
	}
	return dir, nil
}

// revision names the code measured, so figures can be matched to a
// commit: branch@commit, "-dirty" when the tree has uncommitted changes.
func revision(ctx context.Context, root string) string {
	git := func(args ...string) string {
		cmd := exec.CommandContext(ctx, "git", args...)
		cmd.Dir = root
		out, err := cmd.Output()
		if err != nil {
			return ""
		}
		return strings.TrimSpace(string(out))
	}
	commit := git("describe", "--always", "--dirty")
	if commit == "" {
		return "an unknown revision (not a git checkout)"
	}
	return git("rev-parse", "--abbrev-ref", "HEAD") + "@" + commit
}

// build compiles the three servers into bin, as make build does.
func build(ctx context.Context, root, bin string) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", bin+string(filepath.Separator),
		"./cmd/oauthd", "./cmd/sms-api", "./cmd/bench/baseline", "./cmd/bench/echoapi")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build: %v\n%s", err, out)
	}
	return nil
}
