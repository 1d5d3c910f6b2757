# oauthd: the two commands a newcomer needs are `make run` and `make test`.
GO      ?= go
BIN     ?= bin/oauthd
BENCH   ?= .
# FUZZTIME is how long make fuzz runs each fuzz target.
FUZZTIME ?= 10s
# VERSION is stamped into the binaries (oauthd --version, sms-api --version, the start-up log lines);
# without it, a build names itself from what the Go toolchain records (go install pkg@v1.4.0: v1.4.0).
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo devel)
LDFLAGS := -X main.version=$(VERSION)

.PHONY: run test test-faults interop fuzz build bench bench-go fmt dashboard-preview

## run: start oauthd on the embedded in-memory store at 127.0.0.1:8080 and print a first curl command (flags in ARGS="...", e.g. ARGS=--http-addr=:8080 to open it to other machines)
# Built, then run in the recipe's place: go run would exit 1 on Ctrl-C
# whatever oauthd answered, and make would report an error.
run:
	$(GO) build -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/oauthd
	exec $(BIN) serve $(ARGS)

## test: go vet, then every test with the race detector; ends with the slowest packages and a NOTE for each part that did not run (real-Redis tests without redis-server, browser tests without chromium, accessibility checks without axe-core, ...)
# go test -json, read by cmd/internal/testreport: plain go test says nothing
# of a skipped test. The whole log is left in $TMPDIR/oauthd-test.json.
test:
	$(GO) vet ./...
	@tmp=$${TMPDIR:-/tmp}; $(GO) build -o "$$tmp/oauthd-testreport" ./cmd/internal/testreport && \
	bash -o pipefail -c '$(GO) test -race -count=1 -json ./... | tee "$$0" | "$$1"' "$$tmp/oauthd-test.json" "$$tmp/oauthd-testreport"

## test-faults: fault tests on real redis-server / redis-sentinel processes (outage, Sentinel failover, Cluster), search over 100,000 applications, the tests of several oauthd processes or bounds in milliseconds, the Dockerfile's build lines, the Grafana dashboard's preview (two replicas through a simulated half hour), the browser tests writing their screenshots, and make bench's DPoP script under wrk; prints FIGURE lines
# The faults tag also moves these out of make test (TestReplicasInvalidate,
# TestMakeRunCtrlC, TestFootprintReturns, TestRevokeAllConstant,
# TestBrowserManyApplications, TestDockerfileBuildSteps, TestDashboardPreview) and turns the
# browser tests' screenshots on; they run here.
test-faults:
	$(GO) test -tags faults -count=1 -v -run '^(TestFault|TestReplicasInvalidate$$|TestMakeRunCtrlC$$)' ./cmd/oauthd/
	$(GO) test -tags faults -count=1 -v -run '^(TestFault|TestFootprintReturns$$|TestRevokeAllConstant$$)' ./store/redis/
	$(GO) test -tags faults -count=1 -v -run '^(TestFault|TestBrowser)' ./server/dashboard/
	$(GO) test -tags faults -count=1 -v -run '^(TestDockerfileBuildSteps|TestDashboardPreview)$$' ./deploy/
	$(GO) test -tags faults -count=1 -v -run '^TestFault' ./cmd/bench/

## interop: openid-client, oauth4webapi and authlib against a live oauthd on a real redis-server (.ci/interop/run; needs node 20+, npm, python3-authlib, openssl)
interop:
	.ci/interop/run

## fuzz: every fuzz target (func Fuzz* in a _test.go file) for FUZZTIME each (default 10s); make test runs their seed corpora
fuzz:
	@set -e; for file in $$(grep -rl --include='*_test.go' '^func Fuzz' . | sort); do \
		for target in $$(sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(.*/\1/p' $$file); do \
			echo "== $$target ($$(dirname $$file))"; \
			$(GO) test -run '^$$' -fuzz "^$$target\$$" -fuzztime $(FUZZTIME) $$(dirname $$file); \
		done; \
	done

## build: static binaries in bin/ (oauthd and the example sms-api)
build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/oauthd
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/sms-api ./cmd/sms-api

## bench: the load benchmark (docs/benchmarks.md): wrk against oauthd, sms-api and a baseline on a real redis-server, about 3 minutes (flags in ARGS="...", e.g. ARGS=-quick)
bench:
	$(GO) run ./cmd/bench $(ARGS)

## bench-go: the Go hot-path micro-benchmarks (token issue against a bare Redis GET+SET handler)
bench-go:
	$(GO) test -run '^$$' -bench '$(BENCH)' -benchmem -count=1 ./...

## dashboard-preview: redraw docs/grafana-dashboard.png, the Grafana dashboard's panels over a simulated half hour of oauthd traffic (make test-faults fails while it is out of date)
dashboard-preview:
	$(GO) test -tags faults -count=1 -run '^TestDashboardPreview$$' ./deploy -update-preview

fmt:
	gofmt -w $$(git ls-files '*.go')
