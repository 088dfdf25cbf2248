#!/usr/bin/env bash
# Puts the atomyx-guard binary for the action's own version in place, and
# nothing that was not verified. Called by action.yml; testable anywhere
# (internal/actioninstall runs it against a local stand-in for the releases).
#
#   action-install.sh download   # the release binary for ATOMYX_GUARD_REF, checked
#                                # against the release's checksums file
#   action-install.sh build      # no release matches: build from the action's source
#
# download: when ATOMYX_GUARD_REF is a release tag (v1.2.3) and the release
# has an archive for this OS/arch, it fetches "<name>_<version>_checksums.txt"
# and the archive, and runs nothing unless the archive's SHA-256 is the one
# the checksums file lists: a mismatch, or an archive the file does not
# list, fails loudly (exit 1) and does not fall back. A ref that is not a
# release tag (a branch, a commit) or a release that does not exist (404)
# gives found=false, and action.yml restores or builds instead.
#
# build: go build of ./cmd/atomyx-guard in the action's source, isolated
# from the consumer job's Go settings (GOFLAGS=-mod=vendor, a go.work, an
# internal GOPROXY, GOENV...).
#
# Environment:
#   ATOMYX_GUARD_REF           the action's ref (github.action_ref)
#   ATOMYX_GUARD_SRC           the action's source (github.action_path)
#   ATOMYX_GUARD_BIN_ROOT      under which binaries go (default $RUNNER_TOOL_CACHE/atomyx-guard);
#                              ATOMYX_GUARD_BIN_DIR names the exact directory (build mode)
#   ATOMYX_GUARD_RELEASES_URL  base of release downloads (default GitHub's; tests point it at a local server)
#   RUNNER_OS, RUNNER_ARCH     Linux|macOS|Windows, X64|ARM64 (default: uname)
#   GITHUB_OUTPUT              receives found, path, bin-dir, cache-key, source
set -euo pipefail

mode=${1:-download}
ref=${ATOMYX_GUARD_REF:-}
src=${ATOMYX_GUARD_SRC:-$(cd "$(dirname "$0")/.." && pwd)}
# Where binaries live: one directory per release or per build key under a
# root that stays put from run to run (the runner's tool cache), because
# actions/cache only restores a path that is the same as the one saved.
bin_root=${ATOMYX_GUARD_BIN_ROOT:-${RUNNER_TOOL_CACHE:-${RUNNER_TEMP:-${TMPDIR:-/tmp}}}/atomyx-guard}
base=${ATOMYX_GUARD_RELEASES_URL:-https://github.com/atomyx/atomyx-guard/releases/download}
name=atomyx-guard

say() { echo "atomyx-guard: $*" >&2; }
fail() {
	# An error annotation in Actions, a plain line elsewhere.
	if [ -n "${GITHUB_ACTIONS:-}" ]; then echo "::error title=atomyx-guard install::$*"; fi
	say "error: $*"
	exit 1
}
output() {
	say "$1=$2"
	if [ -n "${GITHUB_OUTPUT:-}" ]; then echo "$1=$2" >>"$GITHUB_OUTPUT"; fi
}

os=${RUNNER_OS:-$(uname -s)}
case "$os" in
Linux | linux) os=linux ;;
macOS | Darwin | darwin) os=darwin ;;
Windows | MINGW* | MSYS* | CYGWIN* | windows) os=windows ;;
*) fail "unsupported OS $os" ;;
esac
arch=${RUNNER_ARCH:-$(uname -m)}
case "$arch" in
X64 | x86_64 | amd64) arch=amd64 ;;
ARM64 | aarch64 | arm64) arch=arm64 ;;
*) fail "unsupported architecture $arch" ;;
esac
exe=$name
if [ "$os" = windows ]; then exe=$name.exe; fi

sha256() {
	if command -v sha256sum >/dev/null 2>&1; then
		sha256sum "$1" | cut -d' ' -f1
	else
		shasum -a 256 "$1" | cut -d' ' -f1
	fi
}

# source_hash identifies the action's Go source, so that a build cached for
# a moving ref (a branch) is not reused once the branch has moved.
source_hash() {
	(
		cd "$src"
		find . -name '*.go' -not -name '*_test.go' -not -path './.git/*' -print | LC_ALL=C sort |
			while IFS= read -r f; do printf '%s %s\n' "$(sha256 "$f")" "$f"; done
		sha256 go.mod
		sha256 go.sum
	) | { if command -v sha256sum >/dev/null 2>&1; then sha256sum; else shasum -a 256; fi; } | cut -c1-16
}

not_found() {
	say "$1: building from the action's source instead (cached per ref)"
	key="atomyx-guard-bin-$os-$arch-$(printf '%s' "${ref:-none}" | tr -c 'A-Za-z0-9._-' '_')-$(source_hash)"
	bin_dir=${ATOMYX_GUARD_BIN_DIR:-$bin_root/$key}
	output found false
	output bin-dir "$bin_dir"
	output cache-key "$key"
	output path "$bin_dir/$exe"
	exit 0
}

download() {
	if ! [[ $ref =~ ^v[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?$ ]]; then
		not_found "ref '${ref:-unknown}' is not a release tag"
	fi
	version=${ref#v}
	bin_dir=${ATOMYX_GUARD_BIN_DIR:-$bin_root/$ref-$os-$arch}
	bin="$bin_dir/$exe"
	ext=tar.gz
	if [ "$os" = windows ]; then ext=zip; fi
	archive="${name}_${version}_${os}_${arch}.$ext"
	sums="${name}_${version}_checksums.txt"
	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"' EXIT

	# 404: no such release (or not yet published): build. Any other failure
	# (network, 5xx after retries) also builds, but says so.
	code=$(curl -sSL --retry 3 --retry-delay 1 -o "$tmp/$sums" -w '%{http_code}' "$base/$ref/$sums" || true)
	case "$code" in
	200) ;;
	404) not_found "no release $ref" ;;
	*) not_found "could not fetch $base/$ref/$sums (HTTP ${code:-none})" ;;
	esac
	want=$(awk -v f="$archive" '$2 == f || $2 == "*" f { print $1 }' "$tmp/$sums")
	if [ -z "$want" ]; then
		fail "the checksums file of release $ref does not list $archive; refusing to run an unverified binary"
	fi
	if ! [[ $want =~ ^[0-9a-f]{64}$ ]]; then
		fail "the checksums file of release $ref lists no valid SHA-256 for $archive"
	fi
	code=$(curl -sSL --retry 3 --retry-delay 1 -o "$tmp/$archive" -w '%{http_code}' "$base/$ref/$archive" || true)
	if [ "$code" != 200 ]; then
		fail "release $ref has a checksums file but $archive could not be fetched (HTTP ${code:-none})"
	fi
	got=$(sha256 "$tmp/$archive")
	if [ "$got" != "$want" ]; then
		fail "checksum mismatch for $archive of release $ref: got $got, the release's checksums file says $want; refusing to run it"
	fi
	mkdir -p "$tmp/x" "$bin_dir"
	if [ "$ext" = zip ]; then
		if command -v unzip >/dev/null 2>&1; then unzip -q "$tmp/$archive" -d "$tmp/x"; else tar -xf "$tmp/$archive" -C "$tmp/x"; fi
	else
		tar -xzf "$tmp/$archive" -C "$tmp/x"
	fi
	if [ ! -f "$tmp/x/$exe" ]; then
		fail "$archive holds no $exe"
	fi
	mv -f "$tmp/x/$exe" "$bin.tmp$$"
	mv -f "$bin.tmp$$" "$bin"
	chmod +x "$bin"
	say "verified $archive (sha256 $got)"
	output found true
	output source release
	output bin-dir "$bin_dir"
	output path "$bin"
}

# build_version names a source build: the tag itself, else 0.0.0-dev with
# the ref (a branch, a commit) as semver build metadata.
build_version() {
	if [[ $ref =~ ^v[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?$ ]]; then
		echo "$ref"
	else
		echo "0.0.0-dev+$(printf '%s' "${ref:-unknown}" | tr -c 'A-Za-z0-9' '-' | cut -c1-40)"
	fi
}

build() {
	command -v go >/dev/null 2>&1 || fail "no release for '${ref:-unknown}' and no Go to build one"
	bin_dir=${ATOMYX_GUARD_BIN_DIR:?build needs ATOMYX_GUARD_BIN_DIR (the bin-dir output of download)}
	bin="$bin_dir/$exe"
	mkdir -p "$bin_dir"
	# The consumer's job may set GOFLAGS=-mod=vendor, GOWORK, a private
	# GOPROXY or GOENV; none of it applies to the action's own module.
	(
		cd "$src"
		env GOFLAGS="-mod=mod -buildvcs=false" GOWORK=off GOENV=off GOPROXY=https://proxy.golang.org,direct \
			GONOSUMDB= GONOSUMCHECK= GONOPROXY= GOPRIVATE= GOINSECURE= GOSUMDB=sum.golang.org \
			GOTOOLCHAIN=local CGO_ENABLED=0 GOOS= GOARCH= GOEXPERIMENT= \
			go build -trimpath -ldflags "-X github.com/atomyx/atomyx-guard/internal/version.tag=$(build_version)" \
			-o "$bin" ./cmd/atomyx-guard
	) || fail "building atomyx-guard from $src failed"
	output source build
	output path "$bin"
}

case "$mode" in
download) download ;;
build) build ;;
*) fail "unknown mode $mode (want download or build)" ;;
esac
