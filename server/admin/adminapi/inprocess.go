package adminapi

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
)

// InProcess is a RoundTripper that has h answer every request in the
// calling goroutine: no listener, no socket, nothing another process can
// reach. The oauthd CLI drives the admin handler it builds on Redis this
// way, so its direct mode goes through the same authentication,
// validation and answers as a remote call; tests do the same.
//
// The handler sees a request without a remote address: there is no peer.
func InProcess(h http.Handler) http.RoundTripper { return inProcess{h} }

type inProcess struct{ h http.Handler }

// errAborted is a handler giving up on its answer (http.ErrAbortHandler):
// over a socket the connection would close.
var errAborted = errors.New("the admin handler aborted its answer")

func (t inProcess) RoundTrip(r *http.Request) (resp *http.Response, err error) {
	// A RoundTripper must not change the request, and must close its body.
	in := r.Clone(r.Context())
	in.RequestURI = r.URL.RequestURI()
	in.RemoteAddr = ""
	if in.Body == nil {
		in.Body = http.NoBody
	}
	defer in.Body.Close()
	w := &recorder{header: http.Header{}}
	defer func() {
		if p := recover(); p != nil {
			if p != http.ErrAbortHandler {
				panic(p)
			}
			resp, err = nil, errors.Join(errAborted, r.Context().Err())
		}
	}()
	t.h.ServeHTTP(w, in)
	return w.response(r), nil
}

// recorder collects a handler's answer.
type recorder struct {
	header http.Header
	sent   http.Header // the header as it was when the status was written
	status int
	body   bytes.Buffer
}

func (w *recorder) Header() http.Header { return w.header }

func (w *recorder) WriteHeader(status int) {
	if w.status == 0 {
		w.status, w.sent = status, w.header.Clone()
	}
}

func (w *recorder) Write(b []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	return w.body.Write(b)
}

func (w *recorder) response(r *http.Request) *http.Response {
	w.WriteHeader(http.StatusOK) // a handler that wrote nothing answered 200
	return &http.Response{
		Status:        fmt.Sprintf("%d %s", w.status, http.StatusText(w.status)),
		StatusCode:    w.status,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        w.sent,
		Body:          io.NopCloser(&w.body),
		ContentLength: int64(w.body.Len()),
		Request:       r,
	}
}
