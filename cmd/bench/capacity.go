package main

import (
	"fmt"
	"io"
	"math"
	"time"
)

// The capacity model of issue 23, from the run's own figures:
// docs/benchmarks.md ("Capacity model") gives the formulas and how to read
// the table.

// cpuCost is what one request costs in CPU, in microseconds: the process
// serving it and redis-server. Medians over the target's runs.
type cpuCost struct{ Proc, Redis float64 }

func runsCPU(s series) cpuCost {
	return cpuCost{
		Proc:  median(s.values(func(r runResult) float64 { return perRequest(r.CPU, r.Requests) })),
		Redis: median(s.values(func(r runResult) float64 { return perRequest(r.RedisCPU, r.Requests) })),
	}
}

// sizingInput is what the sizing needs, per token request.
type sizingInput struct {
	OAuthdUS, RedisUS float64 // CPU per token, microseconds
	BytesPerToken     float64 // Redis, per live token
	BytesPerApp       float64 // Redis, per application record
	// BytesPerBucket is what an application's bucket costs beside its
	// tokens (hash, marker, index entry): its first token's cost less a
	// token's.
	BytesPerBucket float64
	Lifetime       time.Duration // of the tokens
	Apps           int
	ShardBytes     float64 // the most one primary should hold
}

// Headroom is the share of a core a Redis primary is sized to use: half,
// so a failover, a burst or a slow command does not saturate it.
const redisHeadroom = 0.5

// bucketsPerApp is how many buckets an application that asks at least
// once per bucket width holds live: a bucket is 1/64 of the lifetime
// (store.ExpiryBucket), and the one being filled adds one.
const bucketsPerApp = 65

// sizing is one row of the table: a deployment for rate token requests a
// second.
type sizing struct {
	Rate         float64
	OAuthdCores  float64 // CPU, no headroom
	RedisCores   float64 // CPU at redisHeadroom
	Shards       int     // Redis Cluster primaries: the larger of CPU's and memory's need
	MemoryBytes  float64 // all live tokens and applications
	PerShardByte float64
}

// size works a row out:
//
//	oauthd cores = rate × oauthd CPU per token
//	Redis cores  = rate × Redis CPU per token / headroom
//	memory       = bytes/token × rate × lifetime + apps × (bytes/app + 65 × bytes/bucket)
//	shards       = max(ceil(Redis cores), ceil(memory / shard memory))
func size(in sizingInput, rate float64) sizing {
	s := sizing{Rate: rate}
	s.OAuthdCores = rate * in.OAuthdUS / 1e6
	s.RedisCores = rate * in.RedisUS / 1e6 / redisHeadroom
	s.MemoryBytes = in.BytesPerToken*rate*in.Lifetime.Seconds() +
		float64(in.Apps)*(in.BytesPerApp+bucketsPerApp*max(in.BytesPerBucket, 0))
	s.Shards = max(1, int(math.Ceil(s.RedisCores)))
	if in.ShardBytes > 0 {
		s.Shards = max(s.Shards, int(math.Ceil(s.MemoryBytes/in.ShardBytes)))
	}
	s.PerShardByte = s.MemoryBytes / float64(s.Shards)
	return s
}

// perCore is how many requests a second one core sustains at us
// microseconds of CPU each; 0 when unmeasured.
func perCore(us float64) float64 {
	if us <= 0 {
		return 0
	}
	return 1e6 / us
}

// capacity prints the CPU each target's requests cost, the per-core
// figures, and the sizing table for 10k, 100k and 1M token requests a
// second.
func capacity(w io.Writer, opts options, cmps []*comparison, cost redisCost, apps *appsScenario) {
	fmt.Fprintf(w, "\ncpu per request: median of the runs' CPU time over their requests (server: /proc/<pid>/stat; redis-server: INFO cpu)\n")
	fmt.Fprintf(w, "  %-44s %12s %12s %24s\n", "target", "server us", "redis us", "redis s per 100k")
	seen := map[string]bool{}
	roles := map[string]cpuCost{}
	var rep *comparison
	for _, c := range cmps {
		if c.replicas {
			rep = c
		}
		for _, s := range []struct {
			t target
			r series
		}{{c.base, c.baseRuns}, {c.subject, c.subjectRuns}} {
			if seen[s.t.name] {
				continue
			}
			seen[s.t.name] = true
			cc := runsCPU(s.r)
			if s.t.role != "" {
				roles[s.t.role] = cc
			}
			fmt.Fprintf(w, "  %-44s %12.1f %12.1f %24.2f\n", s.t.name, cc.Proc, cc.Redis, cc.Redis*1e5/1e6)
		}
	}
	cached, uncached, intro, base := roles[roleTokenCached], roles[roleTokenUncached], roles[roleIntrospect], roles[roleBaselineToken]
	fmt.Fprintf(w, "\nper core: oauthd %.0f tokens/s (application cached), %.0f (not cached), %.0f introspections/s; baseline %.0f tokens/s\n",
		perCore(cached.Proc), perCore(uncached.Proc), perCore(intro.Proc), perCore(base.Proc))
	fmt.Fprintf(w, "per core: Redis %.0f tokens/s (cached), %.0f (not cached), %.0f introspections/s, at 100%% of a core\n",
		perCore(cached.Redis), perCore(uncached.Redis), perCore(intro.Redis))
	fmt.Fprintf(w, "redis:    %.2f CPU-seconds per 100,000 tokens (cached), %.2f (not cached); %.2f per 100,000 introspections\n",
		cached.Redis*1e5/1e6, uncached.Redis*1e5/1e6, intro.Redis*1e5/1e6)
	if rep != nil {
		one, all := runsCPU(rep.baseRuns), runsCPU(rep.subjectRuns)
		fmt.Fprintf(w, "replicas: per token, 1 replica: oauthd %.1f us, redis %.1f us; %d replicas (summed): oauthd %.1f us, redis %.1f us; ratio %.2fx and %.2fx (linear: 1.00x); req/s %.0f and %.0f\n",
			one.Proc, one.Redis, len(rep.subject.pids), all.Proc, all.Redis, ratio(all.Proc, one.Proc), ratio(all.Redis, one.Redis),
			rep.baseRuns.rps(), rep.subjectRuns.rps())
	}

	// The worse of cached and not cached, so the sizing holds whatever
	// the cache holds.
	in := sizingInput{
		OAuthdUS: max(cached.Proc, uncached.Proc), RedisUS: max(cached.Redis, uncached.Redis),
		BytesPerToken: cost.BytesPerToken, BytesPerApp: apps.memory.PerApp(),
		BytesPerBucket: apps.memory.PerFirstToken() - cost.BytesPerToken,
		Lifetime:       opts.SizingLifetime, Apps: opts.SizingApps, ShardBytes: float64(opts.SizingShardGiB) * (1 << 30),
	}
	fmt.Fprintf(w, "\nsizing: token requests a second on Redis Cluster; %.1f us oauthd and %.1f us Redis CPU per token (the worse of cached and not),\n"+
		"        %.0f bytes per token living %s, %d applications at %.0f bytes each and %d buckets of %.0f bytes; a primary at most %.0f%% busy and %d GiB\n",
		in.OAuthdUS, in.RedisUS, in.BytesPerToken, opts.SizingLifetime, in.Apps, in.BytesPerApp, bucketsPerApp, max(in.BytesPerBucket, 0),
		redisHeadroom*100, opts.SizingShardGiB)
	fmt.Fprintf(w, "  | token req/s | oauthd cores | Redis cores (50%%) | shards (primaries) | Redis processes (1 replica each) | memory | per shard |\n")
	fmt.Fprintf(w, "  |---|---|---|---|---|---|---|\n")
	// A memory figure from too few tokens can come out at or below zero
	// (Redis freed something meanwhile): the memory columns then say so
	// rather than size anything on it.
	memOK := in.BytesPerToken > 0 && in.BytesPerApp > 0
	if !memOK {
		in.ShardBytes = 0 // shards by CPU alone
	}
	for _, rate := range []float64{10_000, 100_000, 1_000_000} {
		s := size(in, rate)
		mem, per := gib(s.MemoryBytes), gib(s.PerShardByte)
		if !memOK {
			mem, per = "not measured", "-"
		}
		fmt.Fprintf(w, "  | %s | %.1f | %.1f | %d | %d | %s | %s |\n",
			count(rate), s.OAuthdCores, s.RedisCores, s.Shards, 2*s.Shards, mem, per)
	}
	if !memOK {
		fmt.Fprintf(w, "  (memory not sized: bytes per token or per application came out at or below zero, too few to measure; run with more -memory-tokens and -apps)\n")
	}
}

func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

// count writes 10000 as 10k, 1000000 as 1M.
func count(n float64) string {
	switch {
	case n >= 1e6:
		return fmt.Sprintf("%gM", n/1e6)
	case n >= 1e3:
		return fmt.Sprintf("%gk", n/1e3)
	}
	return fmt.Sprintf("%g", n)
}

func gib(b float64) string { return fmt.Sprintf("%.1f GiB", b/(1<<30)) }
