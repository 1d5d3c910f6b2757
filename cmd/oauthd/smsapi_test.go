package main

import (
	"bufio"
	"encoding/json"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/oauthd/oauthd/cmd/internal/runtest"
)

// smsAPI is one sms-api process.
type smsAPI struct {
	url string
	// followed and lost receive a value each time its introspection
	// client starts or stops following the revocation feed.
	followed, lost chan struct{}
	client         *http.Client
	logs           *runtest.Buffer
}

// buildSMSAPI builds the example resource server (once per test binary,
// linked again only when it changed: buildOnce).
func buildSMSAPI(t *testing.T) string { return mustBuild(t, builtSMSAPI) }

var builtSMSAPI = buildOnce("sms-api", "../sms-api")

// startSMSAPI runs the sms-api binary with env added to the process's and
// returns once it listens. Its log lines join the leak scan.
func startSMSAPI(t *testing.T, bin string, env map[string]string) *smsAPI {
	t.Helper()
	cmd, stderr := startBinary(t, bin, env, "--http-addr", "127.0.0.1:0", "--log-format", "json")
	t.Cleanup(func() { _ = cmd.Process.Signal(os.Interrupt); _ = cmd.Wait() })
	s := &smsAPI{followed: make(chan struct{}, 16), lost: make(chan struct{}, 16),
		client: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 8}}, logs: &runtest.Buffer{}}
	leaks.addSink("log lines", "the log of an sms-api in "+t.Name(), s.logs.String)
	listening := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			s.logs.Write(append(sc.Bytes(), '\n'))
			var rec struct{ Msg, Addr string }
			if json.Unmarshal(sc.Bytes(), &rec) != nil {
				continue
			}
			switch {
			case rec.Msg == "sms-api listening":
				listening <- rec.Addr
			case strings.HasPrefix(rec.Msg, "revocation feed followed"):
				s.followed <- struct{}{}
			case strings.HasPrefix(rec.Msg, "revocation feed lost"):
				s.lost <- struct{}{}
			}
		}
		close(listening)
	}()
	select {
	case addr, ok := <-listening:
		if !ok {
			t.Fatal("sms-api exited before listening")
		}
		s.url = "http://" + addr
	case <-time.After(30 * time.Second):
		t.Fatal("sms-api did not listen within 30s")
	}
	return s
}
