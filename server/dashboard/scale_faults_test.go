//go:build faults

package dashboard_test

import "testing"

// TestFaultBrowserManyApplications is TestBrowserManyApplications at
// 100,000 applications (the load alone takes about 20 s): make
// test-faults runs it.
func TestFaultBrowserManyApplications(t *testing.T) { browseMany(t, 100_000) }
