//go:build !faults

package dashboard_test

// screenshots is off in the default suite: the browser tests' checks run
// all the same, but writing a full-page PNG of every page four times over
// was a good part of their time, and the pictures are for people to look
// at (make test-faults, or OAUTHD_DOC_SCREENSHOTS=1, writes them).
const screenshots = false
