# iommud — the two commands of the README:
#   make run    installs what is missing, builds release, runs the daemon on this machine
#   make test   installs what the tests need and runs every test, timing each phase
SHELL := /bin/bash
SWIFT ?= swift
PREFIX ?= /usr
RELEASE_BIN := .build/release/iommud
DEBUG_BIN := .build/debug/iommud
PHASE := scripts/phase.sh
export PHASE_LOG ?= $(CURDIR)/.build/phases.txt
SUDO := $(shell [ "$$(id -u)" -eq 0 ] || echo sudo)

.PHONY: run test deps test-deps build release release-ordered order print-layout-flags unit integration promtool-metrics prometheus systemd qemu container kubernetes image fuzz bench format lint clean

run: deps release
	@echo "iommud: serving http://localhost:10111/metrics — try \`$(RELEASE_BIN) status\` in another terminal; Ctrl-C stops it"
	$(SUDO) $(RELEASE_BIN) run --foreground $(if $(CONFIG),--config $(CONFIG))

deps:
	@scripts/install-deps.sh run

test-deps:
	@scripts/install-deps.sh test

build:
	$(SWIFT) build

# Static Swift runtime: the binary needs only libc, libstdc++, libsystemd, zlib and libzstd on the target.
# The layout (scripts/layout/README.md): lld, one section per function, no exported symbol table.
LAYOUT_FLAGS := -Xswiftc -use-ld=lld -Xswiftc -Xfrontend -Xswiftc -function-sections \
	-Xcc -ffunction-sections -Xcxx -ffunction-sections -Xlinker --no-export-dynamic -Xlinker --no-warn-symbol-ordering
RELEASE_FLAGS := -c release --static-swift-stdlib $(LAYOUT_FLAGS)
release:
	$(SWIFT) build $(RELEASE_FLAGS)

# What `make deb` ships: the release build relinked with a link order
# file made for this very binary — traced while it runs (scripts/layout/gen-order.py) — which
# packs the functions a running daemon executes into a few contiguous pages. It changes memory
# (idle RSS, BENCHMARKS.md), never behaviour, so tests use the plain release build.
ORDER_FILE := .build/layout/iommud.order
release-ordered order:
	$(SWIFT) build $(RELEASE_FLAGS) -Xlinker -Map=$(CURDIR)/.build/iommud.map -Xlinker --no-demangle
	@mkdir -p $(dir $(ORDER_FILE))
	scripts/layout/gen-order.py iommud $(RELEASE_BIN) .build/iommud.map $(ORDER_FILE)
	rm -f $(RELEASE_BIN)
	$(SWIFT) build $(RELEASE_FLAGS) -Xlinker --symbol-ordering-file=$(CURDIR)/$(ORDER_FILE)
	scripts/layout/check-order.sh $(RELEASE_BIN) $(ORDER_FILE)

# For bench/run.sh: the flags nio-bare is built with.
print-layout-flags:
	@echo $(RELEASE_FLAGS)

test:
	@mkdir -p .build && : > $(PHASE_LOG)
	@$(PHASE) "install test dependencies" $(MAKE) --no-print-directory test-deps
	@$(PHASE) "build (debug) + unit tests" $(SWIFT) test --skip IntegrationTests
	@$(PHASE) "build (release, static stdlib)" $(MAKE) --no-print-directory release
	@$(PHASE) "integration: /dev/kmsg, promtool" $(MAKE) --no-print-directory integration
	@$(PHASE) "prometheus: rules, server scrape" $(MAKE) --no-print-directory prometheus
	@$(PHASE) "systemd: unit, socket, deb, nspawn" $(MAKE) --no-print-directory systemd
	@$(PHASE) "container: image under podman" $(MAKE) --no-print-directory container
	@$(PHASE) "kubernetes: manifests" $(MAKE) --no-print-directory kubernetes
	@$(PHASE) "real kernel under QEMU" $(MAKE) --no-print-directory qemu
	@$(PHASE) "fuzz (regressions, then a fixed number of inputs per target)" $(MAKE) --no-print-directory fuzz FUZZ_SECONDS=20 FUZZ_SEED=1 FUZZ_RUNS=table
	@echo; echo "make test: every phase passed"; cat $(PHASE_LOG)

# The serialized /dev/kmsg suite and the other tests that run the real daemon binary.
integration: $(RELEASE_BIN)
	IOMMUD_BIN=$(CURDIR)/$(RELEASE_BIN) $(SWIFT) test --filter IntegrationTests

$(RELEASE_BIN):
	$(MAKE) --no-print-directory release

prometheus: $(RELEASE_BIN)
	Tests/prometheus/run-promtool.sh
	Tests/prometheus/scrape-test.sh $(CURDIR)/$(RELEASE_BIN)

systemd: $(RELEASE_BIN)
	Tests/systemd/run-all.sh $(CURDIR)/$(RELEASE_BIN)

qemu: $(RELEASE_BIN)
	Tests/qemu/run.sh $(CURDIR)/$(RELEASE_BIN)

# The image (mk/image.mk) under rootful podman on this machine's /dev/kmsg (Tests/container/README.md).
container: $(RELEASE_BIN)
	Tests/container/run.sh $(CURDIR)/$(RELEASE_BIN)

# deploy/kubernetes/ against Kubernetes' and the Prometheus Operator's schemas (Tests/kubernetes/run.sh).
kubernetes:
	Tests/kubernetes/run.sh

FUZZ_SECONDS ?= 300
# `make fuzz`: a new random seed each run (printed; FUZZ_SEED=N repeats one); `make test`: seed 1.
fuzz:
	FUZZ_SEED=$(or $(FUZZ_SEED),$$(od -An -N2 -tu2 /dev/urandom | tr -d ' ')) Tests/fuzz/run.sh $(FUZZ_SECONDS)

bench:
	bench/run.sh

format:
	$(SWIFT) format --in-place --recursive Sources Tests Package.swift

lint:
	$(SWIFT) format lint --strict --recursive Sources Tests Package.swift

clean:
	rm -rf .build build

-include mk/*.mk

# A package made here (`make deb`) ships the ordered build; Tests/systemd packages the plain one
# through mk/install.mk directly.
deb: | release-ordered
