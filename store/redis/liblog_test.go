package redis

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// go-redis's lines, in its own formats, reach the log at the level each
// deserves: Sentinel's routine discovery at debug, a failover at info, a
// failure at warn once per outage (its repeats at debug until it has been
// quiet a minute), anything unknown at warn.
func TestLibraryLoggerLevels(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	clock := time.Unix(1_800_000_000, 0)
	l := newLibLogger(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})), func() time.Time { return clock })
	ctx := context.Background()
	dial := errors.New("dial tcp 10.0.0.1:6379: connect: connection refused")
	steps := []struct {
		after  time.Duration
		format string
		args   []any
		level  string
	}{
		{0, "sentinel: selected addr=%s masterAddr=%s", []any{"10.0.0.9:26379", "10.0.0.1:6379"}, "DEBUG"},
		{0, "sentinel: new master=%q addr=%q", []any{"mymaster", "10.0.0.1:6379"}, "DEBUG"},
		{0, "sentinel: discovered new sentinel=%q for master=%q", []any{"10.0.0.8:26379", "mymaster"}, "DEBUG"},
		{0, "sentinel: new master=%q addr=%q", []any{"mymaster", "10.0.0.1:6379"}, "DEBUG"},
		{0, "redis: connection pool: failed to dial after %d attempts: %v", []any{3, dial}, "WARN"},
		{time.Second, "redis: connection pool: failed to dial after %d attempts: %v", []any{3, dial}, "DEBUG"},
		{50 * time.Second, "redis: connection pool: failed to dial after %d attempts: %v", []any{3, dial}, "DEBUG"},
		{0, "sentinel: GetMasterAddrByName name=%q failed: %s", []any{"mymaster", dial}, "WARN"},
		{time.Second, "sentinel: GetMasterAddrByName name=%q failed: %s", []any{"mymaster", dial}, "DEBUG"},
		{0, "sentinel: new master=%q addr=%q", []any{"mymaster", "10.0.0.2:6379"}, "INFO"},
		{2 * time.Minute, "redis: connection pool: failed to dial after %d attempts: %v", []any{3, dial}, "WARN"},
		{0, "cluster: slots %v migrated to %s, reloading cluster state", []any{"[0-100]", "10.0.0.3:7000"}, "INFO"},
		{0, "redis: something new: %v", []any{dial}, "WARN"},
	}
	for i, s := range steps {
		clock = clock.Add(s.after)
		buf.Reset()
		l.Printf(ctx, s.format, s.args...)
		line := buf.String()
		if !strings.Contains(line, "level="+s.level+" ") || !strings.Contains(line, `msg="redis client"`) {
			t.Errorf("step %d (%s): %s, want level %s", i, s.format, strings.TrimSpace(line), s.level)
		}
		if strings.Contains(line, `detail="redis: `) {
			t.Errorf("step %d: the detail repeats go-redis's prefix: %s", i, line)
		}
	}
}
