#!/usr/bin/env bash
# Benchmark of an org scan's first run: `atomyx-guard org` on a
# one-repository organisation served over smart HTTP on loopback, against
# `git clone --mirror` of the same repository from the same server, and
# against `git clone --mirror` followed by `atomyx-guard git` on the clone;
# then `git cat-file --batch-all-objects` and `atomyx-guard git` on the
# served repository itself. Wall time is best of RUNS; peak RSS comes from
# GNU time for the same run (the largest process of the tree, git children
# included). A git child's RSS includes the pages of the pack it maps,
# which every git reader of the pack shares with the page cache, so the
# figure is split: the atomyx-guard process's own (its VmHWM, sampled every
# 0.2 s), the largest git child's (a `git` first on PATH runs the real one
# under GNU time) with its anonymous part, and the tree's PSS (shared
# pages counted once).
#
#   scripts/bench-org.sh            # needs scripts/bench-git.sh's repository
#   RUNS=5 GOGIT=0 scripts/bench-org.sh
#   SIZE=500m RUNS=2 GOGIT=0 scripts/bench-org.sh
#
# The served repository is, by default, a bare copy of the benchmark
# history that scripts/bench-git.sh builds ($BENCH_DIR/gosrc-$REVS-$FILES_PER_REV;
# run it once first). SIZE=500m serves instead a repository with a pack of
# about 500 MB, built once with scripts/genbig and git fast-import (36,000
# commits, three generated keys planted; a few minutes) and cached in
# $BENCH_DIR/big-500. scripts/orgserve serves it with git http-backend and
# a fake GitHub API listing it. GOGIT=1 (the default) also times one run
# with --no-git-binary (go-git's fetch, the fallback). This is a
# benchmark, not a test.
set -euo pipefail
trap 'echo "bench-org.sh: failed at line $LINENO" >&2' ERR
cd "$(dirname "$0")/.."

REVS=${REVS:-120}
FILES_PER_REV=${FILES_PER_REV:-300}
RUNS=${RUNS:-3}
GOGIT=${GOGIT:-1}
SIZE=${SIZE:-}
BENCH_DIR=${BENCH_DIR:-/tmp/atomyx-bench}
bin=${BIN:-"$BENCH_DIR/atomyx-guard"} # BIN: where to build the binary (side-by-side runs of several trees)
case "$SIZE" in
"")
	src="$BENCH_DIR/gosrc-$REVS-$FILES_PER_REV"
	root="$BENCH_DIR/org-root"
	name=bench
	if [ ! -f "$src/.bench-complete" ]; then
		echo "bench-org.sh: $src missing: run scripts/bench-git.sh first" >&2
		exit 2
	fi
	;;
500m)
	root="$BENCH_DIR/big-500"
	name=big
	src="$root/acme/$name.git"
	;;
*)
	echo "bench-org.sh: SIZE=$SIZE: want empty or 500m" >&2
	exit 2
	;;
esac
if [ ! -x /usr/bin/time ]; then
	echo "installing GNU time (Debian package time)" >&2
	apt-get install -y -q time >/dev/null || { apt-get update -q >/dev/null && apt-get install -y -q time >/dev/null; }
fi
export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null
mkdir -p "$BENCH_DIR"
work=$(mktemp -d "$BENCH_DIR/org-work.XXXXXX") # per run: concurrent runs share BENCH_DIR
trap 'rm -rf "$work"' EXIT

echo "building atomyx-guard and orgserve" >&2
go build -o "$bin" ./cmd/atomyx-guard
go build -o "$work/orgserve" ./scripts/orgserve

served="$root/acme/$name.git"
if [ "$SIZE" = 500m ] && [ ! -f "$root.complete" ]; then
	echo "building $served: scripts/genbig | git fast-import (once; cached)" >&2
	rm -rf "$root"
	git init -q --bare -b main "$served"
	# Three keys generated now, never committed to this project.
	mapfile -t keys < <(go run ./scripts/genkeys -n 3)
	go build -o "$work/genbig" ./scripts/genbig
	"$work/genbig" "${keys[@]}" | git --git-dir="$served" fast-import --quiet
	touch "$root.complete"
fi
if [ ! -d "$served" ]; then
	mkdir -p "$root/acme"
	git clone -q --bare --no-local "$src" "$served"
fi
pack=$(du -sm "$served/objects" | cut -f1)
objects=$(git --git-dir="$served" count-objects -v | awk '/^in-pack:/ {print $2}')
commits=$(git --git-dir="$served" rev-list --count --all)

coproc SERVE { exec "$work/orgserve" -root "$root" -name "$name"; }
read -r api <&"${SERVE[0]}"
read -r clone <&"${SERVE[0]}"
trap 'kill "$SERVE_PID" 2>/dev/null || true; rm -rf "$work"' EXIT

# A git first on PATH that logs the peak RSS of each real git child (its
# whole process tree: index-pack included).
realgit=$(command -v git)
mkdir -p "$work/bin"
printf '#!/bin/sh\nexec /usr/bin/time -a -o %q -f "%%M %%C" %q "$@"\n' "$work/gitrss" "$realgit" >"$work/bin/git"
chmod +x "$work/bin/git"

# tree PID: PID's descendants.
tree() {
	local c
	for c in $(pgrep -P "$1" || true); do
		echo "$c"
		tree "$c"
	done
}

# once CMD...: runs CMD in a fresh $work/run under GNU time, with the
# logging git first on PATH; prints "wall cpu rss own git sub": the wall
# time, the CPU time (user+sys, children included; the server's side is
# not), the peak RSS (KB) of the whole tree, of the atomyx-guard process
# (the largest VmHWM sampled) and of the largest git child, and that
# child's subcommand, and the largest anonymous (not file-backed: not the
# pack git maps) RSS sampled of any git process, and the largest sum of
# the PSS of every process of the tree sampled (shared pages counted once:
# what the run takes from the machine).
once() {
	local tp own=0 anon=0 pss=0 sum u p h w c m g
	rm -rf "$work/run"
	mkdir -p "$work/run"
	: >"$work/gitrss"
	PATH="$work/bin:$PATH" /usr/bin/time -o "$work/time" -f '%e %U %S %M' "$@" >/dev/null 2>"$work/err" &
	tp=$!
	while kill -0 "$tp" 2>/dev/null; do
		sum=0
		for p in $(tree "$tp"); do
			h=$(awk '/^Pss:/ {print $2}' "/proc/$p/smaps_rollup" 2>/dev/null || true)
			sum=$((sum + ${h:-0}))
			case "$(cat "/proc/$p/comm" 2>/dev/null)" in
			atomyx-guard)
				h=$(awk '/^VmHWM:/ {print $2}' "/proc/$p/status" 2>/dev/null || true)
				if [ -n "$h" ] && [ "$h" -gt "$own" ]; then own=$h; fi
				;;
			git*)
				h=$(awk '/^RssAnon:/ {print $2}' "/proc/$p/status" 2>/dev/null || true)
				if [ -n "$h" ] && [ "$h" -gt "$anon" ]; then anon=$h; fi
				;;
			esac
		done
		if [ "$sum" -gt "$pss" ]; then pss=$sum; fi
		sleep 0.2
	done
	wait "$tp" || true
	read -r w u c m < <(tail -1 "$work/time")
	c=$(awk "BEGIN{printf \"%.1f\", $u + $c}")
	# The largest git child: "KB subcommand" (the first word after git's
	# options and their -c values).
	g=$(awk 'BEGIN {m = 0; s = "-"}
		$1 ~ /^[0-9]+$/ && $1 > m {
			m = $1; s = "?"
			for (i = 3; i <= NF; i++) {
				if ($i == "-c") { i++; continue }
				if ($i !~ /^-/) { s = $i; break }
			}
		}
		END {print m, s}' "$work/gitrss")
	echo "$w $c $m $pss $own $g $anon"
}

# best CMD...: runs CMD RUNS times; prints once's figures for the fastest.
best() {
	local bw="" bl="" line w
	for _ in $(seq "$RUNS"); do
		line=$(once "$@")
		read -r w _ <<<"$line"
		if [ -z "$bw" ] || awk "BEGIN{exit !($w < $bw)}"; then
			bw=$w
			bl=$line
		fi
	done
	echo "$bl"
}

clone_and_scan() {
	git clone -q --mirror "$clone" "$work/run/m.git"
	"$bin" git --no-progress --format json "$work/run/m.git" >/dev/null || true
}
export -f clone_and_scan
export clone bin work

mb() { echo "$(($1 / 1024))MB"; }
row() { # label ratio wall cpu rss pss own git sub anon
	local own=- git=-
	if [ "$7" != 0 ]; then own=$(mb "$7"); fi
	if [ "$8" != 0 ]; then git="$(mb "$8") ($9; anonymous $(mb "${10}"))"; fi
	printf '%-48s %6s %7s %6s %8s %8s %7s  %s\n' "$1" "$2" "$3" "$4" "$(mb "$5")" "$(mb "$6")" "$own" "$git"
}
header() {
	printf '%-48s %6s %7s %6s %8s %8s %7s  %s\n' "$1" ratio "wall s" "CPU s" "peak RSS" "tree PSS" guard "largest git child"
}

clone_row=$(best git clone -q --mirror "$clone" "$work/run/m.git")
scan_row=$(best bash -c clone_and_scan)
org_row=$(best "$bin" org acme --github-api-url "$api" --cache "$work/run/cache" --no-progress --format json)
if [ "$GOGIT" = 1 ]; then
	gogit_row=$(RUNS=1 best "$bin" org acme --github-api-url "$api" --cache "$work/run/cache" --no-progress --format json --no-git-binary)
fi
cat_row=$(best git --git-dir="$served" cat-file --batch-all-objects --batch --unordered)
git_row=$(best "$bin" git --no-progress --format json "$served")
mkdir -p "$work/run"
found=$("$bin" org acme --github-api-url "$api" --cache "$work/run/cache2" --no-progress --format json 2>/dev/null | grep -c '"fingerprint"' || true)
load=$(cut -d' ' -f1-3 /proc/loadavg)
ratio() { awk -v a="${1%% *}" -v b="${2%% *}" 'BEGIN{printf "%.2fx", a / b}'; }

printf '\nrepository: %s (%s MiB of objects, %s objects, %s commits), served over smart HTTP on loopback\n' "$src" "$pack" "$objects" "$commits"
header "first run, best of $RUNS"
# shellcheck disable=SC2086 # the rows are words
{
	row "git clone --mirror" - $clone_row
	row "git clone --mirror + atomyx-guard git" 1.00x $scan_row
	row "atomyx-guard org (git binary)" "$(ratio "$org_row" "$scan_row")" $org_row
	if [ "$GOGIT" = 1 ]; then
		row "atomyx-guard org --no-git-binary (go-git, 1 run)" "$(ratio "$gogit_row" "$scan_row")" $gogit_row
	fi
	echo
	header "on the served repository itself, best of $RUNS"
	row "git cat-file --batch-all-objects --batch" 1.00x $cat_row
	row "atomyx-guard git" "$(ratio "$git_row" "$cat_row")" $git_row
}
echo "findings reported by atomyx-guard org: $found"
echo "load average at the end: $load"
