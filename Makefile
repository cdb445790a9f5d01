# rgap build, test and benchmark entry points. `make help` lists them.

GO        ?= go
BIN       ?= bin
GOBIN_DIR := $(shell $(GO) env GOPATH)/bin
export PATH := $(GOBIN_DIR):$(PATH)

# Code generators, pinned. `make tools` installs them through the Go module proxy.
BUF_VERSION                ?= v1.75.0
PROTOC_GEN_GO_VERSION      ?= v1.36.12
PROTOC_GEN_GO_GRPC_VERSION ?= v1.6.2
GOLANGCI_LINT_VERSION      ?= v2.15.0

.PHONY: help build build-plugins demo test deps check lint proto proto-check tools fmt-check vet bench bench-ingest bench-dns bench-memory bench-propagation bench-scale bench-all bench-check fuzz deb clean
export BUF_VERSION PROTOC_GEN_GO_VERSION PROTOC_GEN_GO_GRPC_VERSION GOLANGCI_LINT_VERSION

help: ## list targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

# CGO_ENABLED=0: a static binary that maps no libc, which saves every one of
# the listener's processes (it and one per output) about 1.2 MiB of PSS.
# -buildvcs=auto: embed the commit (shown by `rgap version`) even where
# GOFLAGS says -buildvcs=false. VERSION, when given, is stamped as the
# release version: `make build VERSION=1.2.0`.
VERSION   ?=
LDFLAGS   := $(if $(VERSION),-X github.com/rgap-project/rgap/internal/buildinfo.Stamped=$(VERSION))
build: build-plugins ## build bin/rgap (static) and the plugin executables; VERSION=x.y.z stamps a release version
	CGO_ENABLED=0 $(GO) build -buildvcs=auto -ldflags '$(LDFLAGS)' -o $(BIN)/rgap ./cmd/rgap

# Outputs shipped as their own executables rather than linked into rgap (every
# process of the listener re-executes rgap, so a large client library there
# costs every output process its start-up): bin/plugins/rgap-plugin-KIND,
# installed in /usr/lib/rgap/plugins. Mode 0755 for the files and the
# directory: the listener refuses plugins that others could replace.
PLUGIN_EXES := etcd
build-plugins: ## build bin/plugins/rgap-plugin-* (static)
	install -d -m 0755 $(BIN)/plugins
	$(foreach k,$(PLUGIN_EXES),CGO_ENABLED=0 $(GO) build -buildvcs=auto -o $(BIN)/plugins/rgap-plugin-$(k) ./plugins/$(k)/cmd/rgap-plugin-$(k) && chmod 0755 $(BIN)/plugins/rgap-plugin-$(k) &&) true

# The Debian package's version: the latest v* tag (v1.2.0 -> 1.2.0, with
# later commits as 1.2.0+N.gHASH), else 0~DATE.gHASH of the commit.
DEB_VERSION ?= $(shell v=$$(git describe --tags --match 'v[0-9]*' 2>/dev/null) && echo "$${v\#v}" | sed 's/-/+/; s/-/./' || \
	echo "0~$$(git log -1 --format=%cd --date=format:%Y%m%d%H%M%S).g$$(git rev-parse --short HEAD)")
DEB_DIR ?= $(BIN)
deb: ## build $(DEB_DIR)/rgap_VERSION_ARCH.deb with dpkg-deb (binary, plugin executables, units, default config, plugins dir)
	$(MAKE) build VERSION=$(DEB_VERSION)
	./packaging/build-deb.sh $(BIN)/rgap $(DEB_VERSION) $(DEB_DIR) $(foreach k,$(PLUGIN_EXES),$(BIN)/plugins/rgap-plugin-$(k))

demo: build ## run a listener and two agents on loopback (Ctrl-C to stop)
	./examples/loopback/run.sh $(BIN)/rgap

test: deps check ## everything CI runs (installs missing tools first): generated code, gofmt, vet, golangci-lint, unit + end-to-end tests under -race
	$(GO) test -race -count=1 -timeout 30m ./...

deps: ## install missing Debian packages and the pinned code generators
	./.ci/deps

check: proto-check fmt-check vet lint bench-check

tools: ## install the pinned code generators
	$(GO) install github.com/bufbuild/buf/cmd/buf@$(BUF_VERSION)
	$(GO) install google.golang.org/protobuf/cmd/protoc-gen-go@$(PROTOC_GEN_GO_VERSION)
	$(GO) install google.golang.org/grpc/cmd/protoc-gen-go-grpc@$(PROTOC_GEN_GO_GRPC_VERSION)
	$(GO) install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_LINT_VERSION)

proto: ## lint the proto and regenerate its Go code
	cd proto && buf lint && buf generate

proto-check: ## fail when the committed generated code is stale or the proto does not lint
	./.ci/proto-check

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

lint: ## golangci-lint (pinned; see .golangci.yml): zero findings, in the product and in bench/
	golangci-lint run ./...
	cd bench && golangci-lint run --config ../.golangci.yml ./...

bench-check: ## keep the benchmark module (bench/) from rotting: build, vet and its unit tests (-short), no measurement
	cd bench && $(GO) build ./... && $(GO) vet ./... && $(GO) test -short -count=1 ./...

bench: ## micro-benchmarks: codec, group state, DNS handler, SDK mirror
	$(GO) test -run '^$$' -bench . -benchmem -count 5 ./internal/protocol ./internal/group ./plugins/dns ./sdk

# The benchmark tool is a module of its own (bench/go.mod), so it runs from
# bench/ against the binary built here; `cd bench && go run . NAME -h` lists
# a benchmark's flags.
RGAP_ABS   = $(abspath $(BIN))/rgap
BENCH_RUN  = cd bench && $(GO) run .

bench-ingest: build ## loopback UDP ingest: listener CPU per datagram with v1 and v2 traffic vs a bare batch receiver
	$(BENCH_RUN) ingest -rgap $(RGAP_ABS)

bench-dns: build ## dnsperf against the dns output vs a bare miekg/dns responder; announcement-to-answer latency
	$(BENCH_RUN) dns -rgap $(RGAP_ABS)

bench-memory: build ## PSS/RSS of the idle listener and its six outputs on the reference config (root: netns)
	$(BENCH_RUN) memory -rgap $(RGAP_ABS)

bench-propagation: build ## datagram-to-join-handler latency at 10k/s; 100k-member snapshot to a restarted plugin
	$(BENCH_RUN) propagation -rgap $(RGAP_ABS)

bench-scale: build ## cost per member and per datagram with 10k, 100k and 1M members (1, 100, 1,000 groups)
	$(BENCH_RUN) scale -rgap $(RGAP_ABS)

bench-all: bench bench-ingest bench-dns bench-memory bench-propagation bench-scale ## every benchmark, one after the other

fuzz: ## run every fuzz target for 20s each
	./.ci/fuzz 20s

clean:
	rm -rf $(BIN)
