package redis

import (
	"testing"
	"time"
)

func TestUsageThrottle(t *testing.T) {
	u := newUsageThrottle()
	t0 := time.Now()
	steps := []struct {
		client, secret string
		at             time.Time
		write          bool
		issued         int64
	}{
		{"a", "s1", t0, true, 1},
		{"a", "s1", t0, false, 0},
		{"a", "s1", t0.Add(time.Second), false, 0},
		{"a", "s1", t0.Add(2 * time.Second), false, 0},
		{"a", "s2", t0.Add(3 * time.Second), true, 4}, // a new secret writes at once, with the count so far
		{"b", "s1", t0.Add(3 * time.Second), true, 1}, // per application
		{"a", "s1", t0.Add(usageEvery + time.Second), true, 1},
		{"a", "s1", t0.Add(-time.Hour), true, 1}, // a clock step back writes
	}
	for i, s := range steps {
		write, n := u.note(s.client, s.secret, s.at)
		if write != s.write || n != s.issued {
			t.Errorf("step %d: note = %v, %d; want %v, %d", i, write, n, s.write, s.issued)
		}
	}
}
