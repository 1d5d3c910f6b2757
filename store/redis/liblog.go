package redis

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// SetLibraryLogger sends go-redis's own messages (pool dial failures,
// Sentinel discovery and the like) to log as structured lines at the
// level each deserves, instead of go-redis's default: plain text on
// stderr, every one alike. serve and the CLI set it before they open
// Redis.
//
// go-redis keeps one logger per process, in a variable it reads without
// a lock: setting it again while a connection of an earlier client is
// still being dialled races (several programs run in one test process).
// So it is set once, to a forwarder, and what changes afterwards is the
// forwarder's target, swapped atomically.
func SetLibraryLogger(log *slog.Logger) {
	libLog.Store(newLibLogger(log, time.Now))
	libLogOnce.Do(func() { goredis.SetLogger(libForwarder{}) })
}

// libLog is the logger go-redis's messages go to; libLogOnce installs the
// forwarder. Package state because go-redis's logger is process state.
var (
	libLog     atomic.Pointer[libLogger]
	libLogOnce sync.Once
)

// libForwarder hands go-redis's messages to the current libLog.
type libForwarder struct{}

func (libForwarder) Printf(ctx context.Context, format string, v ...any) {
	if l := libLog.Load(); l != nil {
		l.Printf(ctx, format, v...)
	}
}

// outageQuiet is how long failures of a kind must stop before the next
// one counts as a new outage, warned about again.
const outageQuiet = time.Minute

// libLogger grades go-redis's lines by their format. Routine discovery
// (the primary a Sentinel names at start, other sentinels) is debug; a
// Sentinel naming a new primary (a failover) is info; failures are
// warnings, once per outage for those that repeat while Redis is away
// (dial failures, a sentinel not answering), the repeats at debug.
type libLogger struct {
	log *slog.Logger
	now func() time.Time

	mu         sync.Mutex
	lastFailed map[string]time.Time // failure kind → when it last happened
	primaries  map[string]string    // Sentinel master name → primary address
}

func newLibLogger(log *slog.Logger, now func() time.Time) *libLogger {
	return &libLogger{log: log, now: now, lastFailed: map[string]time.Time{}, primaries: map[string]string{}}
}

// libLines grades go-redis's messages by the start of their format; the
// first match wins. A repeating failure has a kind, warned about once per
// outage; anything not listed is a warning.
var libLines = []struct {
	prefix string
	level  slog.Level
	kind   string
}{
	{"sentinel: selected addr=", slog.LevelDebug, ""},
	{"sentinel: discovered new sentinel=", slog.LevelDebug, ""},
	{"sentinel: ignore addr", slog.LevelDebug, ""},
	{"sentinel: ", slog.LevelWarn, "sentinel"}, // "... failed: ..."
	{"redis: connection pool: failed to dial", slog.LevelWarn, "dial"},
	{"redis: connection pool: failed to get a usable connection", slog.LevelWarn, "dial"},
	{"redis: all nodes are marked as failed", slog.LevelWarn, "cluster"},
	{"redis: pings to all nodes are failing", slog.LevelWarn, "cluster"},
	{"cluster: slots ", slog.LevelInfo, ""}, // migrated: the slot map is reloaded
	{"pubsub: reconnecting to new endpoint", slog.LevelInfo, ""},
}

func (l *libLogger) Printf(ctx context.Context, format string, v ...any) {
	detail := slog.String("detail", strings.TrimPrefix(fmt.Sprintf(format, v...), "redis: "))
	if format == "sentinel: new master=%q addr=%q" && len(v) == 2 {
		l.log.LogAttrs(ctx, l.primary(fmt.Sprint(v[0]), fmt.Sprint(v[1])), "redis client", detail)
		return
	}
	level, kind := slog.LevelWarn, ""
	for _, line := range libLines {
		if strings.HasPrefix(format, line.prefix) {
			level, kind = line.level, line.kind
			break
		}
	}
	if kind != "" && !l.startsOutage(kind) {
		level = slog.LevelDebug
	}
	l.log.LogAttrs(ctx, level, "redis client", detail)
}

// primary grades a Sentinel naming the primary of master: the first
// address a process learns is routine (debug), a different one later is
// a failover (info).
func (l *libLogger) primary(master, addr string) slog.Level {
	l.mu.Lock()
	defer l.mu.Unlock()
	prev, known := l.primaries[master]
	l.primaries[master] = addr
	if known && prev != addr {
		return slog.LevelInfo
	}
	return slog.LevelDebug
}

// startsOutage notes a failure of kind and reports whether it starts an
// outage: none of its kind for outageQuiet before. Repeats are debug.
func (l *libLogger) startsOutage(kind string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	last, seen := l.lastFailed[kind]
	l.lastFailed[kind] = now
	return !seen || now.Sub(last) >= outageQuiet
}
