# Developer and CI entry points for tenantshield-go.
#
# Run `make` or `make help` for the list of targets. Every variable assigned
# with ?= can be overridden from the environment or the command line, e.g.
#   make bench BENCH=Scope COUNT=10 PKG=./scope/...
#   make test TS_PG_DSN='postgres://me@db:5432/test?sslmode=disable'

SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-print-directory

GO ?= go

# Absolute path of the repository root (the directory holding this Makefile),
# so that `make -C path/to/repo` works from anywhere.
ROOT := $(patsubst %/,%,$(dir $(abspath $(lastword $(MAKEFILE_LIST)))))

# ---------------------------------------------------------------------------
# Database tiers of the test suite. Tests read these variables; with
# TS_REQUIRE_DBS empty a test whose database is unreachable skips, with
# TS_REQUIRE_DBS=1 (as in CI) it fails.
export TS_PG_DSN ?= postgres://postgres@127.0.0.1:5432/test?sslmode=disable
export TS_MYSQL_DSN ?= root@tcp(127.0.0.1:3306)/test?parseTime=true&multiStatements=false
export TS_REQUIRE_DBS ?=

# ---------------------------------------------------------------------------
# Tools (golangci-lint, benchstat) are pinned by the separate module in
# tools/lint and built from source. Building golangci-lint takes minutes, so
# the binaries live in a cache OUTSIDE the checkout, in a directory keyed by
# the hash of tools/lint/go.sum and the Go version: a fresh clone with the same
# pins reuses them, and changing a pin (or Go) builds a new set.
TOOLS_MOD := $(ROOT)/tools/lint
TOOLS_SUM := $(TOOLS_MOD)/go.sum
TOOLS_HASH := $(shell (sha256sum '$(TOOLS_SUM)' || shasum -a 256 '$(TOOLS_SUM)') 2>/dev/null | cut -c1-12)
GO_VERSION := $(shell $(GO) env GOVERSION)
TOOLS_CACHE ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/tenantshield-go/tools
TOOLS_BIN := $(TOOLS_CACHE)/$(TOOLS_HASH)-$(GO_VERSION)
GOLANGCI_LINT := $(TOOLS_BIN)/golangci-lint
BENCHSTAT := $(TOOLS_BIN)/benchstat
GOLANGCI_LINT_PKG := github.com/golangci/golangci-lint/v2/cmd/golangci-lint
BENCHSTAT_PKG := golang.org/x/perf/cmd/benchstat

# Benchmarks: pattern, repetitions (benchstat wants >= 6 for confidence
# intervals), time per benchmark, packages and output file.
BENCH ?= .
COUNT ?= 6
BENCHTIME ?= 1s
PKG ?= ./...
BENCH_OUT ?= bench.txt

# Fuzzing: time given to each Fuzz* target by `make fuzz`, and to each target
# by `make ci`. CI counts executions instead of time: with a duration, Go's
# fuzzer now and then fails a target with "context deadline exceeded" when
# the time runs out while a worker starts or stops, a failure of the tool
# rather than of the code (seen here on FuzzParse, which then passed 3 of 3
# reruns).
FUZZTIME ?= 10s
CI_FUZZTIME ?= 5000x

# Test timeout for the full suite.
TEST_TIMEOUT ?= 20m

COVER_OUT ?= coverage.out

.PHONY: help
help: ## Show this help.
	@echo 'Usage: make <target> [VAR=value ...]'
	@echo
	@grep -hE '^[a-zA-Z0-9_.-]+:.*## ' $(MAKEFILE_LIST) | sort | \
		awk 'BEGIN {FS = ":.*## "}; {printf "  %-18s %s\n", $$1, $$2}'
	@echo
	@echo 'Tools cache: $(TOOLS_BIN)'

.PHONY: test
test: ## Full test suite with the race detector (PostgreSQL/MariaDB tiers via TS_PG_DSN, TS_MYSQL_DSN); prints which tiers run.
	cd '$(ROOT)' && $(GO) run ./internal/cmd/dbtiers
	cd '$(ROOT)' && $(GO) test -race -count=1 -timeout $(TEST_TIMEOUT) ./...

# The randomized isolation test runs 10 000 operations per database in
# `make test`; this runs it longer (one seed, printed; replay it with
# -isolation.seed). On a 2-core machine the four databases took 35 minutes
# together (SQLite 3, MariaDB 17, pgdriver 14, pgx 24; two at a time).
ISOLATION_OPS ?= 1000000

.PHONY: isolation
isolation: ## Randomized isolation test at ISOLATION_OPS operations per database (default 1000000), all databases required.
	cd '$(ROOT)' && TS_REQUIRE_DBS=1 TS_ISOLATION_OPS=$(ISOLATION_OPS) $(GO) test -count=1 -timeout 0 -v -run 'TestRandomizedIsolation' ./bunhook/

.PHONY: test-short
test-short: ## Quick tests: go test -short ./... (no race detector).
	cd '$(ROOT)' && $(GO) test -short ./...

.PHONY: lint
lint: $(GOLANGCI_LINT) ## go vet, golangci-lint (.golangci.yml), vet-tenant and a go mod tidy check, for the library and the e2e module.
	cd '$(ROOT)' && $(GO) vet ./...
	cd '$(ROOT)' && '$(GOLANGCI_LINT)' run --allow-parallel-runners ./...
	@$(MAKE) vet-tenant
	cd '$(ROOT)/e2e' && GOWORK=off $(GO) vet -tags e2e ./...
	cd '$(ROOT)/e2e' && GOWORK=off '$(GOLANGCI_LINT)' run --allow-parallel-runners --build-tags e2e --config '$(ROOT)/.golangci.yml' ./...
	@$(MAKE) tidy-check

# vet-tenant: the tenant isolation checks of cmd/tenantshieldvet (package
# tenantvet), built from this checkout into a temporary directory. go vet
# analyses every package together with its tests and has no switch to leave
# them out, and this module's own tests deliberately run leaking raw SQL,
# queries with context.Background() and computed bypass reasons to prove
# that bunhook refuses them. So examples/ (code and tests, which must be
# clean) goes through go vet -vettool, the way users run it, and the whole
# module goes through the same binary run on its own with -test=false (its
# non-test code, with the same analyzers and facts).
.PHONY: vet-tenant
vet-tenant: ## Tenant isolation checks (cmd/tenantshieldvet): go vet -vettool on examples/, then the module without its tests.
	@cd '$(ROOT)'; tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	$(GO) build -o "$$tmp/tenantshieldvet" ./cmd/tenantshieldvet; \
	echo "go vet -vettool=tenantshieldvet ./examples/..."; \
	$(GO) vet -vettool="$$tmp/tenantshieldvet" ./examples/...; \
	echo "tenantshieldvet -test=false ./..."; \
	"$$tmp/tenantshieldvet" -test=false ./...; \
	echo 'vet-tenant: clean'

.PHONY: tidy-check
tidy-check: ## Fail if go mod tidy would change go.mod/go.sum (root and tools/lint).
	@cd '$(ROOT)' && if ! $(GO) mod tidy -diff; then \
		echo 'go.mod/go.sum are not tidy: run `go mod tidy` at the repository root' >&2; exit 1; fi
	@cd '$(TOOLS_MOD)' && if ! GOWORK=off $(GO) mod tidy -diff; then \
		echo 'tools/lint/go.mod/go.sum are not tidy: run `go mod tidy` in tools/lint' >&2; exit 1; fi

.PHONY: bench
bench: $(BENCHSTAT) ## Benchmarks (BENCH, COUNT, BENCHTIME, PKG) into bench.txt, summarised by benchstat.
	cd '$(ROOT)' && $(GO) test -run '^$$' -bench '$(BENCH)' -benchmem -benchtime '$(BENCHTIME)' -count $(COUNT) $(PKG) | tee '$(BENCH_OUT)'
	cd '$(ROOT)' && '$(BENCHSTAT)' '$(BENCH_OUT)'

# bench-compare: BenchmarkCompare (bunhook/compare_bench_test.go) on SQLite,
# PostgreSQL (pgdriver and pgx) and MariaDB, plain bun against bunhook. The
# test binary is built once and run COMPARE_COUNT times over the whole set,
# so the two sides of every workload run side by side in each round
# (interleaved), separately (impl=plain, impl=bunhook: time and
# allocations) and alternately in one loop (impl=paired: the time of each
# side). benchstat compares the separate runs (-col /impl); benchratio
# prints the ratio table with the goals of issue 11 from the paired times
# (medians of per-round ratios) and the separate allocation counts. Results go to
# COMPARE_OUT. Narrow it with COMPARE_BENCH, e.g. 'Compare/db=pg/'.
COMPARE_BENCH ?= Compare
COMPARE_COUNT ?= 6
COMPARE_BENCHTIME ?= 0.3s
COMPARE_OUT ?= bench-compare.txt

.PHONY: bench-compare
bench-compare: $(BENCHSTAT) ## Plain bun vs bunhook on every database (COMPARE_BENCH, COMPARE_COUNT, COMPARE_BENCHTIME): benchstat and the ratio table.
	@cd '$(ROOT)'; \
	bin=$$(mktemp -d)/bunhook.test; \
	$(GO) test -c -o "$$bin" ./bunhook/; \
	: > '$(COMPARE_OUT)'; \
	for i in $$(seq 1 $(COMPARE_COUNT)); do \
		echo "=== round $$i of $(COMPARE_COUNT)" >&2; \
		(cd bunhook && TS_REQUIRE_DBS=1 "$$bin" -test.run '^$$' -test.bench '$(COMPARE_BENCH)' -test.benchmem \
			-test.benchtime '$(COMPARE_BENCHTIME)' -test.timeout 0) | tee -a '$(COMPARE_OUT)' | grep -E '^(Benchmark|FAIL|---)' >&2; \
	done; \
	rm -rf "$$(dirname "$$bin")"; \
	'$(BENCHSTAT)' -col /impl -filter '/impl:(plain OR bunhook)' '$(COMPARE_OUT)'; \
	echo; \
	$(GO) run ./internal/cmd/benchratio '$(COMPARE_OUT)'

.PHONY: fuzz
fuzz: ## Run every Fuzz* target of the library for FUZZTIME each (default 10s).
	@cd '$(ROOT)'; \
	listed=$$($(GO) list -f '{{if or .TestGoFiles .XTestGoFiles}}{{.ImportPath}}{{end}}' ./...); \
	pkgs=$$(grep -v '/examples\(/\|$$\)' <<<"$$listed" || true); \
	n=0; \
	for pkg in $$pkgs; do \
		listed=$$($(GO) test -list '^Fuzz' "$$pkg"); \
		targets=$$(grep '^Fuzz' <<<"$$listed" || true); \
		for t in $$targets; do \
			n=$$((n + 1)); \
			echo "=== fuzz $$pkg $$t ($(FUZZTIME))"; \
			$(GO) test -run '^$$' -fuzz "^$$t\$$" -fuzztime '$(FUZZTIME)' "$$pkg"; \
		done; \
	done; \
	echo "fuzz: $$n target(s) run for $(FUZZTIME) each"

.PHONY: cover
cover: ## Race-enabled coverage of all packages into coverage.out, then print the total.
	cd '$(ROOT)' && $(GO) test -race -count=1 -timeout $(TEST_TIMEOUT) -coverprofile='$(COVER_OUT)' -coverpkg=./... ./...
	@cd '$(ROOT)' && $(GO) tool cover -func='$(COVER_OUT)' | tail -n 1

.PHONY: demo
demo: ## Run the quickstart example (go run ./examples/quickstart).
	cd '$(ROOT)' && $(GO) run ./examples/quickstart

.PHONY: ci
ci: ## What .ci/run runs after its database checks: lint, test, then fuzz for CI_FUZZTIME (5000 executions).
	@echo '>>> make lint'
	@$(MAKE) lint
	@echo '>>> make test'
	@$(MAKE) test
	@echo '>>> make fuzz FUZZTIME=$(CI_FUZZTIME)'
	@$(MAKE) fuzz FUZZTIME='$(CI_FUZZTIME)'

.PHONY: tools
tools: $(GOLANGCI_LINT) $(BENCHSTAT) ## Build golangci-lint and benchstat into the tools cache (once per tools/lint/go.sum).
	@'$(GOLANGCI_LINT)' version
	@echo 'tools in $(TOOLS_BIN)'

# Build into a temporary name and rename, so that an interrupted build never
# leaves a truncated binary that later runs would trust. GOWORK=off keeps a
# developer's go.work from changing the pinned versions; -trimpath keeps the
# checkout path out of the shared binary.
$(GOLANGCI_LINT):
	@mkdir -p '$(TOOLS_BIN)'
	@echo 'building golangci-lint into $(TOOLS_BIN) (a cold build takes several minutes)'
	cd '$(TOOLS_MOD)' && GOWORK=off $(GO) build -trimpath -buildvcs=false -o '$@.tmp' $(GOLANGCI_LINT_PKG)
	@mv -f '$@.tmp' '$@'

$(BENCHSTAT):
	@mkdir -p '$(TOOLS_BIN)'
	cd '$(TOOLS_MOD)' && GOWORK=off $(GO) build -trimpath -buildvcs=false -o '$@.tmp' $(BENCHSTAT_PKG)
	@mv -f '$@.tmp' '$@'

# ---------------------------------------------------------------------------
# Telemetry stack: a real OpenTelemetry Collector and a real Jaeger v2, built
# from the Go module proxy by their own modules (tools/otelcol: OCB-generated
# sources, core/contrib v0.161.0; tools/jaeger: github.com/jaegertracing/jaeger
# v1.76.0). Their dependency versions never mix with the library's. Like the
# lint tools, the binaries live in the tools cache OUTSIDE the checkout, in
# directories keyed by a hash of each module's go.mod/go.sum (and, for the
# Collector, its generated sources) and the Go version: a second build of the
# same pins costs nothing, a new pin builds a new binary.
OTELCOL_MOD := $(ROOT)/tools/otelcol
JAEGER_MOD := $(ROOT)/tools/jaeger
OCB_VERSION ?= v0.161.0
OTELCOL_HASH := $(shell cd '$(OTELCOL_MOD)' && cat go.mod go.sum *.go 2>/dev/null | { sha256sum 2>/dev/null || shasum -a 256; } | cut -c1-12)
JAEGER_HASH := $(shell cd '$(JAEGER_MOD)' && cat go.mod go.sum 2>/dev/null | { sha256sum 2>/dev/null || shasum -a 256; } | cut -c1-12)
OTELCOL := $(TOOLS_CACHE)/otelcol-$(OTELCOL_HASH)-$(GO_VERSION)/otelcol-tenantshield
JAEGER := $(TOOLS_CACHE)/jaeger-$(JAEGER_HASH)-$(GO_VERSION)/jaeger
JAEGER_PKG := github.com/jaegertracing/jaeger/cmd/jaeger
# Run directory of `make stack`: process logs, PID files, stack.env and the
# audit / other-logs JSON-lines files. It writes a .gitignore of its own.
STACK_DIR ?= $(ROOT)/.stack
STACK_ENV = OTELCOL_BIN='$(OTELCOL)' JAEGER_BIN='$(JAEGER)' STACK_DIR='$(STACK_DIR)' GO='$(GO)'

.PHONY: otelcol
otelcol: $(OTELCOL) ## Build the OpenTelemetry Collector (tools/otelcol) into the tools cache.
	@'$(OTELCOL)' --version
	@echo 'otelcol: $(OTELCOL)'

.PHONY: jaeger
jaeger: $(JAEGER) ## Build Jaeger v2 (tools/jaeger) into the tools cache.
	@echo "jaeger: $(JAEGER) ($$(grep -m1 -o 'github.com/jaegertracing/jaeger v[^ ]*' '$(JAEGER_MOD)/go.mod'))"

# Same discipline as the lint tools: temporary name then rename, GOWORK=off,
# -trimpath; -s -w drop the symbol tables (a third of the size).
$(OTELCOL):
	@mkdir -p '$(@D)'
	@echo 'building the OpenTelemetry Collector into $(@D) (a cold build takes several minutes)'
	cd '$(OTELCOL_MOD)' && GOWORK=off $(GO) build -trimpath -buildvcs=false -ldflags='-s -w' -o '$@.tmp' .
	@mv -f '$@.tmp' '$@'

$(JAEGER):
	@mkdir -p '$(@D)'
	@echo 'building Jaeger into $(@D) (a cold build takes 5-10 minutes)'
	cd '$(JAEGER_MOD)' && GOWORK=off $(GO) build -trimpath -buildvcs=false -ldflags='-s -w' -o '$@.tmp' $(JAEGER_PKG)
	@mv -f '$@.tmp' '$@'

.PHONY: otelcol-generate
otelcol-generate: ## Regenerate tools/otelcol (Go sources, go.mod, go.sum) from its builder-config.yaml with OCB.
	cd '$(OTELCOL_MOD)' && GOWORK=off $(GO) run go.opentelemetry.io/collector/cmd/builder@$(OCB_VERSION) \
		--config=builder-config.yaml --skip-compilation

# Validated with the configuration's defaults (the TS_* variables unset), in a
# scratch directory so that the relative default paths resolve there.
.PHONY: otelcol-validate
otelcol-validate: $(OTELCOL) ## Check otelcol-config.yaml (alone and with tools/otelcol/audit-forward.yaml) with the built Collector.
	@tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; cd "$$tmp"; \
	unset TS_AUDIT_FILE TS_OTHER_LOGS_FILE TS_AUDIT_QUEUE_DIR TS_AUDIT_FORWARD_ENDPOINT; \
	'$(OTELCOL)' validate --config='$(ROOT)/otelcol-config.yaml'; \
	'$(OTELCOL)' validate --config='$(ROOT)/otelcol-config.yaml' --config='$(OTELCOL_MOD)/audit-forward.yaml'; \
	echo 'otelcol-validate: otelcol-config.yaml is valid, alone and with tools/otelcol/audit-forward.yaml'

.PHONY: stack
stack: $(OTELCOL) $(JAEGER) ## Start the Collector and Jaeger on 127.0.0.1 in the background (logs, PIDs in STACK_DIR).
	@$(STACK_ENV) '$(ROOT)/e2e/stack.sh' up

.PHONY: stack-down
stack-down: ## Stop the processes `make stack` started, by PID (idempotent).
	@$(STACK_ENV) '$(ROOT)/e2e/stack.sh' down

.PHONY: stack-status
stack-status: ## Whether the processes `make stack` started are running.
	@$(STACK_ENV) '$(ROOT)/e2e/stack.sh' status

.PHONY: e2e
e2e: $(OTELCOL) $(JAEGER) ## End-to-end tests (e2e/, tag e2e) through the stack; starts/stops it unless already up.
	@$(STACK_ENV) '$(ROOT)/e2e/run.sh'

.PHONY: tools-tidy-check
tools-tidy-check: ## Fail if go mod tidy would change tools/otelcol, tools/jaeger or e2e (downloads their test deps).
	@for m in tools/otelcol tools/jaeger e2e; do \
		(cd '$(ROOT)/'$$m && GOWORK=off $(GO) mod tidy -diff) || { \
			echo "$$m/go.mod/go.sum are not tidy: run \`go mod tidy\` in $$m" >&2; exit 1; }; \
	done
