# TriggerFlow — the commands the README and CI use.
GO        ?= go
PKGS      ?= ./...
# CI=true (set by CI) runs the short fuzz smoke pass as part of `make test`.
FUZZTIME  ?= 10s

.PHONY: run test build lint bench bench-go fuzz ensure-postgres clean help

help: ## list targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

run: ensure-postgres ## start everything on this machine (embedded Temporal + UI, private PostgreSQL, worker, API)
	$(GO) run ./cmd/triggerflow dev

test: ensure-postgres ## every test: unit, store, API and end-to-end against real PostgreSQL, Temporal and HTTP
	$(GO) test -count=1 -timeout 20m $(PKGS)

build: ## build bin/triggerflow
	$(GO) build -o bin/triggerflow ./cmd/triggerflow

lint: ## gofmt and go vet
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)

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

ensure-postgres: ## install Debian's PostgreSQL binaries when none are present
	@scripts/ensure-postgres.sh

clean: ## remove build output and the dev data dir
	rm -rf bin .triggerflow
