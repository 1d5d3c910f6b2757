package main

import (
	"strings"
	"testing"
)

// The report of a run where redis-server and axe-core are missing and one
// test fails: the packages' lines, the failed test's output, and a NOTE
// for each skip reason (counted) and each NOTE a test logged.
func TestReport(t *testing.T) {
	const stream = `{"Action":"start","Package":"github.com/oauthd/oauthd/store/redis"}
{"Action":"run","Package":"github.com/oauthd/oauthd/store/redis","Test":"TestSuite"}
{"Action":"run","Package":"github.com/oauthd/oauthd/store/redis","Test":"TestSuite/miniredis"}
{"Action":"output","Package":"github.com/oauthd/oauthd/store/redis","Test":"TestSuite/miniredis","Output":"=== RUN   TestSuite/miniredis\n"}
{"Action":"pass","Package":"github.com/oauthd/oauthd/store/redis","Test":"TestSuite/miniredis"}
{"Action":"output","Package":"github.com/oauthd/oauthd/store/redis","Test":"TestSuite/redis-server","Output":"=== RUN   TestSuite/redis-server\n"}
{"Action":"output","Package":"github.com/oauthd/oauthd/store/redis","Test":"TestSuite/redis-server","Output":"    process.go:44: redis-server is not on PATH: skipping\n"}
{"Action":"output","Package":"github.com/oauthd/oauthd/store/redis","Test":"TestSuite/redis-server","Output":"--- SKIP: TestSuite/redis-server (0.00s)\n"}
{"Action":"skip","Package":"github.com/oauthd/oauthd/store/redis","Test":"TestSuite/redis-server"}
{"Action":"output","Package":"github.com/oauthd/oauthd/store/redis","Test":"TestOther","Output":"    process.go:44: redis-server is not on PATH: skipping\n"}
{"Action":"skip","Package":"github.com/oauthd/oauthd/store/redis","Test":"TestOther"}
{"Action":"output","Package":"github.com/oauthd/oauthd/store/redis","Output":"PASS\n"}
{"Action":"output","Package":"github.com/oauthd/oauthd/store/redis","Output":"ok  \tgithub.com/oauthd/oauthd/store/redis\t3.2s\n"}
{"Action":"pass","Package":"github.com/oauthd/oauthd/store/redis","Elapsed":3.2}
{"Action":"output","Package":"github.com/oauthd/oauthd/server/dashboard","Test":"TestPages","Output":"    browser_test.go:60: NOTE: axe-core is not installed; the accessibility checks are skipped\n"}
{"Action":"output","Package":"github.com/oauthd/oauthd/server/dashboard","Test":"TestBroken","Output":"=== RUN   TestBroken\n"}
{"Action":"output","Package":"github.com/oauthd/oauthd/server/dashboard","Test":"TestBroken","Output":"    pages_test.go:9: want 200, got 500\n"}
{"Action":"output","Package":"github.com/oauthd/oauthd/server/dashboard","Test":"TestBroken","Output":"--- FAIL: TestBroken (0.01s)\n"}
{"Action":"fail","Package":"github.com/oauthd/oauthd/server/dashboard","Test":"TestBroken"}
{"Action":"output","Package":"github.com/oauthd/oauthd/server/dashboard","Test":"TestPages","Output":"--- PASS: TestPages (0.01s)\n"}
{"Action":"pass","Package":"github.com/oauthd/oauthd/server/dashboard","Test":"TestPages"}
{"Action":"output","Package":"github.com/oauthd/oauthd/server/dashboard","Output":"FAIL\n"}
{"Action":"output","Package":"github.com/oauthd/oauthd/server/dashboard","Output":"FAIL\tgithub.com/oauthd/oauthd/server/dashboard\t9.9s\n"}
{"Action":"fail","Package":"github.com/oauthd/oauthd/server/dashboard","Elapsed":9.9}
`
	var out strings.Builder
	failed, err := report(strings.NewReader(stream), &out)
	if err != nil || !failed {
		t.Fatalf("failed %v, err %v", failed, err)
	}
	want := `ok  	github.com/oauthd/oauthd/store/redis	3.2s
    pages_test.go:9: want 200, got 500
--- FAIL: TestBroken (0.01s)
FAIL
FAIL	github.com/oauthd/oauthd/server/dashboard	9.9s
Slowest packages:
     9.9s  github.com/oauthd/oauthd/server/dashboard
     3.2s  github.com/oauthd/oauthd/store/redis
NOTE: 2 tests SKIPPED: redis-server is not on PATH: skipping (store/redis TestSuite/redis-server and 1 more)
NOTE: axe-core is not installed; the accessibility checks are skipped
`
	if out.String() != want {
		t.Fatalf("report:\n%s\nwant:\n%s", out.String(), want)
	}
	if failed, _ := report(strings.NewReader(strings.Split(stream, `{"Action":"output","Package":"github.com/oauthd/oauthd/server/dashboard","Test":"TestBroken"`)[0]), &out); failed {
		t.Fatal("a run without failures reported as failed")
	}
}
