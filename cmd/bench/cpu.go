package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// CPU time, for the capacity model (issue 23): what a request costs each
// process, read around each measured run. The kernel's counters are in
// clock ticks (USER_HZ, `getconf CLK_TCK`, 100 on Linux almost always),
// so a run must use a few hundred ticks for the figure to be within a
// percent: a 5s run at two busy cores uses about 1,000.

// clockTicks is USER_HZ, the unit of /proc/<pid>/stat's times, as
// `getconf CLK_TCK` says; 100 when it cannot be asked.
func clockTicks(ctx context.Context) int64 {
	out, err := exec.CommandContext(ctx, "getconf", "CLK_TCK").Output()
	if err != nil {
		return 100
	}
	if hz, ok := parseClockTicks(string(out)); ok {
		return hz
	}
	return 100
}

// parseClockTicks reads getconf's answer: a positive integer.
func parseClockTicks(out string) (int64, bool) {
	hz, err := strconv.ParseInt(strings.TrimSpace(out), 10, 64)
	return hz, err == nil && hz > 0
}

// parseProcStat returns utime + stime, in clock ticks, from the text of
// /proc/<pid>/stat (proc(5)). The command name, field 2, is in
// parentheses and may hold spaces and parentheses itself, so the fields
// are counted from the last ')': utime and stime are fields 14 and 15.
func parseProcStat(stat string) (int64, error) {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, errors.New("no ')' after the command name")
	}
	f := strings.Fields(stat[i+1:])
	// f[0] is field 3 (state): field n is f[n-3].
	if len(f) < 13 {
		return 0, fmt.Errorf("%d fields after the command name, want at least 13", len(f))
	}
	var ticks int64
	for _, s := range f[11:13] {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("utime or stime %q is not a count of ticks", s)
		}
		ticks += n
	}
	return ticks, nil
}

// cpuClock reads processes' CPU time in its unit.
type cpuClock struct{ hz int64 }

// of is the user+system CPU time process pid has used; an error when the
// process is gone or /proc cannot be read (not Linux).
func (c cpuClock) of(pid int) (time.Duration, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	ticks, err := parseProcStat(string(b))
	if err != nil {
		return 0, fmt.Errorf("/proc/%d/stat: %v", pid, err)
	}
	return time.Duration(ticks) * time.Second / time.Duration(c.hz), nil
}

// redisCPU is used_cpu_user + used_cpu_sys of INFO cpu (seconds, to the
// microsecond): all of redis-server's threads, main thread and
// background ones.
func redisCPU(info map[string]string) (time.Duration, error) {
	var sum float64
	for _, k := range []string{"used_cpu_user", "used_cpu_sys"} {
		v, err := strconv.ParseFloat(info[k], 64)
		if err != nil || v < 0 {
			return 0, fmt.Errorf("redis INFO cpu: no %s (%q)", k, info[k])
		}
		sum += v
	}
	return time.Duration(sum * float64(time.Second)), nil
}

// readRedisCPU asks Redis for its CPU time so far.
func readRedisCPU(ctx context.Context, rdb *goredis.Client) (time.Duration, error) {
	m, err := info(ctx, rdb, "cpu")
	if err != nil {
		return 0, err
	}
	return redisCPU(m)
}

// perRequest is d spread over n requests, in microseconds; 0 for none.
func perRequest(d time.Duration, n int64) float64 {
	if n <= 0 {
		return 0
	}
	return float64(d) / float64(time.Microsecond) / float64(n)
}
