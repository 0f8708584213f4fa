# flowhist: on a fresh Debian 12 machine, as root, `make run` and `make test`
# do all the set-up themselves (see README.md). Install steps live in
# .ci/install-deps.sh so CI and humans run the same thing.

GO ?= go
GOFMT ?= gofmt
BIN ?= bin/flowhist
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
TESTFLAGS ?= -race -count=1 -timeout 15m
PKGS ?= ./...
FUZZTIME ?= 30s
VALKEY_PORT ?= 6379
VALKEY_DIR ?= /var/lib/flowhist-valkey
# VALKEY_WAIT is how long, in tenths of a second, `make valkey` waits for PONG.
VALKEY_WAIT ?= 100

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
export GO

.DEFAULT_GOAL := build
.PHONY: build deps deps-e2e test fmt-check vet bench fuzz valkey run clean

build:
	$(GO) build -ldflags "-X main.version=$(VERSION)" -o $(BIN) ./cmd/flowhist

# deps installs make, gcc (for -race), valkey-server 8 and the Go modules,
# each only if missing.
deps:
	bash .ci/install-deps.sh

# deps-e2e installs Node.js if missing and the pinned Node-RED the
# end-to-end tests run (e2e/nodered).
deps-e2e:
	bash .ci/install-deps.sh nodered

test: deps deps-e2e fmt-check vet
	cd node-red && node --test test/
	$(GO) test $(TESTFLAGS) $(PKGS)

# fmt-check lists the Go files gofmt would change (testdata and node_modules
# excepted) and fails if there are any.
fmt-check:
	@files=$$($(GOFMT) -l $$(find . \( -name .git -o -name node_modules -o -name testdata \) -prune -o -type f -name '*.go' -print)); \
	if [ -n "$$files" ]; then \
		echo "gofmt: these files are not formatted (run gofmt -w on them):"; \
		echo "$$files"; \
		exit 1; \
	fi

vet: deps
	$(GO) vet $(PKGS)

bench: deps
	$(GO) test -run '^$$' -bench . -benchmem ./domain/ ./streams/

# fuzz runs each fuzz target for FUZZTIME (go test fuzzes one target at a time).
fuzz: deps
	$(GO) test -run '^$$' -fuzz '^FuzzPatchRoundTrip$$' -fuzztime $(FUZZTIME) ./domain/
	$(GO) test -run '^$$' -fuzz '^FuzzParseFlows$$' -fuzztime $(FUZZTIME) ./domain/

# valkey makes sure a Valkey answers on 127.0.0.1:VALKEY_PORT, installing and
# starting one (daemonized: there is no systemd here) with its AOF in
# VALKEY_DIR if nothing does.
valkey:
	@ping() { [ "$$(valkey-cli -h 127.0.0.1 -p $(VALKEY_PORT) ping 2>/dev/null)" = PONG ]; }; \
	if command -v valkey-cli >/dev/null 2>&1 && ping; then \
		echo "valkey: answering on 127.0.0.1:$(VALKEY_PORT)"; \
		exit 0; \
	fi; \
	bash .ci/install-deps.sh valkey; \
	mkdir -p $(VALKEY_DIR); \
	echo "valkey: starting valkey-server on 127.0.0.1:$(VALKEY_PORT), data in $(VALKEY_DIR)"; \
	valkey-server --daemonize yes --port $(VALKEY_PORT) --bind 127.0.0.1 --appendonly yes \
		--dir $(VALKEY_DIR) --logfile $(VALKEY_DIR)/valkey.log --pidfile $(VALKEY_DIR)/valkey.pid; \
	for _ in $$(seq $(VALKEY_WAIT)); do ping && exit 0; sleep 0.1; done; \
	echo "valkey: no PONG on 127.0.0.1:$(VALKEY_PORT); the end of $(VALKEY_DIR)/valkey.log:"; \
	tail -n 20 $(VALKEY_DIR)/valkey.log; \
	exit 1

# run starts flowhist against the local Valkey. TODO: `serve` once it exists;
# until then it prints the version.
run: valkey
	bash .ci/install-deps.sh go
	FLOWHIST_VALKEY_ADDR=127.0.0.1:$(VALKEY_PORT) $(GO) run ./cmd/flowhist version

clean:
	rm -rf bin
