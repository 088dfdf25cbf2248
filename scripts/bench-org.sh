#!/usr/bin/env bash
# Benchmark of an org scan's first run: `atomyx-guard org` on a
# one-repository organisation served over smart HTTP on loopback, against
# `git clone --mirror` of the same repository from the same server, and
# against `git clone --mirror` followed by `atomyx-guard git` on the clone.
# Wall time is best of RUNS; peak RSS (the largest process, git children
# included) comes from GNU time for the same run.
#
#   scripts/bench-org.sh            # needs scripts/bench-git.sh's repository
#   RUNS=5 GOGIT=0 scripts/bench-org.sh
#
# The served repository is a bare copy of the benchmark history that
# scripts/bench-git.sh builds ($BENCH_DIR/gosrc-$REVS-$FILES_PER_REV; run
# it once first). scripts/orgserve serves it with git http-backend and a
# fake GitHub API listing it. GOGIT=1 (the default) also times one run with
# --no-git-binary (go-git's fetch, the fallback). This is a benchmark, not
# a test.
set -euo pipefail
trap 'echo "bench-org.sh: failed at line $LINENO" >&2' ERR
cd "$(dirname "$0")/.."

REVS=${REVS:-120}
FILES_PER_REV=${FILES_PER_REV:-300}
RUNS=${RUNS:-3}
GOGIT=${GOGIT:-1}
BENCH_DIR=${BENCH_DIR:-/tmp/atomyx-bench}
src="$BENCH_DIR/gosrc-$REVS-$FILES_PER_REV"
root="$BENCH_DIR/org-root"
bin=${BIN:-"$BENCH_DIR/atomyx-guard"} # BIN: where to build the binary (side-by-side runs of several trees)
work="$BENCH_DIR/org-work"

if [ ! -f "$src/.bench-complete" ]; then
	echo "bench-org.sh: $src missing: run scripts/bench-git.sh first" >&2
	exit 2
fi
if [ ! -x /usr/bin/time ]; then
	echo "installing GNU time (Debian package time)" >&2
	apt-get install -y -q time >/dev/null || { apt-get update -q >/dev/null && apt-get install -y -q time >/dev/null; }
fi
export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null

echo "building atomyx-guard and orgserve" >&2
go build -o "$bin" ./cmd/atomyx-guard
go build -o "$BENCH_DIR/orgserve" ./scripts/orgserve

if [ ! -d "$root/acme/bench.git" ]; then
	mkdir -p "$root/acme"
	git clone -q --bare --no-local "$src" "$root/acme/bench.git"
fi
pack=$(du -sm "$root/acme/bench.git/objects" | cut -f1)

coproc SERVE { exec "$BENCH_DIR/orgserve" -root "$root" -name bench; }
read -r api <&"${SERVE[0]}"
read -r clone <&"${SERVE[0]}"
trap 'kill "$SERVE_PID" 2>/dev/null || true' EXIT

# best CMD...: runs CMD RUNS times after PREP; prints "wall rss" of the
# fastest run.
best() {
	local bw="" bl="" line w m
	for _ in $(seq "$RUNS"); do
		rm -rf "$work"
		mkdir -p "$work"
		line=$( { /usr/bin/time -f '%e %M' "$@" >/dev/null 2>"$work/err" || true; } 2>&1; tail -1 "$work/err")
		read -r w m <<<"$line"
		if [ -z "$bw" ] || awk "BEGIN{exit !($w < $bw)}"; then
			bw=$w
			bl="$w $m"
		fi
	done
	echo "$bl"
}

clone_and_scan() {
	git clone -q --mirror "$clone" "$work/m.git"
	"$bin" git --no-progress --format json "$work/m.git" >/dev/null || true
}
export -f clone_and_scan
export clone bin work

read -r cw cm <<<"$(best git clone -q --mirror "$clone" "$work/m.git")"
read -r sw sm <<<"$(best bash -c clone_and_scan)"
read -r ow om <<<"$(best "$bin" org acme --github-api-url "$api" --cache "$work/cache" --no-progress --format json)"
found=$("$bin" org acme --github-api-url "$api" --cache "$work/cache2" --no-progress --format json 2>/dev/null | grep -c '"fingerprint"' || true)

printf '\nrepository: %s (%s MiB of objects), served over smart HTTP on loopback\n' "$src" "$pack"
printf '%-52s %8s %9s %8s\n' "first run, best of $RUNS" "wall s" "peak RSS" "ratio"
printf '%-52s %8s %7sMB %8s\n' "git clone --mirror" "$cw" "$((cm / 1024))" "-"
printf '%-52s %8s %7sMB %8s\n' "git clone --mirror + atomyx-guard git" "$sw" "$((sm / 1024))" "1.00x"
printf '%-52s %8s %7sMB %8s\n' "atomyx-guard org (git binary)" "$ow" "$((om / 1024))" "$(awk "BEGIN{printf \"%.2fx\", $ow/$sw}")"
if [ "$GOGIT" = 1 ]; then
	RUNS=1 read -r gw gm <<<"$(RUNS=1 best "$bin" org acme --github-api-url "$api" --cache "$work/cache" --no-progress --format json --no-git-binary)"
	printf '%-52s %8s %7sMB %8s\n' "atomyx-guard org --no-git-binary (go-git, 1 run)" "$gw" "$((gm / 1024))" "$(awk "BEGIN{printf \"%.2fx\", $gw/$sw}")"
fi
echo "findings reported by atomyx-guard org: $found"
