# oauthd: the two commands a newcomer needs are `make run` and `make test`.
GO      ?= go
BIN     ?= bin/oauthd
BENCH   ?= .
# FUZZTIME is how long make fuzz runs each fuzz target.
FUZZTIME ?= 10s
# VERSION is stamped into the binary (oauthd --version, the start-up log line).
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo devel)
LDFLAGS := -X main.version=$(VERSION)

.PHONY: run test test-faults interop fuzz build bench bench-go fmt

## run: start oauthd on the embedded in-memory store and print a first curl command (flags in ARGS="...")
run:
	$(GO) run ./cmd/oauthd serve $(ARGS)

## test: go vet, then every test with the race detector (real-Redis tests need redis-server, the dashboard's browser tests chromium)
test:
	$(GO) vet ./...
	@log=$${TMPDIR:-/tmp}/oauthd-test.log; \
	bash -o pipefail -c '$(GO) test -race -count=1 ./... 2>&1 | tee "$$0"' "$$log"; status=$$?; \
	echo "Slowest packages:"; \
	awk -F'\t' '/^ok/ { t = $$3; sub(/s$$/, "", t); printf "%8.1fs  %s\n", t, $$2 }' "$$log" | sort -rn | head -5; \
	exit $$status
	@command -v redis-server >/dev/null 2>&1 || echo "NOTE: redis-server is not installed, so the real-Redis tests were SKIPPED (only miniredis ran). apt-get install redis-server, or set OAUTHD_REQUIRE_REDIS=1 to make this a failure."
	@command -v chromium >/dev/null 2>&1 || command -v google-chrome >/dev/null 2>&1 || echo "NOTE: no chromium found, so the dashboard's browser tests were SKIPPED. apt-get install chromium (and npm ci in server/dashboard/testdata/axe), or set OAUTHD_REQUIRE_BROWSER=1 to make this a failure."

## test-faults: fault tests on real redis-server / redis-sentinel processes (outage, Sentinel failover, Cluster), and search over 100,000 applications; prints FIGURE lines
test-faults:
	$(GO) test -tags faults -count=1 -v -run '^TestFault' ./cmd/oauthd/
	$(GO) test -tags faults -count=1 -v -run '^TestFault' ./store/redis/ ./server/dashboard/

## interop: openid-client, oauth4webapi and authlib against a live oauthd on a real redis-server (.ci/interop/run; needs node 20+, npm, python3-authlib)
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
	CGO_ENABLED=0 $(GO) build -trimpath -o bin/sms-api ./cmd/sms-api

## bench: the load benchmark (docs/benchmarks.md): wrk against oauthd, sms-api and a baseline on a real redis-server, about 3 minutes (flags in ARGS="...", e.g. ARGS=-quick)
bench:
	$(GO) run ./cmd/bench $(ARGS)

## bench-go: the Go hot-path micro-benchmarks (token issue against a bare Redis GET+SET handler)
bench-go:
	$(GO) test -run '^$$' -bench '$(BENCH)' -benchmem -count=1 ./...

fmt:
	gofmt -w $$(git ls-files '*.go')
