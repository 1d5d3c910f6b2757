package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
)

// machine describes where the figures were taken: they mean little
// without it.
type machine struct {
	CPUs     int
	CPUModel string
	MemGiB   float64
	LoadAvg  string // at the start; the machine may be shared
	Go       string
	Redis    string
	Wrk      string
}

func (m machine) String() string {
	return fmt.Sprintf("machine:  %d CPUs (nproc), %s, %.1f GiB RAM, load average %s at start\n"+
		"software: %s, redis-server %s, wrk %s",
		m.CPUs, m.CPUModel, m.MemGiB, m.LoadAvg, m.Go, m.Redis, m.Wrk)
}

// describeMachine reads what it can; a fact it cannot read is "unknown",
// never an error: the benchmark still means something without it.
func describeMachine(ctx context.Context) machine {
	m := machine{
		CPUs:     runtime.NumCPU(), // the CPUs this process may use, as nproc counts
		CPUModel: "unknown CPU",
		LoadAvg:  "unknown",
		Go:       runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH,
		Redis:    "unknown",
		Wrk:      "unknown",
	}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		if s := cpuModel(string(b)); s != "" {
			m.CPUModel = s
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		m.MemGiB = memTotalGiB(string(b))
	}
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		if f := strings.Fields(string(b)); len(f) >= 3 {
			m.LoadAvg = strings.Join(f[:3], " ")
		}
	}
	// wrk has no version flag that exits 0: -v prints the version, then
	// its usage, and fails.
	out, _ := exec.CommandContext(ctx, "wrk", "-v").CombinedOutput()
	if v := wrkVersion(string(out)); v != "" {
		m.Wrk = v
	}
	return m
}

// cpuModel is the first "model name" in /proc/cpuinfo.
func cpuModel(cpuinfo string) string {
	for _, line := range strings.Split(cpuinfo, "\n") {
		k, v, ok := strings.Cut(line, ":")
		if ok && strings.TrimSpace(k) == "model name" {
			return strings.Join(strings.Fields(v), " ")
		}
	}
	return ""
}

// memTotalGiB reads MemTotal (in kB) from /proc/meminfo.
func memTotalGiB(meminfo string) float64 {
	for _, line := range strings.Split(meminfo, "\n") {
		if rest, ok := strings.CutPrefix(line, "MemTotal:"); ok {
			f := strings.Fields(rest)
			if len(f) > 0 {
				kb, err := strconv.ParseFloat(f[0], 64)
				if err == nil {
					return kb / (1 << 20)
				}
			}
		}
	}
	return 0
}

// wrkVersion is the version on the first line of `wrk -v`:
// "wrk debian/4.1.0-3+b2 [epoll] Copyright (C) 2012 Will Glozer".
func wrkVersion(out string) string {
	first, _, _ := strings.Cut(out, "\n")
	f := strings.Fields(first)
	if len(f) < 2 || f[0] != "wrk" {
		return ""
	}
	return f[1]
}
