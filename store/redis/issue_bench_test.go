package redis

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/oauthd/oauthd/store/redis/redistest"
)

// BenchmarkIssueToken is one token issue on a real redis-server, its
// application held by the store (cached) or not (uncached: the token
// script reads, decodes and checks the record, and the store decodes it
// from the answer). Beside ns/op (one round trip each) it reports what
// Redis spent on the token script's call, the commands it ran included
// (script-us/op, from INFO commandstats): the difference between the two
// is Redis's share of what make bench's many-applications line pays per
// miss (docs/benchmarks.md, "What stays short"). That is wall time, which
// a busy machine stretches whenever it takes Redis's core away; the CPU
// time Redis spent per token, reading and answering the call included
// (redis-cpu-us/op, from INFO cpu), is steadier for comparing scripts. Tokens go round 2,000
// applications whose buckets and usage hours exist already, that line's
// steady state.
//
//	go test -run '^$' -bench BenchmarkIssueToken -benchtime 20000x ./store/redis/
func BenchmarkIssueToken(b *testing.B) {
	ctx := context.Background()
	rdb := redistest.Start(b, redistest.Real).Client(b)
	const apps = 2000
	run := 0 // each run (-count) its own keys: the server outlives them
	for _, cached := range []bool{true, false} {
		name := map[bool]string{true: "cached", false: "uncached"}[cached]
		b.Run(name, func(b *testing.B) {
			run++
			s := New(rdb, Options{Prefix: fmt.Sprint(name, run)})
			if cached {
				s.apps.setUp(true)
			}
			ids := make([]string, apps)
			for i := range ids {
				ids[i] = fmt.Sprint("app-", i)
				a := issueApp(ids[i], 24*time.Hour)
				if err := s.CreateApplication(ctx, a); err != nil {
					b.Fatal(err)
				}
				if cached {
					s.apps.add(&a, s.apps.begin())
				}
			}
			at := time.Now().UTC().Truncate(time.Millisecond)
			issue := func(i int, round string) {
				r := tokenRequest(ids[i%apps], round, at)
				if _, err := s.IssueToken(ctx, r, accept(r)); err != nil {
					b.Fatal(err)
				}
			}
			for i := range apps {
				issue(i, "first") // every bucket and usage hour made
			}
			if err := rdb.ConfigResetStat(ctx).Err(); err != nil {
				b.Fatal(err)
			}
			cpu := redisCPU(b, rdb.Info(ctx, "cpu").Val())
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				issue(i, strconv.Itoa(i))
			}
			b.StopTimer()
			cpu = redisCPU(b, rdb.Info(ctx, "cpu").Val()) - cpu
			calls, usec := scriptStats(b, rdb.Info(ctx, "commandstats").Val())
			if calls != float64(b.N) {
				b.Fatalf("%v script calls for %d tokens, want one each", calls, b.N)
			}
			b.ReportMetric(usec/calls, "script-us/op")
			b.ReportMetric(cpu*1e6/float64(b.N), "redis-cpu-us/op")
		})
	}
}

// scriptStats reads EVALSHA's calls and time (usec) from INFO
// commandstats. A script's time includes that of the commands it ran.
func scriptStats(b *testing.B, info string) (calls, usec float64) {
	b.Helper()
	for _, line := range strings.Split(info, "\r\n") {
		rest, ok := strings.CutPrefix(line, "cmdstat_evalsha:")
		if !ok {
			continue
		}
		for _, kv := range strings.Split(rest, ",") {
			k, v, _ := strings.Cut(kv, "=")
			n, err := strconv.ParseFloat(v, 64)
			switch {
			case k != "calls" && k != "usec":
			case err != nil:
				b.Fatalf("commandstats %q: %v", line, err)
			case k == "calls":
				calls = n
			default:
				usec = n
			}
		}
	}
	return calls, usec
}

// redisCPU is the CPU seconds Redis's main process has used, user and
// system, from INFO cpu.
func redisCPU(b *testing.B, info string) float64 {
	b.Helper()
	var sum float64
	for _, line := range strings.Split(info, "\r\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok || (k != "used_cpu_user" && k != "used_cpu_sys") {
			continue
		}
		n, err := strconv.ParseFloat(v, 64)
		if err != nil {
			b.Fatalf("INFO cpu %q: %v", line, err)
		}
		sum += n
	}
	if sum == 0 {
		b.Fatalf("INFO cpu has no used_cpu_user or used_cpu_sys: %q", info)
	}
	return sum
}
