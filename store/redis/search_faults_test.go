//go:build faults

package redis_test

import "testing"

// TestFaultSearchScale is TestSearchScale at 100,000 applications: the
// load alone takes longer than the default suite should (make
// test-faults runs it).
func TestFaultSearchScale(t *testing.T) { SearchScale(t, 100_000) }
