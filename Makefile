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
bench: ## Run the benchmarks
	$(GO) test -run '^$$' -bench . -benchmem ./...
