package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"regexp"
	"time"

	"github.com/oauthd/oauthd/store/redis"
)

// options are the harness's flags (make bench ARGS="...").
type options struct {
	Duration         time.Duration // one measured wrk run
	Warmup           time.Duration // one unmeasured run per target before the pairs; 0 skips
	Repeat           int           // pairs per comparison
	Threads          int           // wrk -t
	Connections      int           // wrk -c
	MemoryTokens     int           // tokens issued to measure Redis bytes per token
	StatTokens       int           // tokens issued to count Redis commands per token
	IntrospectTokens int           // live tokens the introspection runs rotate through
	Apps             int           // applications the many-applications comparison asks uniformly
	Assertions       int           // client assertions written for each private_key_jwt run; 0: 20,000 per second
	Proofs           int           // DPoP proofs written for each DPoP middleware run; 0: from the measured proof check (proofsPerRun)
	Quick            bool
	Feed             int // feed subscribers: runs the fan-out comparison instead of the others
	FeedRate         int // feed events published per second during it
	// TraceSample, above 0, runs oauthd and sms-api with OpenTelemetry
	// tracing on, this fraction of traces sampled and exported to a
	// receiver in the harness that drops them.
	TraceSample float64
	// Replicas, at 2 or more, starts that many oauthd on the one Redis
	// and adds the multi-replica comparison (the capacity model's
	// linearity check).
	Replicas int
	// SizingLifetime and SizingApps are the deployment the sizing table
	// holds tokens and applications for.
	SizingLifetime time.Duration
	SizingApps     int
	SizingShardGiB int // the most memory one Redis primary is sized to hold
	// Only, when set, keeps the comparisons whose name it matches: one
	// line measured again without the whole run.
	Only *regexp.Regexp
}

func parseOptions(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), "Usage: go run ./cmd/bench [flags]   (make bench ARGS=\"flags\")\n\n"+
			"Benchmarks oauthd against a baseline with wrk on a real redis-server; see docs/benchmarks.md.\n\n")
		fs.PrintDefaults()
	}
	fs.DurationVar(&o.Duration, "duration", 5*time.Second, "length of each measured wrk run (whole seconds)")
	fs.DurationVar(&o.Warmup, "warmup", time.Second, "length of one unmeasured run per target before the pairs (whole seconds; 0s skips)")
	fs.IntVar(&o.Repeat, "repeat", 3, "pairs per comparison; figures are medians over them")
	fs.IntVar(&o.Threads, "threads", 2, "wrk threads")
	fs.IntVar(&o.Connections, "connections", 50, "wrk connections (keep-alive)")
	fs.IntVar(&o.MemoryTokens, "memory-tokens", 100_000, "tokens issued to measure Redis bytes per live token")
	fs.IntVar(&o.StatTokens, "stat-tokens", 1_000, "tokens issued to count Redis commands per token issue")
	fs.IntVar(&o.IntrospectTokens, "introspect-tokens", 1_000, "live tokens the introspection runs rotate through")
	fs.IntVar(&o.Apps, "apps", 100_000, "applications the many-applications comparison asks uniformly, against 1,000")
	fs.IntVar(&o.Assertions, "assertions", 0, "client assertions (each used once) written before each private_key_jwt run; 0: 20,000 per second of the run, about twice oauthd's token rate. A run that uses them up shows non-2xx answers")
	fs.IntVar(&o.Proofs, "proofs", 0, "DPoP proofs (each used once) written before each DPoP middleware run; 0: per second of the run, 1.5 times what the machine's cores could check if they only verified signatures. A run that uses them up shows non-2xx answers")
	fs.IntVar(&o.Feed, "feed", 0, "run only the revocation feed fan-out comparison, with this many subscribers (e.g. 1000)")
	fs.IntVar(&o.FeedRate, "feed-rate", 10, "feed events published per second during the fan-out comparison")
	fs.Float64Var(&o.TraceSample, "trace-sample", 0, "run oauthd and sms-api with OpenTelemetry tracing on, sampling this fraction of traces (e.g. 0.01) to an OTLP receiver in the harness that drops them; 0: tracing off")
	fs.IntVar(&o.Replicas, "replicas", 1, "oauthd processes on the one redis-server; 2 or more adds token issue on all of them at once against one (wrk per replica, summed)")
	fs.DurationVar(&o.SizingLifetime, "sizing-lifetime", time.Hour, "token lifetime the sizing table's memory assumes (tokens live that long in Redis)")
	fs.IntVar(&o.SizingApps, "sizing-apps", 100_000, "applications the sizing table's memory assumes")
	fs.IntVar(&o.SizingShardGiB, "sizing-shard-gib", 16, "the most memory (GiB) the sizing table puts on one Redis primary")
	fs.Func("only", "run only the comparisons whose name matches this regular expression (e.g. -only '100000 apps|introspection'); the capacity model then lacks the others' figures", func(v string) error {
		re, err := regexp.Compile(v)
		o.Only = re
		return err
	})
	fs.BoolVar(&o.Quick, "quick", false, "smoke test: 1s runs, one pair each, few tokens (flags given explicitly still win)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q (flags only; see -h)", fs.Arg(0))
	}
	if o.Quick {
		// A smoke test of the whole harness in well under a minute; its
		// figures are too short to mean much.
		quick := map[string]string{
			"duration":          "1s",
			"warmup":            "0s",
			"repeat":            "1",
			"memory-tokens":     "2000",
			"stat-tokens":       "200",
			"introspect-tokens": "100",
			"apps":              "20000",
		}
		set := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
		for name, v := range quick {
			if !set[name] {
				if err := fs.Set(name, v); err != nil {
					return o, err
				}
			}
		}
	}
	return o, o.validate()
}

func (o options) validate() error {
	checks := []struct {
		ok  bool
		msg string
	}{
		{o.Duration >= time.Second && o.Duration%time.Second == 0, "-duration: use whole seconds, at least 1s (wrk counts in seconds)"},
		{o.Warmup >= 0 && o.Warmup%time.Second == 0, "-warmup: use whole seconds, or 0s to skip"},
		{o.Repeat >= 1, "-repeat: at least 1"},
		{o.Threads >= 1, "-threads: at least 1"},
		{o.Connections >= o.Threads, "-connections: at least one per thread"},
		{o.MemoryTokens >= 100, "-memory-tokens: at least 100, or the figure is noise"},
		{o.StatTokens >= 10, "-stat-tokens: at least 10"},
		{o.IntrospectTokens >= 1, "-introspect-tokens: at least 1"},
		{o.Apps >= appsRounds*o.StatTokens+redis.DefaultAppCacheSize+100, fmt.Sprintf("-apps: at least %d × -stat-tokens + %d, more than oauthd's application cache holds", appsRounds, redis.DefaultAppCacheSize+100)},
		{o.Assertions >= 0, "-assertions: a number of assertions, or 0 for 20,000 per second of the run"},
		{o.Proofs >= 0, "-proofs: a number of proofs, or 0 to size them from the measured proof check"},
		{o.Feed >= 0, "-feed: a number of subscribers, or 0 for the usual comparisons"},
		{o.FeedRate >= 0 && o.FeedRate <= 1000, "-feed-rate: between 0 (heartbeats only) and 1000 events per second"},
		{o.TraceSample >= 0 && o.TraceSample <= 1, "-trace-sample: a fraction between 0 (tracing off) and 1"},
		{o.Replicas >= 1 && o.Replicas <= 8, "-replicas: between 1 and 8 oauthd processes"},
		{o.Replicas == 1 || o.Connections >= o.Replicas && o.Threads >= 1, "-replicas: at least one wrk connection per replica (-connections)"},
		{o.SizingLifetime > 0, "-sizing-lifetime: a positive duration, e.g. 1h"},
		{o.SizingApps >= 0, "-sizing-apps: a number of applications"},
		{o.SizingShardGiB >= 1, "-sizing-shard-gib: at least 1"},
	}
	for _, c := range checks {
		if !c.ok {
			return errors.New(c.msg)
		}
	}
	return nil
}
