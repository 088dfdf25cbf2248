#!/usr/bin/env bash
# Benchmark of the pre-commit hook: `atomyx-guard git --staged` against
# `git diff --cached --raw -z` (what git itself does to list a staged
# change), side by side in one hyperfine run, process start included, on
#   - a git.git-sized checkout: 4,800 files of the Go distribution's own
#     sources ($(go env GOROOT)/src) committed, then 30 commits of 40
#     modified files, packed like a clone;
#   - a small repository: 1,000 of those files, the same way;
# each with a one-file and a 200-file staged change, and the go-git
# fallback (`--no-git-binary`) and the bare process start (`--help`)
# beside them. Target: the hook's median at most 4x git's and below
# gitleaks' (`git --pre-commit --staged`, one equivalent rule; it runs
# beside them when it is on PATH), the fallback's within 3x the hook's.
# The load average is printed with the figures (wall times on a shared
# machine mean little without it), and the mean CPU time (user + system,
# children included), which load disturbs less.
#
#   scripts/bench-hook.sh            # build (or reuse) the repositories, run, print
#   RUNS=50 scripts/bench-hook.sh
#
# The repositories are cached under $BENCH_DIR; delete it to rebuild. No
# network: everything comes from GOROOT. Needs hyperfine (Debian package
# hyperfine). This is a benchmark, not a test.
set -euo pipefail
trap 'echo "bench-hook.sh: failed at line $LINENO" >&2' ERR
cd "$(dirname "$0")/.."

RUNS=${RUNS:-30}
BENCH_DIR=${BENCH_DIR:-/tmp/atomyx-hook-bench}
bin=${BIN:-"$BENCH_DIR/atomyx-guard"} # BIN: where to build the binary (side-by-side runs of several trees)
mkdir -p "$BENCH_DIR"
# The runs stage changes in the shared repositories: one run at a time.
exec 9>"$BENCH_DIR/.lock"
flock 9

export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null
export GIT_AUTHOR_NAME=bench GIT_AUTHOR_EMAIL=bench@example.invalid
export GIT_COMMITTER_NAME=bench GIT_COMMITTER_EMAIL=bench@example.invalid

if ! command -v hyperfine >/dev/null; then
	echo "installing hyperfine (Debian package)" >&2
	apt-get install -y -q hyperfine >/dev/null || { apt-get update -q >/dev/null && apt-get install -y -q hyperfine >/dev/null; }
fi

echo "building atomyx-guard" >&2
go build -o "$bin" ./cmd/atomyx-guard

# make REPO NFILES: NFILES files of GOROOT/src, committed, then 30 commits
# of 40 modified files each, repacked.
make_repo() {
	local repo=$1 n=$2
	[ -f "$repo/.bench-complete" ] && return
	echo "building $repo: $n files of GOROOT/src, 30 more commits (once; cached)" >&2
	rm -rf "$repo"
	mkdir -p "$repo"
	(cd "$(go env GOROOT)/src" && find . -type f -size -512k | LC_ALL=C sort | sed -n "1,${n}p" | tar -cf - -T -) | tar -xf - -C "$repo"
	chmod -R u+w "$repo"
	(
		cd "$repo"
		git init -q -b main .
		git config gc.auto 0
		git add -A >/dev/null
		git commit -q -m "import"
		git ls-files >.bench-files
		local total i
		total=$(wc -l <.bench-files)
		for i in $(seq 1 30); do
			awk -v s=$(( (i * 40) % total )) 'NR > s && NR <= s + 40' .bench-files | while IFS= read -r f; do echo "// revision $i" >>"$f"; done
			git commit -q -a -m "revision $i"
		done
		git repack -adq
		git prune
		touch .bench-complete
	)
}

big="$BENCH_DIR/big"
small="$BENCH_DIR/small"
make_repo "$big" 4800
make_repo "$small" 1000

# stage REPO N: a staged change of N Go source files spread over the
# tree (one line appended to each).
stage() {
	local repo=$1 n=$2 total
	git -C "$repo" reset -q --hard main
	total=$(grep -c '\.go$' "$repo/.bench-files")
	grep '\.go$' "$repo/.bench-files" | awk -v n="$n" -v t="$total" 'NR % int(t / n) == 0 && c < n { c++; print }' |
		while IFS= read -r f; do echo "// staged by bench-hook.sh" >>"$repo/$f"; done
	git -C "$repo" add -u
}

if command -v gitleaks >/dev/null; then
	cat >"$BENCH_DIR/gitleaks.toml" <<'TOML'
[[rules]]
id = "atomyx"
regex = '''atmx_(dev|stg|prd)_[0-9A-Za-z]{38}'''
keywords = ["atmx_"]
TOML
fi

summary="$BENCH_DIR/summary.txt"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)" >"$summary"
for repo in "$big" "$small"; do
	files=$(git -C "$repo" ls-files | wc -l)
	for n in 1 200; do
		stage "$repo" "$n"
		label="$(basename "$repo")-$n"
		cmds=("git -C $repo diff --cached --raw -z"
			"$bin git --staged $repo"
			"$bin git --staged --no-git-binary $repo"
			"$bin --help")
		if command -v gitleaks >/dev/null; then
			cmds+=("gitleaks git --pre-commit --staged --no-banner --config $BENCH_DIR/gitleaks.toml --report-path /dev/null $repo")
		fi
		echo "== $files files, $n staged: $label" >&2
		hyperfine --style basic -N -i --warmup 3 --runs "$RUNS" --export-csv "$BENCH_DIR/$label.csv" "${cmds[@]}" >&2
		# CSV: command,mean,stddev,median,user,system,min,max (seconds)
		awk -F, -v files="$files" -v n="$n" '
			BEGIN { split("git diff --cached --raw -z|atomyx-guard git --staged|  --no-git-binary (go-git)|atomyx-guard --help (process start)|gitleaks --pre-commit --staged", names, "|"); printf "%d files, %d staged:\n", files, n }
			NR == 1 { next }
			NR == 2 { base = $4 }
			NR == 3 { hook = $4 }
			{
				extra = ""
				if (NR == 4) extra = sprintf("  (%.1fx the hook)", $4 / hook)
				if (NR == 6) extra = sprintf("  (the hook: %.2fx this)", hook / $4)
				printf "  %-36s median %7.1f ms  min %7.1f ms  cpu %6.1f ms  %5.1fx git%s\n", names[NR - 1], $4 * 1000, $7 * 1000, ($5 + $6) * 1000, $4 / base, extra
			}' \
			"$BENCH_DIR/$label.csv" >>"$summary"
	done
	git -C "$repo" reset -q --hard main
done
command -v gitleaks >/dev/null || echo "(gitleaks not on PATH: not compared)" >>"$summary"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$summary"
cat "$summary"
