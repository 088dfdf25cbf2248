#!/usr/bin/env bash
# Benchmark of `atomyx-guard dir` over real, published client-side bundles
# against a single-threaded `grep -rc atmx_` over the same tree (the cost of
# merely reading every byte once and looking for the prefix).
#
#   scripts/bench-bundles.sh            # fetch (once; cached), unpack, run, print
#   RUNS=7 scripts/bench-bundles.sh
#
# The corpus is the npm packages below, fetched with `npm pack` into
# $BENCH_DIR/bundles (default /tmp/atomyx-bench/bundles) and unpacked there;
# delete the directory to fetch again. Every decoder and source-map mapping
# is on (the default). A generated key is planted in a copy of one bundle
# (base64 of a JSON with \u escapes, inside a minified line) so that the run
# also shows the encoded key is found. Wall time is best of RUNS; CPU time
# (user+sys) and peak RSS come from GNU time for the same best run. The
# machine this runs on may be shared: compare the CPU seconds as well as
# the wall time. This is a benchmark, not a test.
set -euo pipefail
trap 'echo "bench-bundles.sh: failed at line $LINENO" >&2' ERR
cd "$(dirname "$0")/.."

RUNS=${RUNS:-5}
BENCH_DIR=${BENCH_DIR:-/tmp/atomyx-bench}
corpus="$BENCH_DIR/bundles"
bin=${BIN:-"$BENCH_DIR/atomyx-guard"} # BIN: where to build the binary (side-by-side runs of several trees)
PACKAGES=(typescript monaco-editor pdfjs-dist three @babel/standalone firebase react-dom @angular/core lodash aws-sdk)

if [ ! -x /usr/bin/time ]; then
	echo "installing GNU time (Debian package time)" >&2
	apt-get install -y -q time >/dev/null || { apt-get update -q >/dev/null && apt-get install -y -q time >/dev/null; }
fi

mkdir -p "$BENCH_DIR"
echo "building atomyx-guard" >&2
go build -o "$bin" ./cmd/atomyx-guard

if [ ! -f "$corpus/.complete" ]; then
	echo "fetching ${PACKAGES[*]} with npm pack (once; cached in $corpus)" >&2
	rm -rf "$corpus"
	mkdir -p "$corpus/tgz" "$corpus/tree"
	(cd "$corpus/tgz" && npm pack --silent "${PACKAGES[@]}" >/dev/null)
	for t in "$corpus"/tgz/*.tgz; do
		d="$corpus/tree/$(basename "$t" .tgz)"
		mkdir -p "$d"
		tar -xzf "$t" -C "$d"
	done
	# One planted key, encoded twice (JSON \u escapes, then base64), on a
	# long minified line.
	key=$(go run ./scripts/genkeys -n 1)
	enc=$(printf '{"k":"%s"}' "$(printf '%s' "$key" | sed 's/_/\\u005f/g')" | base64 -w0)
	mkdir -p "$corpus/tree/planted"
	printf 'var a=1;window.cfg="%s";var b=2;\n' "$enc" >"$corpus/tree/planted/app.min.js"
	touch "$corpus/.complete"
fi

files=$(find "$corpus/tree" -type f | wc -l)
bytes=$(du -sb "$corpus/tree" | cut -f1)
maps=$(find "$corpus/tree" -type f -name '*.map' -print0 | du -cb --files0-from=- | tail -1 | cut -f1)
echo "corpus: $files files, $((bytes / 1000000)) MB, $((maps / 1000000)) MB of it source maps"

# best CMD...: runs CMD RUNS times; prints "wall cpu rss" of the fastest.
best() {
	local bw="" line
	for _ in $(seq "$RUNS"); do
		line=$(/usr/bin/time -f '%e %U %S %M' "$@" 2>&1 >/dev/null | tail -1)
		read -r w u s m <<<"$line"
		if [ -z "$bw" ] || awk "BEGIN{exit !($w < $bw)}"; then
			bw=$w
			bl="$w $(awk "BEGIN{print $u+$s}") $m"
		fi
	done
	echo "$bl"
}

find "$corpus/tree" -type f -print0 | xargs -0 cat >/dev/null # warm the page cache

read -r gw gc gm <<<"$(best grep -rc atmx_ "$corpus/tree")"
read -r aw ac am <<<"$(best "$bin" dir --format json "$corpus/tree")"
read -r nw nc nm <<<"$(best "$bin" dir --no-expand --format json "$corpus/tree")"

found=$("$bin" dir --format json "$corpus/tree" 2>/dev/null | grep -c '"fingerprint"' || true)

printf '\n%-40s %8s %8s %9s %8s\n' "best of $RUNS" "wall s" "cpu s" "peak RSS" "vs grep"
printf '%-40s %8s %8s %7sMB %8s\n' "grep -rc atmx_ (one thread)" "$gw" "$gc" "$((gm / 1024))" "1.00x"
printf '%-40s %8s %8s %7sMB %8s\n' "atomyx-guard dir (all decoders on)" "$aw" "$ac" "$((am / 1024))" "$(awk "BEGIN{printf \"%.2fx\", $aw/$gw}")"
printf '%-40s %8s %8s %7sMB %8s\n' "atomyx-guard dir --no-expand" "$nw" "$nc" "$((nm / 1024))" "$(awk "BEGIN{printf \"%.2fx\", $nw/$gw}")"
echo "findings reported by atomyx-guard dir: $found (1 planted)"
