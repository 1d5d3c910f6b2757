package main

import (
	"fmt"
	"io"
	"math"
	"strings"
	"testing"
	"time"
)

// wrkOut is wrk 4.1.0's output for a run with report.lua's line, as a
// format for out (hence the doubled percent signs).
const wrkOut = `Running 5s test @ http://127.0.0.1:40947/oauth/token
  2 threads and 50 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     6.61ms    3.20ms  41.29ms   78.14%%
    Req/Sec     3.80k   301.46     4.40k    71.00%%
  37860 requests in 5.00s, 9.86MB read
%sRequests/sec:   7567.03
Transfer/sec:      1.97MB
BENCH requests=37860 duration_us=5003402 p50_us=6310 p99_us=14410 non2xx=%d connect=0 read=%d write=0 timeout=%d
`

// out fills wrkOut: the summary lines wrk adds for failures, and the
// script's counts.
func out(wrkLines string, non2xx, read, timeout int) string {
	return fmt.Sprintf(wrkOut, wrkLines, non2xx, read, timeout)
}

func TestParseWrk(t *testing.T) {
	ok := runResult{Requests: 37860, RPS: 7567.03, P50: 6310 * time.Microsecond, P99: 14410 * time.Microsecond}
	tests := []struct {
		name    string
		out     string
		want    runResult
		wantErr string
	}{
		{"clean run", out("", 0, 0, 0), ok, ""},
		{"script counts non-2xx", out("  Non-2xx or 3xx responses: 12\n", 15, 0, 0), with(ok, func(r *runResult) { r.Non2xx = 15 }), ""},
		// wrk's own count (4xx and 5xx) wins if the script's is lower, so
		// a script bug cannot hide failures.
		{"wrk's count is larger", out("  Non-2xx or 3xx responses: 12\n", 0, 0, 0), with(ok, func(r *runResult) { r.Non2xx = 12 }), ""},
		{"socket errors add up", out("  Socket errors: connect 0, read 3, write 0, timeout 4\n", 0, 3, 4), with(ok, func(r *runResult) { r.SocketErrors = 7 }), ""},
		{"no BENCH line", "Requests/sec: 10.0\n", runResult{}, "no BENCH line"},
		{"no Requests/sec", "BENCH requests=1 p50_us=1 p99_us=1 non2xx=0 connect=0 read=0 write=0 timeout=0\n", runResult{}, "no Requests/sec"},
		{"BENCH field missing", "Requests/sec: 10.0\nBENCH requests=1 p50_us=1\n", runResult{}, "lacks p99_us"},
		{"BENCH value not a number", "Requests/sec: 10.0\nBENCH requests=x\n", runResult{}, "bad BENCH line"},
		{"nothing completed", "Requests/sec: 0.00\nBENCH requests=0 p50_us=0 p99_us=0 non2xx=0 connect=50 read=0 write=0 timeout=0\n", runResult{}, "no request completed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseWrk(tt.out)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func with(r runResult, f func(*runResult)) runResult {
	f(&r)
	return r
}

func TestMedian(t *testing.T) {
	tests := []struct {
		in   []float64
		want float64
	}{
		{nil, 0},
		{[]float64{4}, 4},
		{[]float64{3, 1, 2}, 2},
		{[]float64{9, 1, 2, 4}, 3},
		{[]float64{100, 1, 2}, 2}, // one disturbed run does not move it
	}
	for _, tt := range tests {
		in := append([]float64(nil), tt.in...)
		if got := median(tt.in); got != tt.want {
			t.Errorf("median(%v) = %v, want %v", tt.in, got, tt.want)
		}
		for i := range in {
			if in[i] != tt.in[i] {
				t.Errorf("median reordered its input: %v", tt.in)
			}
		}
	}
}

func TestPairRatios(t *testing.T) {
	run := func(rps float64, p99ms int) runResult {
		return runResult{RPS: rps, P99: time.Duration(p99ms) * time.Millisecond}
	}
	tests := []struct {
		name          string
		base, subject series
		rps, p99      float64
	}{
		{"one pair", series{run(100, 10)}, series{run(150, 5)}, 1.5, 0.5},
		// Ratios are taken within each pair, then the median: the slow
		// second pair (machine busy for both) does not skew the result as
		// medians of each side would.
		{"ratios within pairs", series{run(100, 10), run(50, 20), run(100, 10)}, series{run(120, 10), run(60, 40), run(110, 5)}, 1.2, 1},
		{"zero baseline skipped", series{run(0, 0), run(100, 10)}, series{run(50, 5), run(200, 20)}, 2, 2},
		{"no runs", nil, nil, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rps, p99 := pairRatios(tt.base, tt.subject)
			if math.Abs(rps-tt.rps) > 1e-9 || math.Abs(p99-tt.p99) > 1e-9 {
				t.Errorf("pairRatios = %v, %v; want %v, %v", rps, p99, tt.rps, tt.p99)
			}
		})
	}
}

func TestSeries(t *testing.T) {
	s := series{
		{RPS: 10, P50: 3 * time.Millisecond, P99: 9 * time.Millisecond, Non2xx: 1},
		{RPS: 30, P50: 1 * time.Millisecond, P99: 30 * time.Millisecond, SocketErrors: 2},
		{RPS: 20, P50: 2 * time.Millisecond, P99: 10 * time.Millisecond, Non2xx: 4},
	}
	if s.rps() != 20 || s.p50() != 2*time.Millisecond || s.p99() != 10*time.Millisecond || s.non2xx() != 5 || s.socketErrors() != 2 {
		t.Errorf("rps %v p50 %v p99 %v non2xx %d socket %d", s.rps(), s.p50(), s.p99(), s.non2xx(), s.socketErrors())
	}
}

func TestGoal(t *testing.T) {
	tests := []struct {
		g    goal
		want string
	}{
		{goal{value: 1.1, want: 1.1}, "PASS"}, // at least: equal passes
		{goal{value: 1.09, want: 1.1}, "MISS"},
		{goal{value: 200, want: 200, atMost: true}, "PASS"}, // at most: equal passes
		{goal{value: 201, want: 200, atMost: true}, "MISS"},
		{goal{value: 0, want: 0, atMost: true}, "PASS"},
	}
	for _, tt := range tests {
		if got := tt.g.verdict(); got != tt.want {
			t.Errorf("%+v: %s, want %s", tt.g, got, tt.want)
		}
	}
}

// commandstats is INFO commandstats after CONFIG RESETSTAT and 100 token
// issues during which oauthd opened one connection (Redis 7 names
// subcommands with a bar).
const commandstats = "# Commandstats\r\n" +
	"cmdstat_get:calls=100,usec=90,usec_per_call=0.90,rejected_calls=0,failed_calls=0\r\n" +
	"cmdstat_set:calls=100,usec=150,usec_per_call=1.50,rejected_calls=0,failed_calls=0\r\n" +
	"cmdstat_zadd:calls=50,usec=80,usec_per_call=1.60,rejected_calls=0,failed_calls=0\r\n" +
	"cmdstat_config|resetstat:calls=1,usec=5,usec_per_call=5.00,rejected_calls=0,failed_calls=0\r\n" +
	"cmdstat_info:calls=2,usec=50,usec_per_call=25.00,rejected_calls=0,failed_calls=0\r\n" +
	"cmdstat_hello:calls=1,usec=9,usec_per_call=9.00,rejected_calls=0,failed_calls=0\r\n" +
	"cmdstat_client|setinfo:calls=2,usec=2,usec_per_call=1.00,rejected_calls=0,failed_calls=0\r\n"

func TestCommandsPerToken(t *testing.T) {
	calls, err := commandCalls(parseInfo(commandstats))
	if err != nil {
		t.Fatal(err)
	}
	got := perToken(calls, 100)
	want := commandCost{Total: 2.5, ByName: []nameValue{{"get", 1}, {"set", 1}, {"zadd", 0.5}}}
	if got.Total != want.Total || len(got.ByName) != len(want.ByName) {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	for i := range want.ByName {
		if got.ByName[i] != want.ByName[i] {
			t.Errorf("ByName[%d] = %+v, want %+v", i, got.ByName[i], want.ByName[i])
		}
	}
}

func TestCommandCallsErrors(t *testing.T) {
	for _, in := range []string{"cmdstat_get:usec=1\r\n", "cmdstat_get:calls=x,usec=1\r\n"} {
		if _, err := commandCalls(parseInfo(in)); err == nil {
			t.Errorf("commandCalls(%q) accepted it", in)
		}
	}
}

func TestParseInfo(t *testing.T) {
	m := parseInfo("# Memory\r\nused_memory:1234\r\nused_memory_human:1.21K\r\n\r\n# Server\r\nredis_version:7.0.15\r\n")
	if m["used_memory"] != "1234" || m["redis_version"] != "7.0.15" || m["used_memory_human"] != "1.21K" || len(m) != 3 {
		t.Errorf("parseInfo = %v", m)
	}
}

func TestMachineFacts(t *testing.T) {
	tests := []struct {
		name, got, want string
	}{
		{"cpu model", cpuModel("processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC 7B13  64-Core Processor\nprocessor\t: 1\nmodel name\t: other\n"), "AMD EPYC 7B13 64-Core Processor"},
		{"no cpu model", cpuModel("processor\t: 0\n"), ""},
		{"wrk version", wrkVersion("wrk debian/4.1.0-3+b2 [epoll] Copyright (C) 2012 Will Glozer\nUsage: wrk <options> <url>\n"), "debian/4.1.0-3+b2"},
		{"not wrk", wrkVersion("bash: wrk: command not found\n"), ""},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s: %q, want %q", tt.name, tt.got, tt.want)
		}
	}
	if got := memTotalGiB("MemTotal:       24608752 kB\nMemFree: 1 kB\n"); math.Abs(got-23.47) > 0.01 {
		t.Errorf("memTotalGiB = %v", got)
	}
}

func TestParseOptions(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		check   func(options) bool
		wantErr string
	}{
		{"defaults", nil, func(o options) bool {
			return o.Duration == 5*time.Second && o.Repeat == 3 && o.Connections == 50 && o.Threads == 2 && o.MemoryTokens == 100_000 && o.Apps == 100_000
		}, ""},
		{"quick", []string{"-quick"}, func(o options) bool {
			return o.Duration == time.Second && o.Repeat == 1 && o.Warmup == 0 && o.MemoryTokens == 2000 && o.Apps == 20_000
		}, ""},
		{"fewer applications than the cache holds", []string{"-apps", "5000"}, nil, "-apps"},
		{"explicit flags beat quick", []string{"-duration", "2s", "-quick"}, func(o options) bool {
			return o.Duration == 2*time.Second && o.Repeat == 1
		}, ""},
		{"fraction of a second", []string{"-duration", "1500ms"}, nil, "whole seconds"},
		{"no load", []string{"-repeat", "0"}, nil, "-repeat"},
		{"fewer connections than threads", []string{"-connections", "1"}, nil, "-connections"},
		{"stray argument", []string{"10s"}, nil, "unexpected argument"},
		{"two replicas", []string{"-replicas", "2"}, func(o options) bool { return o.Replicas == 2 }, ""},
		{"no replica", []string{"-replicas", "0"}, nil, "-replicas"},
		{"more replicas than connections", []string{"-replicas", "3", "-connections", "2", "-threads", "1"}, nil, "one wrk connection per replica"},
		{"sizing defaults", nil, func(o options) bool {
			return o.SizingLifetime == time.Hour && o.SizingApps == 100_000 && o.SizingShardGiB == 16 && o.Replicas == 1
		}, ""},
		{"no lifetime", []string{"-sizing-lifetime", "0s"}, nil, "-sizing-lifetime"},
		{"proofs given", []string{"-proofs", "5000"}, func(o options) bool { return o.Proofs == 5000 }, ""},
		{"negative proofs", []string{"-proofs", "-1"}, nil, "-proofs"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := parseOptions(tt.args, io.Discard)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !tt.check(o) {
				t.Errorf("options %+v", o)
			}
		})
	}
}

func TestLogged(t *testing.T) {
	ready := logged("oauthd listening")
	tests := []struct {
		line string
		want bool
	}{
		{`{"time":"2026-01-01T00:00:00Z","level":"INFO","msg":"oauthd listening","addr":"127.0.0.1:8080"}`, true},
		{`{"level":"INFO","msg":"oauthd admin listening"}`, false},
		{`time=2026-01-01 level=INFO msg="oauthd listening"`, false}, // text logs are not asked for
		{`oauthd listening`, false},
	}
	for _, tt := range tests {
		if got := ready(tt.line); got != tt.want {
			t.Errorf("logged(%q) = %v, want %v", tt.line, got, tt.want)
		}
	}
}

func TestTailBuffer(t *testing.T) {
	tests := []struct {
		name   string
		writes []string
		want   string
	}{
		{"nothing", nil, "  (no output)"},
		{"the last two lines", []string{"a\nb\n", "c\n"}, "  b\n  c"},
		{"lines split across writes", []string{"al", "pha\nbe", "ta\ngam", "ma\n"}, "  beta\n  gamma"},
		// 10 bytes kept at least: "line-4\nline-5\n" is trimmed to its
		// last 10 bytes and beyond, and a cut line is not shown.
		{"trimmed, cut line left out", []string{"line-1\n", "line-2\n", "line-3\n", "line-4\n", "line-5\n"}, "  line-5"},
	}
	for _, tt := range tests {
		b := newTailBuffer(10, 2)
		for _, w := range tt.writes {
			b.Write([]byte(w))
		}
		if got := b.String(); got != tt.want {
			t.Errorf("%s: got %q, want %q", tt.name, got, tt.want)
		}
	}
}

// oauthd's round trips are the sum of its Redis command histogram's
// counts, pipelines included; the buckets and sums are not counted.
func TestRoundTripsMetric(t *testing.T) {
	metrics := `# HELP oauthd_redis_command_duration_seconds Redis command latency seen by oauthd.
# TYPE oauthd_redis_command_duration_seconds histogram
oauthd_redis_command_duration_seconds_bucket{command="evalsha",le="0.0001"} 3
oauthd_redis_command_duration_seconds_sum{command="evalsha"} 0.5
oauthd_redis_command_duration_seconds_count{command="evalsha"} 1000
oauthd_redis_command_duration_seconds_count{command="pipeline"} 2
oauthd_redis_command_duration_seconds_count{command="other"} 1e+03
oauthd_tokens_issued_total 1000
`
	got, err := roundTripsMetric(strings.NewReader(metrics))
	if err != nil || got != 2002 {
		t.Fatalf("roundTripsMetric = %v, %v; want 2002", got, err)
	}
	if _, err := roundTripsMetric(strings.NewReader("oauthd_tokens_issued_total 1\n")); err == nil {
		t.Fatal("no series: accepted")
	}
	if _, err := roundTripsMetric(strings.NewReader(`oauthd_redis_command_duration_seconds_count{command="get"} x` + "\n")); err == nil {
		t.Fatal("a value that is no number: accepted")
	}
}

// The note beside a req/s ratio lists each pair's, and says when the
// target lies among them, which the median alone hides.
func TestSpread(t *testing.T) {
	for _, tt := range []struct {
		ratios []float64
		want   float64
		note   string
	}{
		{[]float64{0.87, 1.07, 1.14}, 0.95, "(pairs 0.87 1.07 1.14) the target lies within the pairs: more -repeat to tell"},
		{[]float64{0.81, 0.79, 0.75}, 0.95, "(pairs 0.81 0.79 0.75)"},
		{[]float64{1.2, 1.3}, 1.10, "(pairs 1.20 1.30)"},
		{[]float64{0.95, 1.0}, 0.95, "(pairs 0.95 1.00) the target lies within the pairs: more -repeat to tell"},
		{[]float64{0.7, 0.9}, 0, "(pairs 0.70 0.90)"},
		{[]float64{0.9}, 0.95, ""},
		{nil, 0.95, ""},
	} {
		if got := spread(tt.ratios, tt.want); got != tt.note {
			t.Errorf("spread(%v, %v) = %q, want %q", tt.ratios, tt.want, got, tt.note)
		}
	}
}
