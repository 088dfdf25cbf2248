#!/usr/bin/env bash
# Benchmark of the full-history git scan: `atomyx-guard git` against
# `git cat-file --batch-all-objects --batch --unordered >/dev/null` (the cost
# of merely reading every object) on the same repository, interleaved, best
# of RUNS, with CPU times and the scan's peak RSS. Target: 0.7x cat-file
# with --workers object readers; memory following the object count, not
# the history size.
#
#   scripts/bench-git.sh                 # build (or reuse) the repository, run, print
#   REVS=200 FILES_PER_REV=300 scripts/bench-git.sh
#
# The repository is cached under $BENCH_DIR (default /tmp/atomyx-bench): the
# Go distribution's own sources ($(go env GOROOT)/src) committed once, then
# REVS commits that each modify FILES_PER_REV files, with a few generated
# keys planted (and removed again) along the way, then packed with git
# repack like a real clone. Delete the directory to rebuild. If gitleaks is
# on PATH it is timed too, with a single equivalent rule. This is a
# benchmark, not a test.
set -euo pipefail
trap 'echo "bench-git.sh: failed at line $LINENO" >&2' ERR
cd "$(dirname "$0")/.."

REVS=${REVS:-120}
FILES_PER_REV=${FILES_PER_REV:-300}
RUNS=${RUNS:-3}
BENCH_DIR=${BENCH_DIR:-/tmp/atomyx-bench}
repo="$BENCH_DIR/gosrc-$REVS-$FILES_PER_REV"
bin=${BIN:-"$BENCH_DIR/atomyx-guard"} # BIN: where to build the binary (side-by-side runs of several trees)
mkdir -p "$BENCH_DIR"
runtmp=$(mktemp -d) # per run: concurrent runs share BENCH_DIR
trap 'rm -rf "$runtmp"' EXIT

export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null
export GIT_AUTHOR_NAME=bench GIT_AUTHOR_EMAIL=bench@example.invalid
export GIT_COMMITTER_NAME=bench GIT_COMMITTER_EMAIL=bench@example.invalid

if [ ! -x /usr/bin/time ]; then
	echo "installing GNU time (Debian package time)" >&2
	apt-get install -y -q time >/dev/null || { apt-get update -q >/dev/null && apt-get install -y -q time >/dev/null; }
fi

echo "building atomyx-guard" >&2
go build -o "$bin" ./cmd/atomyx-guard

if [ ! -f "$repo/.bench-complete" ]; then
	echo "building $repo: GOROOT/src, then $REVS commits of $FILES_PER_REV files (once; cached)" >&2
	rm -rf "$repo"
	mkdir -p "$repo"
	cp -r "$(go env GOROOT)/src/." "$repo/"
	chmod -R u+w "$repo"
	cd "$repo"
	git init -q -b main .
	git config gc.auto 0
	git add -A >/dev/null
	git commit -q -m "import Go sources"
	git ls-files -- '*.go' >"$BENCH_DIR/files.txt"
	nfiles=$(wc -l <"$BENCH_DIR/files.txt")
	mapfile -t keys < <(cd "$OLDPWD" && go run ./scripts/genkeys -n 4)
	printf '%s\n' "${keys[@]}" >"$BENCH_DIR/planted-keys.txt"
	for i in $(seq 1 "$REVS"); do
		start=$(( (i * FILES_PER_REV) % nfiles ))
		# Each file gets one changed line near its top and one appended.
		sed -n "$((start + 1)),$((start + FILES_PER_REV))p" "$BENCH_DIR/files.txt" |
			xargs -d '\n' sed -i "2s|\$| // rev $i|;\$a// revision $i"
		case $i in
		10) echo "const apiKey = \"${keys[0]}\"" >>"$(sed -n 100p "$BENCH_DIR/files.txt")" ;;
		40) printf 'ATOMYX_KEY=%s\n' "${keys[1]}" >deploy.env; git add deploy.env ;;
		41) git rm -q deploy.env ;;
		80) echo "// ${keys[2]}" >>"$(sed -n 2000p "$BENCH_DIR/files.txt")" ;;
		esac
		if [ "$i" = 60 ]; then
			git commit -q -a -m "revision $i, key ${keys[3]}"
		else
			git commit -q -a -m "revision $i"
		fi
	done
	git repack -adq
	git prune
	touch .bench-complete
	cd - >/dev/null
fi

objects=$(git -C "$repo" count-objects -v | awk '/^in-pack/ {print $2}')
pack=$(git -C "$repo" count-objects -vH | awk '/^size-pack/ {print $2, $3}')
blobbytes=$(git -C "$repo" cat-file --batch-all-objects --batch-check='%(objecttype) %(objectsize)' --unordered |
	awk '$1 == "blob" { s += $2 } END { printf "%.0f", s / 1048576 }')
commits=$(git -C "$repo" rev-list --all | wc -l)
echo "repository: $repo"
echo "  $commits commits, $objects objects, ${blobbytes} MiB of blob content, pack $pack"

# The machine may be shared and noisy: the commands run interleaved, one
# of each per round, RUNS rounds, and each is reported by its best wall
# time, with the CPU time (user+system, git children included) and peak
# RSS of that run. Exit status 1 (leaks found) is expected.
labels=("git cat-file --batch-all-objects"
	"atomyx-guard git"
	"atomyx-guard git --workers 1"
	"atomyx-guard git --no-expand")
cmds=("git -C $repo cat-file --batch-all-objects --batch --unordered"
	"$bin git --no-progress --format json $repo"
	"$bin git --no-progress --workers 1 --format json $repo"
	"$bin git --no-progress --no-expand --format json $repo")
if command -v gitleaks >/dev/null; then
	cat >"$BENCH_DIR/gitleaks.toml" <<'TOML'
[[rules]]
id = "atomyx"
regex = '''atmx_(dev|stg|prd)_[0-9A-Za-z]{38}'''
keywords = ["atmx_"]
TOML
	labels+=("gitleaks git (one rule)")
	cmds+=("gitleaks git --no-banner --config $BENCH_DIR/gitleaks.toml --report-path /dev/null $repo")
fi
declare -a bw bc br
for k in "${!cmds[@]}"; do bw[k]=999999 bc[k]=0 br[k]=0; done
for _ in $(seq "$RUNS"); do
	for k in "${!cmds[@]}"; do
		# shellcheck disable=SC2086 # the commands are word lists
		/usr/bin/time -f 'TIME %e %U %S %M' -o "$runtmp/time.out" ${cmds[k]} >/dev/null 2>"$runtmp/stderr.out" || true
		read -r _ t u s m < <(grep '^TIME ' "$runtmp/time.out") || { cat "$runtmp/time.out" "$runtmp/stderr.out" >&2; exit 1; }
		if awk -v t="$t" -v b="${bw[k]}" 'BEGIN { exit !(t < b) }'; then
			bw[k]=$t br[k]=$m bc[k]=$(awk -v u="$u" -v s="$s" 'BEGIN { printf "%.2f", u + s }')
		fi
	done
done
echo "timing (interleaved, best of $RUNS; CPU = user+system of that run, git children included):"
for k in "${!cmds[@]}"; do
	awk -v l="${labels[k]}" -v t="${bw[k]}" -v c="${bc[k]}" -v r="${br[k]}" -v base="${bw[0]}" 'BEGIN {
		printf "  %-34s %6.2f s  %5.2fx cat-file   CPU %6.2f s   peak RSS (largest process) %5d MiB\n", l, t, t / base, c, r / 1024 }'
done
cat_t=${bw[0]} scan_t=${bw[1]} noexp_t=${bw[3]} scan_rss=${br[1]}
read -r gogit_t _ < <(/usr/bin/time -f '%e' "$bin" git --no-progress --no-git-binary --format json "$repo" 2>&1 >/dev/null | tail -1)
echo "  atomyx-guard git --no-git-binary (one run): ${gogit_t} s"
found=$("$bin" git --no-progress --format json "$repo" | grep -c '"fingerprint"' || true)
echo "  keys found: $found (planted: $(wc -l <"$BENCH_DIR/planted-keys.txt"))"
awk -v s="$scan_t" -v c="$cat_t" -v g="$gogit_t" -v n="$noexp_t" 'BEGIN {
	printf "ratio atomyx-guard / cat-file: %.2fx (target <= 0.7x); without archive expansion: %.2fx; go-git path: %.2fx\n", s / c, n / c, g / c }'
# GNU time reports the largest process of the tree, which is git's own
# cat-file (it maps the pack); atomyx-guard's own peak is read from /proc.
"$bin" git --no-progress --format json "$repo" >/dev/null &
pid=$! hwm=0
while kill -0 "$pid" 2>/dev/null; do
	h=$(awk '/^VmHWM/ {print $2}' "/proc/$pid/status" 2>/dev/null || true)
	if [ -n "$h" ] && [ "$h" -gt "$hwm" ]; then hwm=$h; fi
	sleep 0.05
done
wait "$pid" || true
echo "peak RSS: atomyx-guard process $((hwm / 1024)) MiB; whole tree incl. git cat-file $((scan_rss / 1024)) MiB"
