package web

import (
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"regexp"
	"testing"
)

// socketAddr matches an address or port as net errors print them.
var socketAddr = regexp.MustCompile(`\d+\.\d+\.\d+\.\d+|\[[0-9a-f:]+\]|:\d+|->`)

// Body read failures map to fixed answers; the error's text never reaches
// the client.
func TestBodyReadError(t *testing.T) {
	netErr := &net.OpError{Op: "read", Net: "tcp", Source: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 8080},
		Addr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 5555}}
	timeout, reset, other := *netErr, *netErr, *netErr
	timeout.Err = os.ErrDeadlineExceeded // what a net.Conn past its deadline returns
	reset.Err = io.ErrUnexpectedEOF
	other.Err = errors.New("weird")
	tests := []struct {
		name   string
		err    error
		status int
		reason string
	}{
		{"too large", &http.MaxBytesError{Limit: 16 << 10}, 413, ""},
		{"timeout", &timeout, 408, "request body read timed out"},
		{"peer closed", &reset, StatusClientClosedRequest, "client closed the connection while sending the body"},
		{"short body", io.ErrUnexpectedEOF, StatusClientClosedRequest, "client closed the connection while sending the body"},
		{"anything else", &other, 400, "request body unreadable: read: weird"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := BodyReadError(tt.err, "16 KiB")
			if e.Status != tt.status || e.Reason != tt.reason {
				t.Fatalf("got %d %q, want %d %q", e.Status, e.Reason, tt.status, tt.reason)
			}
			if socketAddr.MatchString(e.Description + e.Reason) {
				t.Fatalf("description %q carries the error's text", e.Description)
			}
		})
	}
}
