//go:build faults

package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"
)

// dpop.lua under wrk itself (make test-faults: it runs wrk for a second
// per case): each thread sends its own share of the proofs file, every
// n-th line, each once before it starts over, with the method, body and
// headers it is given. The DPoP runs measure nothing else: a proof sent
// twice would be refused.
func TestFaultDPoPScript(t *testing.T) {
	if _, err := exec.LookPath("wrk"); err != nil {
		t.Skip("wrk is not installed")
	}
	type seen struct{ method, body, auth, ctype, proof string }

	dir := t.TempDir()
	scripts, err := writeScripts(dir)
	if err != nil {
		t.Fatal(err)
	}
	const n = 10
	var proofs []string
	for i := range n {
		proofs = append(proofs, fmt.Sprintf("proof-%d", i))
	}
	file := filepath.Join(dir, "proofs.txt")
	if err := writeLines(file, proofs); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		want seen // but the proof
	}{
		{"resource request", []string{"GET", "", "Authorization: DPoP tok"}, seen{method: "GET", auth: "DPoP tok"}},
		{"token request", []string{"POST", "grant_type=client_credentials", "Authorization: Basic abc", "Content-Type: application/x-www-form-urlencoded"},
			seen{"POST", "grant_type=client_credentials", "Basic abc", "application/x-www-form-urlencoded", ""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// A server per case: a request of the last run still in
			// flight when wrk stopped lands in the last one's.
			var mu sync.Mutex
			byConn := map[string][]seen{} // wrk's threads have a connection each (-c2 -t2)
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				body, _ := io.ReadAll(r.Body)
				mu.Lock()
				byConn[r.RemoteAddr] = append(byConn[r.RemoteAddr], seen{r.Method, string(body),
					r.Header.Get("Authorization"), r.Header.Get("Content-Type"), r.Header.Get("DPoP")})
				mu.Unlock()
			}))
			defer srv.Close()
			res, err := runWrk(context.Background(), load{Threads: 2, Connections: 2, Duration: time.Second}, scripts["dpop.lua"], srv.URL+"/v1/groups",
				append([]string{file, "2"}, tt.args...)...)
			if err != nil {
				t.Fatal(err)
			}
			if res.Non2xx != 0 || res.Requests < 2*n {
				t.Fatalf("wrk: %+v, want %d requests at least, all 200", res, 2*n)
			}
			mu.Lock()
			defer mu.Unlock()
			if len(byConn) != 2 {
				t.Fatalf("%d connections, want 2 (one a thread)", len(byConn))
			}
			var firsts []int
			for conn, reqs := range byConn {
				// A thread's share: its lines 2 apart, each once, then
				// again. wrk calls thread 0's request() once before the
				// run and drops the answer (to count pipelined
				// requests), so that thread may start at its second line.
				k := slices.Index(proofs, reqs[0].proof)
				if k < 0 || k > 2 || len(reqs) <= n/2 {
					t.Fatalf("%s: %d requests, the first with %q, want more than %d from proof-0, -1 or -2", conn, len(reqs), reqs[0].proof, n/2)
				}
				firsts = append(firsts, k)
				for i, r := range reqs {
					if want := proofs[(k+2*i)%n]; r.proof != want {
						t.Fatalf("%s: request %d carried %q, want %q", conn, i+1, r.proof, want)
					}
					r.proof = ""
					if r != tt.want {
						t.Fatalf("%s: request %d %+v, want %+v", conn, i+1, r, tt.want)
					}
				}
			}
			if firsts[0]%2 == firsts[1]%2 {
				t.Errorf("both threads sent the lines of one share (%d and %d)", firsts[0], firsts[1])
			}
		})
	}
}
