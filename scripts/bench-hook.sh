#!/usr/bin/env bash
# Benchmark of the pre-commit hook: wall time of `atomyx-guard git --staged`
# for a typical staged change in a git.git-sized repository, process start
# included. The hook's cost must follow the staged change, not the history:
# the target is a median under 150 ms.
#
#   scripts/bench-hook.sh            # build (or reuse) the repository, run, print the median
#   COMMITS=20000 scripts/bench-hook.sh
#
# The repository (COMMITS commits over FILES files, made with git fast-import
# from a generated stream) is cached under $BENCH_DIR and reused; delete it
# to rebuild. Timing uses hyperfine when installed (apt-get install
# hyperfine), else a plain loop. This is a benchmark, not a test.
set -euo pipefail
cd "$(dirname "$0")/.."

COMMITS=${COMMITS:-200000}
FILES=${FILES:-4000}
RUNS=${RUNS:-30}
BENCH_DIR=${BENCH_DIR:-/tmp/atomyx-guard-bench}
repo="$BENCH_DIR/repo-$COMMITS-$FILES"
bin="$BENCH_DIR/atomyx-guard"
mkdir -p "$BENCH_DIR"

export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null
export GIT_AUTHOR_NAME=bench GIT_AUTHOR_EMAIL=bench@example.invalid
export GIT_COMMITTER_NAME=bench GIT_COMMITTER_EMAIL=bench@example.invalid

echo "building atomyx-guard" >&2
go build -o "$bin" ./cmd/atomyx-guard

if [ ! -f "$repo.complete" ]; then
	echo "generating $COMMITS commits over $FILES files in $repo (once; cached)" >&2
	rm -rf "$repo"
	git init -q -b main "$repo"
	start=$(date +%s)
	# One commit adds every file; each later commit rewrites one file.
	awk -v n="$COMMITS" -v nf="$FILES" '
	function data(s) { printf "data %d\n%s\n", length(s), s }
	function content(f, i,   s, k) {
		s = sprintf("/* file %d, revision %d */\n", f, i)
		for (k = 0; k < 8; k++) s = s sprintf("static int v%d_%d = %d; /* padding text of a typical source line */\n", f, k, (i * 31 + k * 17) % 1000003)
		return s
	}
	BEGIN {
		t = 1100000000
		print "commit refs/heads/main"
		printf "committer bench <bench@example.invalid> %d +0000\n", t
		data("initial import")
		for (f = 0; f < nf; f++) { printf "M 100644 inline src/d%02d/file%04d.c\n", f % 97, f; data(content(f, 0)) }
		print ""
		for (i = 1; i < n; i++) {
			f = (i * 7919) % nf
			print "commit refs/heads/main"
			printf "committer bench <bench@example.invalid> %d +0000\n", t + i * 60
			data(sprintf("change %d: touch file%04d", i, f))
			printf "M 100644 inline src/d%02d/file%04d.c\n", f % 97, f
			data(content(f, i))
			print ""
		}
	}' | git -C "$repo" fast-import --quiet
	git -C "$repo" reset -q --hard main
	touch "$repo.complete"
	echo "generated in $(( $(date +%s) - start )) s: $(git -C "$repo" rev-list --count main) commits, $(git -C "$repo" ls-files | wc -l) files, $(du -sh "$repo/.git" | cut -f1)" >&2
fi

# A typical staged change: three files edited, one added.
stage() {
	git -C "$repo" reset -q --hard main
	git -C "$repo" clean -qfd
	for f in src/d00/file0000.c src/d01/file0001.c src/d02/file0002.c; do
		printf 'int added_by_bench(void) { return %d; }\n' "$RANDOM" >>"$repo/$f"
	done
	mkdir -p "$repo/src/new"
	printf 'const char *endpoint = "https://submit.atomyx.io/api";\n' >"$repo/src/new/client.c"
	if [ -n "${1:-}" ]; then printf 'API_KEY=%s\n' "$1" >>"$repo/src/new/client.c"; fi
	git -C "$repo" add -A
}

median_loop() { # command... ; prints the median wall time in ms
	local times=() i s e
	for ((i = 0; i < RUNS + 3; i++)); do
		s=$(date +%s%N)
		"$@" >/dev/null 2>&1 || true
		e=$(date +%s%N)
		((i < 3)) || times+=($(( (e - s) / 1000 )))
	done
	printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {m = (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2; printf "%.1f\n", m / 1000}'
}

bench() { # label
	local label=$1 ms
	if command -v hyperfine >/dev/null 2>&1; then
		hyperfine --style basic -N -i --warmup 3 --runs "$RUNS" --export-json "$BENCH_DIR/$label.json" \
			"$bin git --staged $repo" >&2
		ms=$(awk -F: '/"median"/ {gsub(/[ ,]/, "", $2); printf "%.1f", $2 * 1000; exit}' "$BENCH_DIR/$label.json")
	else
		ms=$(median_loop "$bin" git --staged "$repo")
	fi
	echo "$label: median ${ms} ms (target < 150 ms)"
}

stage
(cd "$repo" && git diff --cached --stat | tail -1) >&2
bench clean-change
# The same change with a key in it (blocked commit path), when python3 can
# make a fresh key; no key is ever stored in this script.
if command -v python3 >/dev/null 2>&1; then
	key=$(python3 -c '
import secrets, zlib
A = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
k = "atmx_prd_" + "".join(secrets.choice(A) for _ in range(32))
v, c = zlib.crc32(k.encode()) & 0xffffffff, ""
for _ in range(6): c, v = A[v % 62] + c, v // 62
print(k + c)')
	stage "$key"
	bench change-with-key
	unset key
fi
git -C "$repo" reset -q --hard main
