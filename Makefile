# trackplan — build, test and measure. `make test` is what CI runs.
GO       ?= go
BIN      ?= bin/trackplan
PKGS     ?= ./...
# The PostgreSQL suite runs when TRACKPLAN_TEST_POSTGRES is set (CI sets it).
export TRACKPLAN_TEST_POSTGRES ?=

.PHONY: build test test-long bench lint demo tidy-check fuzz clean peer-check

build:
	$(GO) build -trimpath -o $(BIN) ./cmd/trackplan

test:
	$(GO) test -race -count=1 -timeout 20m $(PKGS)

# The TypeScript compiler, both Segment libraries and Node's types for the codegen
# tests, pinned in codegen/testdata/ts/package-lock.json and installed again
# only when the lock file changes. Without npm those tests skip (and fail
# under CI=true).
TS_DEPS = codegen/testdata/ts/node_modules/.package-lock.json
$(TS_DEPS): codegen/testdata/ts/package-lock.json
	@if command -v npm >/dev/null 2>&1; then npm ci --prefix codegen/testdata/ts --no-audit --no-fund --silent; else echo "npm is not installed: the TypeScript codegen tests will skip"; fi
test: $(TS_DEPS)

# Playwright's driver (without its browser downloads: the tests drive Debian's
# Chromium) and analytics.js 2.0 for the browser tests, pinned in
# internal/browsertest/node/package-lock.json. Without npm those tests skip
# (and fail under CI=true).
BROWSER_DEPS = internal/browsertest/node/node_modules/.package-lock.json
$(BROWSER_DEPS): internal/browsertest/node/package-lock.json
	@if command -v npm >/dev/null 2>&1; then PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --prefix internal/browsertest/node --no-audit --no-fund --silent; else echo "npm is not installed: the browser-driving tests will skip"; fi
test: $(BROWSER_DEPS)

# The heavy versions, kept out of CI's time: the crash test with 20 SIGKILLs
# at random points of ingest and derivation (3 in `make test`).
test-long:
	TRACKPLAN_CRASH_KILLS=20 $(GO) test -race -count=1 -timeout 60m -run 'TestCrashLosesNothingAcknowledged' -v ./cmd/trackplan/

# Benchmarks: figures are reported in the README with these commands. Small
# ones run as long as Go decides; the large ones (a whole simulated month,
# a million users) once each.
BENCH_SMALL = Check|NewChecker|DecodeBatch|Ingest$$|IngestConcurrent|Append|Derive|Page$$|Generate500|ContainsFold|Forward$$
BENCH_LARGE = IngestEndToEnd|IngestForwarding|Rebuild1M|DriftEvents1M|Score1M|Resolve1M|Snapshot1M|Push$$

bench:
	$(GO) test -run '^$$' -bench '$(BENCH_SMALL)' -benchmem -timeout 30m $(PKGS)
	$(GO) test -run '^$$' -bench '$(BENCH_LARGE)' -benchmem -benchtime 1x -timeout 60m $(PKGS)

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)
	@if command -v staticcheck >/dev/null 2>&1; then staticcheck $(PKGS); else echo "staticcheck not installed; skipped"; fi

demo:
	$(GO) run ./cmd/trackplan demo

tidy-check:
	$(GO) mod tidy -diff

fuzz:
	$(GO) test -run '^$$' -fuzz FuzzDecodeBatch -fuzztime 30s ./segment
	$(GO) test -run '^$$' -fuzz FuzzDecodeSingle -fuzztime 30s ./segment
	$(GO) test -run '^$$' -fuzz FuzzAggregate -fuzztime 30s ./derive

# The exports checked by the owners' tools (not in CI: it needs node and the
# npm registry): Typewriter builds a client from the Segment export of every
# template and tsc --strict compiles it; rudder-cli validate checks the
# RudderStack export when rudder-cli is on the PATH.
peer-check:
	TRACKPLAN_PEER_CHECK=1 $(GO) test -count=1 -timeout 20m -run 'TestPeerTools' -v ./cmd/trackplan/

clean:
	rm -rf bin
