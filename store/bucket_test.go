package store

import (
	"math"
	"testing"
)

// TestParseBucket: FormatBucket's output and nothing else, every
// non-canonical spelling of a valid number refused.
func TestParseBucket(t *testing.T) {
	for _, b := range []int64{1, 35, 36, 1_700_000_000, math.MaxInt64 / 2000, 0, -1, -36, -1_700_000_000} {
		got, ok := ParseBucket(FormatBucket(b))
		if !ok || got != b {
			t.Errorf("ParseBucket(FormatBucket(%d) = %q) = %d, %v", b, FormatBucket(b), got, ok)
		}
	}
	for _, s := range []string{"", "n", "0", "00", "01", "n00", "n01", "-1", "+1", "A", "1A", "zzzzzzzzzzzzz", "n zz", "1.5"} {
		if got, ok := ParseBucket(s); ok {
			t.Errorf("ParseBucket(%q) = %d, true; want refused", s, got)
		}
	}
}
