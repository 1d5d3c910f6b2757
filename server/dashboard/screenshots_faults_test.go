//go:build faults

package dashboard_test

// screenshots is on under the faults tag: make test-faults writes every
// page's screenshots to testdata/screenshots.
const screenshots = true
