package redis

import (
	"net/netip"
	"testing"
	"time"

	"github.com/oauthd/oauthd/store"
)

// TestBucketKey holds bucketKey, built in one buffer for introspection's
// sake, to the key the token scripts write: bucketKeyOf of FormatBucket.
func TestBucketKey(t *testing.T) {
	t.Parallel()
	s := &Store{opts: Options{Prefix: "oauthd"}}
	for _, b := range []int64{-1 << 40, -36, -1, 0, 1, 35, 36, 1_234_567, 1 << 62} {
		if got, want := s.bucketKey("cid_01hzy3k6w9x2m4n5p7q8r0s1t2", b), s.bucketKeyOf("cid_01hzy3k6w9x2m4n5p7q8r0s1t2", store.FormatBucket(b)); got != want {
			t.Errorf("bucket %d: %q, want %q", b, got, want)
		}
	}
}

// TestLocked reads MGET's answers about lock-out keys: nil (no lock), an
// end in the future, one past, and garbage, which locks nothing.
func TestLocked(t *testing.T) {
	t.Parallel()
	now := time.UnixMilli(1_700_000_000_000)
	for _, tc := range []struct {
		v    any
		want time.Duration
	}{
		{nil, 0},
		{"", 0},
		{"1700000005000", 5 * time.Second},
		{"1699999999000", 0},
		{"soon", 0},
		{int64(1700000005000), 0}, // MGET answers strings; anything else is no lock
	} {
		if got := locked(tc.v, now); got != tc.want {
			t.Errorf("locked(%#v) = %v, want %v", tc.v, got, tc.want)
		}
	}
	if got := lockedAny([]any{nil, "1700000002000", "1700000005000"}, now); got != 5*time.Second {
		t.Errorf("lockedAny = %v, want the longest, 5s", got)
	}
}

// TestLockKeys holds introspection's one-allocation lock-out keys to
// LockKey and SiegeKey, which the token script and the limits write.
func TestLockKeys(t *testing.T) {
	t.Parallel()
	for _, a := range []string{"192.0.2.7", "::ffff:192.0.2.7", "2001:db8::1", "2001:db8:1:2:3:4:5:6", "fe80::1%eth0", "::1", "0.0.0.0"} {
		addr := netip.MustParseAddr(a)
		for _, bits := range []int{0, 48, 64, 128} {
			lock, siege := lockKeys("oauthd", "cid_01hzy3k6w9x2m4n5p7q8r0s1t2", addr, bits)
			if want := LockKey("oauthd", "cid_01hzy3k6w9x2m4n5p7q8r0s1t2", Source(addr, bits)); lock != want {
				t.Errorf("%s /%d: lock key %q, want %q", a, bits, lock, want)
			}
			if want := SiegeKey("oauthd", "cid_01hzy3k6w9x2m4n5p7q8r0s1t2"); siege != want {
				t.Errorf("%s: siege key %q, want %q", a, siege, want)
			}
		}
	}
}
