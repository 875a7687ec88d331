# observerd: build, test and demo. `make help` lists the targets.

GO        ?= go
BIN       := bin
# The version is the VERSION file's; revision, branch and date come from
# git (the date is the commit's, so that a build is reproducible). They go
# into github.com/prometheus/common/version: observerd -version and
# observerd_build_info show them.
VERSION   ?= $(shell cat VERSION)
REVISION  ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
BRANCH    ?= $(shell git rev-parse --abbrev-ref HEAD 2>/dev/null || echo unknown)
BUILD_DATE ?= $(shell git log -1 --format=%cd --date=format-local:%Y%m%d-%H:%M:%S 2>/dev/null || echo unknown)
VERSION_PKG := github.com/prometheus/common/version
LDFLAGS   := -s -w -X $(VERSION_PKG).Version=$(VERSION) -X $(VERSION_PKG).Revision=$(REVISION) \
	-X $(VERSION_PKG).Branch=$(BRANCH) -X $(VERSION_PKG).BuildDate=$(BUILD_DATE) -X $(VERSION_PKG).BuildUser=make
export PATH := /usr/local/go/bin:$(PATH)

.PHONY: help deps build test vet fmt-check lint run demo bench fuzz soak image-check clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

deps: ## install redis-server and prometheus (Debian packages) when missing
	@scripts/install-deps.sh

build: ## build observerd, ratelimiterd, loadgen and demo into bin/
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/ ./cmd/...

# tools/ is a module of its own (bench, soak, the image check, the deploy
# tests that need kustomize), so that the daemon's go.mod requires only what
# it ships: ./... of the root does not reach it. vet and test go over both
# modules at once in a workspace made here (and not committed, so that a
# build of the daemon never takes the tools' requirements), so that what
# both modules use is built once and their packages run side by side.
WORK := $(BIN)/all.work

$(WORK): go.mod tools/go.mod
	@mkdir -p $(BIN)
	@printf 'go %s\n\nuse (\n\t..\n\t../tools\n)\n' "$$(sed -n 's/^go //p' tools/go.mod)" > $@

vet: $(WORK)
	GOWORK=$(abspath $(WORK)) $(GO) vet ./... ./tools/...

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

test: vet fmt-check ## the whole suite: vet, gofmt, go test -race against real redis-server, prometheus and headless chromium
	@scripts/install-deps.sh test
	GOWORK=$(abspath $(WORK)) $(GO) test -race -count=1 -timeout 15m ./... ./tools/...

lint: vet fmt-check ## vet and gofmt; staticcheck too when installed
	@if command -v staticcheck >/dev/null 2>&1; then staticcheck ./... && cd tools && staticcheck ./...; else echo "staticcheck not installed: skipped"; fi

run: build ## run observerd with the environment's OBSERVERD_* settings
	$(BIN)/observerd

demo: deps build ## a live three-node cluster under load, observed (Ctrl-C or DEMO_SECONDS=N to stop)
	$(BIN)/demo

bench: deps ## micro-benchmarks and ratios, then the side-by-side table of tools/bench (tools/bench/RESULTS.md); under 10 minutes
	@scripts/install-deps.sh bench
	@$(MAKE) --no-print-directory build
	$(GO) test -run '^$$' -bench . -benchmem -count 3 $$(grep -rl --include='*_test.go' '^func Benchmark' cmd internal | xargs -n1 dirname | sort -u | sed 's|^|./|') | tee bench.out
	@echo; echo "ratios against each baseline (below 1 is better):"
	@awk -f scripts/benchratio.awk bench.out
	cd tools && $(GO) run ./bench -bin $(abspath $(BIN)) -out bench/RESULTS.md

soak: deps build ## ~15 minutes: a real healthy cluster under hot keys, bursts, fresh keys and a node restart for 10 minutes, then a loop of faults for 5 (SOAK_ARGS='-quiet 2m -duration 90s' for less, -quiet 0 to skip); fails on a violation on the healthy cluster, a failed read or observerd not staying flat
	cd tools && $(GO) run ./soak -bin $(abspath $(BIN)) $(SOAK_ARGS)

fuzz: ## every Fuzz target for FUZZTIME each (default 20s); a crash is kept in testdata/fuzz and replayed by make test
	@scripts/fuzz.sh

image-check: ## prove the Dockerfile without a container engine: base images pinned by digest, its build replayed from the context, a static non-root image whose entrypoint runs
	cd tools && $(GO) run ./imagecheck -dockerfile ../Dockerfile -context ..

clean:
	rm -rf $(BIN) bench.out
