# TriggerFlow — the commands the README and CI use.
GO        ?= go
PKGS      ?= ./...
FUZZTIME  ?= 10s
# fuzz-smoke (run by .ci/run after `make test`) gives every fuzz target this many new inputs;
# a count, not a duration: a time budget can end mid-input and report a false failure.
SMOKETIME ?= 1000x

.PHONY: run test chaos build lint generate bench bench-go fuzz fuzz-smoke ensure-postgres ensure-chromium console-screenshots clean help

help: ## list targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

run: ensure-postgres ## start everything on this machine (embedded Temporal + UI, private PostgreSQL, worker, API)
	$(GO) run ./cmd/triggerflow dev

test: ensure-postgres ensure-chromium ## every test: unit, store, API, end-to-end and the console in headless chromium, against real PostgreSQL, Temporal and HTTP
	$(GO) test -count=1 -timeout 20m $(PKGS)

build: ## build bin/triggerflow
	$(GO) build -o bin/triggerflow ./cmd/triggerflow

lint: ## gofmt, go vet, the OpenAPI document (Redocly CLI, pinned) and a current generated API client
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)
	cd tools/openapi-lint && npm ci --no-audit --no-fund --loglevel=error && npx --no-install redocly lint --config redocly.yaml ../../schemas/openapi.json
	@tmp=$$(mktemp -d) && trap 'rm -rf $$tmp' EXIT && \
	  sed "s#^output:.*#output: $$tmp/apiclient.gen.go#" apiclient/oapi-codegen.yaml > $$tmp/config.yaml && \
	  $(GO) tool oapi-codegen -config $$tmp/config.yaml schemas/openapi.json && \
	  if ! cmp -s $$tmp/apiclient.gen.go apiclient/apiclient.gen.go; then echo "apiclient/apiclient.gen.go is not generated from schemas/openapi.json: run make generate"; exit 1; fi

generate: ## regenerate the typed API client (apiclient/) from schemas/openapi.json
	$(GO) generate ./apiclient/

bench: ## throughput and latency through the real stack (starts a dev stack); BENCH_FLAGS=--quick for a short run
	$(GO) run ./cmd/triggerflow bench $(BENCH_FLAGS)

bench-go: ## Go benchmarks of the hot paths (matching, conditions, templates, signing)
	$(GO) test -run '^$$' -bench . -benchmem ./domain/ ./activities/ ./store/

fuzz: ## run every fuzz target for FUZZTIME each
	@for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg 2>/dev/null | grep '^Fuzz'); do \
	    echo "fuzz $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done

# The fuzzsmoke tag leaves out test files that need the whole stack (//go:build !fuzzsmoke, e.g.
# apiserver's end-to-end tests): fuzzing instruments every package in the test binary, and
# instrumenting the embedded Temporal server took ~9 minutes on a cold cache.
fuzz-smoke: ## run every fuzz target briefly (SMOKETIME each; seeds and checked-in crashers first)
	@set -e; for dir in $$(grep -rl --include='*_test.go' '^func Fuzz' . | xargs -n1 dirname | sort -u); do \
	  for f in $$(grep -h --include='*_test.go' -o '^func Fuzz[A-Za-z0-9_]*' $$dir/*_test.go | sed 's/^func //' | sort -u); do \
	    echo "fuzz-smoke $$dir $$f"; $(GO) test -tags fuzzsmoke -run '^$$' -fuzz "^$$f$$" -fuzztime $(SMOKETIME) -parallel 2 $$dir || exit 1; \
	  done; \
	done

chaos: ensure-postgres ## only the fault tests (worker killed, stack restarted, PostgreSQL stopped, receiver down, flood, duplicate publishes); `make test` runs them too
	$(GO) test -count=1 -timeout 15m -run 'Chaos|Fault' $(PKGS)

ensure-postgres: ## install Debian's PostgreSQL binaries when none are present
	@scripts/ensure-postgres.sh

ensure-chromium: ## install Debian's chromium when missing (the console's browser tests drive it headless)
	@scripts/ensure-chromium.sh

console-screenshots: ensure-postgres ensure-chromium ## redo docs/console/*.png: the console's browser tests against the real stack
	TRIGGERFLOW_SCREENSHOTS=$(CURDIR)/docs/console $(GO) test -count=1 -run 'TestConsole' ./console/

# When dev runs as root from a folder the postgres user cannot reach (root's 0700 home), the
# cluster lives in $$TRIGGERFLOW_PG_ROOT/<hash> (default /var/lib/triggerflow) and
# .triggerflow/postgres links to it: remove the cluster too.
clean: ## remove build output and the dev data dir (with its PostgreSQL cluster, wherever it lives)
	@if [ -L .triggerflow/postgres ]; then \
	  d=$$(readlink .triggerflow/postgres); \
	  case "$$d" in /*/?*) echo "rm -rf $$d"; rm -rf "$$d";; *) echo "not removing odd cluster link $$d" >&2;; esac; \
	fi
	rm -rf bin .triggerflow
