# UFO: one binary, `ufo`. `make help` lists the targets.
GO      ?= go
BIN     ?= bin/ufo
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X main.version=$(VERSION)

.DEFAULT_GOAL := help

.PHONY: help
help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-z-]+:.*## / {printf "  %-12s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: build
build: ## Build bin/ufo
	$(GO) build -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/ufo

.PHONY: run
run: build ## Start UFO on this machine: embedded PostgreSQL, the server on :8080 and a local rover (ufo up)
	$(BIN) up

.PHONY: test
test: ## Run every test (race detector on, real PostgreSQL, real git, real processes)
	$(GO) test -race -count=1 -timeout 20m ./...

.PHONY: lint
lint: ## gofmt and go vet
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

.PHONY: generate
generate: ## Regenerate generated files (go generate)
	$(GO) generate ./...

.PHONY: verify
verify: generate lint ## Check generated files are current, go.mod is tidy and the code is formatted
	$(GO) mod tidy
	@git diff --exit-code -- go.mod go.sum || (echo "go.mod/go.sum are not tidy: run go mod tidy"; exit 1)
	@test -z "$$(git status --porcelain)" || (git status --porcelain; echo "generated files are not current: run make generate and commit"; exit 1)

.PHONY: bench
bench: ## Measure UFO beside this machine's PostgreSQL ceilings: one table, bench/results.json (BENCHFLAGS=-quick for a short run)
	$(GO) run ./cmd/ufobench $(BENCHFLAGS)

.PHONY: chaos
chaos: ## Chaos suite, full form: 3 servers, 10 rovers, 500 operations, SIGKILLs and a PostgreSQL restart (make test runs a short form)
	UFO_CHAOS=full $(GO) test -race -count=1 -v -timeout 15m -run '^TestChaos$$' ./chaos

FUZZTIME ?= 30s

.PHONY: fuzz
fuzz: ## Fuzz every Fuzz* target for FUZZTIME each (default 30s); go test runs their seed corpora in testdata/fuzz
	@failed=""; for file in $$(grep -rl --include='*_test.go' --exclude-dir=node_modules '^func Fuzz' .); do \
		for fn in $$(sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(.*/\1/p' $$file); do \
			echo "== $$fn in $$(dirname $$file) for $(FUZZTIME)"; \
			$(GO) test -run '^$$' -fuzz "^$$fn$$" -fuzztime $(FUZZTIME) $$(dirname $$file) || failed="$$failed $$fn"; \
		done; \
	done; \
	if [ -n "$$failed" ]; then echo "fuzzing found failures in:$$failed (inputs written to testdata/fuzz)"; exit 1; fi

.PHONY: screenshot
screenshot: ## Render the board with a few operations in headless Chromium into docs/board.png
	$(GO) test ./app/web -count=1 -run TestScreenshotBoard -screenshot docs/board.png
