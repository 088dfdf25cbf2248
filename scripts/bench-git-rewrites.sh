#!/usr/bin/env bash
# Benchmark of the full-history scan on a history of whole-file rewrites
# (250 commits each rewriting 40 files of ~72 KB: ~700 MiB of blobs), the
# shape where diff-based scanners such as gitleaks pay most. Times
# `git cat-file --batch-all-objects --batch --unordered`, `atomyx-guard
# git` and, when on PATH, gitleaks with one equivalent rule; best of RUNS.
# This is a benchmark, not a test.
#
#   scripts/bench-git-rewrites.sh
#   COMMITS=500 scripts/bench-git-rewrites.sh
set -euo pipefail
cd "$(dirname "$0")/.."

COMMITS=${COMMITS:-250}
FILES=${FILES:-40}
RUNS=${RUNS:-3}
BENCH_DIR=${BENCH_DIR:-/tmp/atomyx-bench}
repo="$BENCH_DIR/rewrites-$COMMITS-$FILES"
bin=${BIN:-"$BENCH_DIR/atomyx-guard"} # BIN: where to build the binary (side-by-side runs of several trees)
mkdir -p "$BENCH_DIR"
runtmp=$(mktemp -d) # per run: concurrent runs share BENCH_DIR
trap 'rm -rf "$runtmp"' EXIT
export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null

go build -o "$bin" ./cmd/atomyx-guard
if [ ! -f "$repo.complete" ]; then
	echo "building $repo" >&2
	rm -rf "$repo"
	git init -q -b main "$repo"
	# Two keys generated now, never committed to this project.
	mapfile -t keys < <(go run ./scripts/genkeys -n 2)
	go run ./scripts/genrewrites -commits "$COMMITS" -files "$FILES" "${keys[@]}" | git -C "$repo" fast-import --quiet
	git -C "$repo" repack -adq
	touch "$repo.complete"
fi
echo "repository: $repo ($(git -C "$repo" rev-list --count --all) commits, pack $(du -sh "$repo/.git/objects/pack" | cut -f1))"

best() {
	local label=$1 b=999999 t
	shift
	for _ in $(seq "$RUNS"); do
		/usr/bin/time -f '%e' -o "$runtmp/time.out" "$@" >/dev/null 2>&1 || true
		t=$(tail -1 "$runtmp/time.out")
		if awk -v t="$t" -v b="$b" 'BEGIN { exit !(t < b) }'; then b=$t; fi
	done
	printf '  %-36s %8.2f s\n' "$label" "$b" >&2
	echo "$b"
}
cat_t=$(best "git cat-file --batch-all-objects" git -C "$repo" cat-file --batch-all-objects --batch --unordered)
scan_t=$(best "atomyx-guard git" "$bin" git --no-progress --format json "$repo")
found=$("$bin" git --no-progress --format json "$repo" | grep -c '"fingerprint"' || true)
echo "  keys found by atomyx-guard: $found (planted: 2, one in a commit message)"
awk -v s="$scan_t" -v c="$cat_t" 'BEGIN { printf "ratio atomyx-guard / cat-file: %.2fx\n", s / c }'
if command -v gitleaks >/dev/null; then
	cat >"$BENCH_DIR/gitleaks.toml" <<'TOML'
[[rules]]
id = "atomyx"
regex = '''atmx_(dev|stg|prd)_[0-9A-Za-z]{38}'''
keywords = ["atmx_"]
TOML
	gl_t=$(RUNS=1 best "gitleaks git (one rule)" gitleaks git --no-banner --config "$BENCH_DIR/gitleaks.toml" --report-path /dev/null "$repo")
	awk -v s="$scan_t" -v c="$cat_t" -v g="$gl_t" 'BEGIN { printf "gitleaks / cat-file: %.1fx; atomyx-guard is %.1fx faster than gitleaks\n", g / c, g / s }'
fi
