package main

import (
	"math"
	"os"
	"strings"
	"testing"
	"time"
)

// A line of /proc/<pid>/stat as Linux writes it (proc(5)); utime is field
// 14 (1234 here) and stime field 15 (567).
const statLine = "4242 (%s) S 1 4242 4242 0 -1 4194560 2195 0 0 0 1234 567 0 0 20 0 9 0 86606 1373962240 5000 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n"

func TestParseProcStat(t *testing.T) {
	for _, tc := range []struct {
		name, stat string
		want       int64
		wantErr    string
	}{
		{"plain", strings.Replace(statLine, "%s", "oauthd", 1), 1234 + 567, ""},
		{"a name with spaces and parentheses", strings.Replace(statLine, "%s", "my (odd) name", 1), 1234 + 567, ""},
		{"a name that looks like fields", strings.Replace(statLine, "%s", ") R 1 2 3 4 5 6 7 8 9 10 11 12", 1), 1234 + 567, ""},
		{"no name", "4242 S 1 2", 0, "no ')'"},
		{"cut short", "4242 (oauthd) S 1 4242 4242 0 -1 4194560 2195 0 0 0 1234", 0, "fields"},
		{"not a number", strings.Replace(strings.Replace(statLine, "%s", "x", 1), " 1234 ", " 12a4 ", 1), 0, "ticks"},
		{"negative", strings.Replace(strings.Replace(statLine, "%s", "x", 1), " 567 ", " -5 ", 1), 0, "ticks"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseProcStat(tc.stat)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("parseProcStat = %d, %v; want %d", got, err, tc.want)
			}
		})
	}
}

// TestCPUClockOfSelf reads this process's own /proc entry: what the
// harness reads of each server.
func TestCPUClockOfSelf(t *testing.T) {
	c := cpuClock{hz: clockTicks(t.Context())}
	if c.hz <= 0 {
		t.Fatalf("clock ticks %d", c.hz)
	}
	before, err := c.of(selfPID())
	if err != nil {
		t.Skipf("no /proc here: %v", err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		// Burn CPU until the kernel's tick-granular counter moves.
		x := 0
		for i := range 1_000_000 {
			x += i
		}
		_ = x
		after, err := c.of(selfPID())
		if err != nil {
			t.Fatal(err)
		}
		if after > before {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("CPU time did not move in 5s of work: %v", after)
		}
	}
}

func TestParseClockTicks(t *testing.T) {
	for _, tc := range []struct {
		out  string
		want int64
		ok   bool
	}{
		{"100\n", 100, true},
		{"  1000 ", 1000, true},
		{"", 0, false},
		{"0\n", 0, false},
		{"-100", 0, false},
		{"undefined\n", 0, false},
	} {
		got, ok := parseClockTicks(tc.out)
		if ok != tc.ok || ok && got != tc.want {
			t.Errorf("parseClockTicks(%q) = %d, %v; want %d, %v", tc.out, got, ok, tc.want, tc.ok)
		}
	}
}

func TestRedisCPU(t *testing.T) {
	info := "# CPU\r\nused_cpu_sys:1.250000\r\nused_cpu_user:2.500125\r\nused_cpu_sys_children:9.000000\r\nused_cpu_user_children:9.000000\r\n"
	for _, tc := range []struct {
		name, info string
		want       time.Duration
		wantErr    string
	}{
		{"INFO cpu", info, 3750125 * time.Microsecond, ""},
		{"no user time", "used_cpu_sys:1.0\r\n", 0, "used_cpu_user"},
		{"garbage", "used_cpu_sys:1.0\r\nused_cpu_user:lots\r\n", 0, "used_cpu_user"},
		{"negative", "used_cpu_sys:-1.0\r\nused_cpu_user:1\r\n", 0, "used_cpu_sys"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := redisCPU(parseInfo(tc.info))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("redisCPU = %v, %v; want %v", got, err, tc.want)
			}
		})
	}
}

func TestPerRequest(t *testing.T) {
	if got := perRequest(2*time.Second, 100_000); got != 20 {
		t.Errorf("2s over 100,000 requests: %v us, want 20", got)
	}
	if got := perRequest(time.Second, 0); got != 0 {
		t.Errorf("no requests: %v, want 0", got)
	}
}

func TestSumRuns(t *testing.T) {
	got := sumRuns([]runResult{
		{Requests: 100, RPS: 20, P50: 2 * time.Millisecond, P99: 9 * time.Millisecond, Non2xx: 1},
		{Requests: 50, RPS: 10, P50: 3 * time.Millisecond, P99: 7 * time.Millisecond, SocketErrors: 2},
	})
	want := runResult{Requests: 150, RPS: 30, P50: 3 * time.Millisecond, P99: 9 * time.Millisecond, Non2xx: 1, SocketErrors: 2}
	if got != want {
		t.Errorf("sumRuns = %+v, want %+v", got, want)
	}
}

func TestSize(t *testing.T) {
	in := sizingInput{OAuthdUS: 50, RedisUS: 10, BytesPerToken: 100, BytesPerApp: 500, BytesPerBucket: 100,
		Lifetime: time.Hour, Apps: 1000, ShardBytes: 16 << 30}
	apps := 1000 * (500 + 65*100.0)
	for _, tc := range []struct {
		name   string
		in     sizingInput
		rate   float64
		want   sizing
		shards int
	}{
		// 10k/s: 0.5 oauthd cores, 0.1 Redis core at 50%: one shard;
		// 10k × 3600 × 100 bytes of tokens.
		{"10k", in, 10_000, sizing{Rate: 10_000, OAuthdCores: 0.5, RedisCores: 0.2, MemoryBytes: 100*10_000*3600 + apps}, 1},
		{"1M: memory (21 primaries of 16 GiB) over CPU (20)", in, 1_000_000, sizing{Rate: 1_000_000, OAuthdCores: 50, RedisCores: 20, MemoryBytes: 100*1e6*3600 + apps}, 21},
		// 360 GB of tokens needs more primaries than the CPU does at 16 GiB each.
		{"memory decides alone", sizingInput{OAuthdUS: 50, RedisUS: 1, BytesPerToken: 100, Lifetime: time.Hour, ShardBytes: 16 << 30}, 1_000_000,
			sizing{Rate: 1_000_000, OAuthdCores: 50, RedisCores: 2, MemoryBytes: 100 * 1e6 * 3600}, 21},
		{"no shard bound", sizingInput{RedisUS: 10}, 100_000, sizing{Rate: 100_000, RedisCores: 2}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := size(tc.in, tc.rate)
			near := func(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(b)) }
			if !near(got.OAuthdCores, tc.want.OAuthdCores) || !near(got.RedisCores, tc.want.RedisCores) ||
				!near(got.MemoryBytes, tc.want.MemoryBytes) || got.Shards != tc.shards {
				t.Fatalf("size = %+v, want %+v with %d shards", got, tc.want, tc.shards)
			}
			if !near(got.PerShardByte, got.MemoryBytes/float64(got.Shards)) {
				t.Errorf("per shard %v", got.PerShardByte)
			}
		})
	}
}

func TestCount(t *testing.T) {
	for n, want := range map[float64]string{10_000: "10k", 100_000: "100k", 1_000_000: "1M", 500: "500", 2_500_000: "2.5M"} {
		if got := count(n); got != want {
			t.Errorf("count(%v) = %q, want %q", n, got, want)
		}
	}
}

func selfPID() int { return os.Getpid() }

// TestCapacityReport: the per-core and sizing lines come from the targets'
// roles, and a memory figure at or below zero sizes no memory.
func TestCapacityReport(t *testing.T) {
	run := func(cpu, redisCPU time.Duration) series {
		return series{{Requests: 100_000, RPS: 10_000, CPU: cpu, RedisCPU: redisCPU}}
	}
	cmps := []*comparison{
		{base: target{name: "b", role: roleBaselineToken}, baseRuns: run(4*time.Second, 2*time.Second),
			subject: target{name: "t", role: roleTokenCached}, subjectRuns: run(5*time.Second, time.Second)},
		{base: target{name: "b"}, baseRuns: run(time.Second, time.Second),
			subject: target{name: "i", role: roleIntrospect}, subjectRuns: run(2*time.Second, time.Second/2)},
		{base: target{name: "few"}, baseRuns: run(time.Second, time.Second),
			subject: target{name: "many", role: roleTokenUncached}, subjectRuns: run(6*time.Second, 2*time.Second)},
	}
	opts := options{SizingLifetime: time.Hour, SizingApps: 1000, SizingShardGiB: 16}
	apps := &appsScenario{memory: appsMemory{Apps: 1000, Before: 0, Created: 500_000, Tokened: 1000, BeforeTok: 0, AfterTok: 300_000}}
	for _, tc := range []struct {
		name      string
		perToken  float64
		want, not []string
	}{
		{"measured", 100, []string{
			"per core: oauthd 20000 tokens/s (application cached), 16667 (not cached), 50000 introspections/s; baseline 25000 tokens/s",
			"redis:    1.00 CPU-seconds per 100,000 tokens (cached), 2.00 (not cached); 0.50 per 100,000 introspections",
			"60.0 us oauthd and 20.0 us Redis CPU per token",
			"| 10k | 0.6 | 0.4 | 1 | 2 | 3.4 GiB | 3.4 GiB |",
			"| 1M | 60.0 | 40.0 | 40 | 80 |",
		}, []string{"not measured"}},
		{"memory below zero", -39, []string{"| 10k | 0.6 | 0.4 | 1 | 2 | not measured | - |", "memory not sized"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b strings.Builder
			capacity(&b, opts, cmps, redisCost{BytesPerToken: tc.perToken}, apps)
			for _, w := range tc.want {
				if !strings.Contains(b.String(), w) {
					t.Errorf("no %q in:\n%s", w, b.String())
				}
			}
			for _, w := range tc.not {
				if strings.Contains(b.String(), w) {
					t.Errorf("%q in:\n%s", w, b.String())
				}
			}
		})
	}
}
