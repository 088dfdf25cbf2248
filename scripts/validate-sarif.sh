#!/usr/bin/env bash
# Validates the SARIF atomyx-guard writes with Microsoft's SARIF multitool
# (the checker the issue used; GitHub code scanning drops what it flags):
# the golden SARIF files of internal/report, and a real scan of a leaky
# history (a file, an archive member, a commit and a tag message) made by
# TestGitSARIFShowsEveryFinding. Fails on any error or warning.
#
#   scripts/validate-sarif.sh               # goldens + a real scan
#   scripts/validate-sarif.sh FILE.sarif…   # just these files
#
# Needs Node and npm (Node 20); installs @microsoft/sarif-multitool
# (pinned) into $SARIF_MULTITOOL_DIR (default: a cache directory) once.
set -euo pipefail
cd "$(dirname "$0")/.."

MULTITOOL_VERSION=${MULTITOOL_VERSION:-5.7.0}
dir=${SARIF_MULTITOOL_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/atomyx-guard/sarif-multitool-$MULTITOOL_VERSION}

case "$(uname -s)" in
Linux) plat=linux ;;
Darwin) plat=darwin ;;
*) plat=win32 ;;
esac
bin="$dir/node_modules/@microsoft/sarif-multitool-$plat/Sarif.Multitool"
if [ ! -e "$bin" ]; then
	echo "installing @microsoft/sarif-multitool@$MULTITOOL_VERSION into $dir" >&2
	mkdir -p "$dir"
	npm install --prefix "$dir" --no-audit --no-fund --loglevel=error "@microsoft/sarif-multitool@$MULTITOOL_VERSION" >&2
fi
# npm may skip the package's postinstall (chmod); do it here. The package's
# bin.js passes arguments through a shell, which splits "Sarif;Gh": call
# the binary itself.
chmod u+x "$bin"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

files=("$@")
if [ ${#files[@]} -eq 0 ]; then
	for f in internal/report/testdata/*.sarif.golden; do
		cp "$f" "$work/$(basename "$f" .golden)"
		files+=("$work/$(basename "$f" .golden)")
	done
	mkdir -p "$work/scan"
	ATOMYX_GUARD_SARIF_OUT="$work/scan" go test -count=1 -run '^TestGitSARIFShowsEveryFinding$' ./internal/cli >&2
	files+=("$work/scan/git-scan.sarif")
fi

status=0
for f in "${files[@]}"; do
	out=$("$bin" validate "$f" --output "$work/validation.sarif" --log ForceOverwrite --rule-kind "Sarif;Gh" 2>&1) || true
	problems=$(grep -E ': (error|warning) [A-Z]+[0-9]+:' <<<"$out" || true)
	if [ -n "$problems" ] || ! grep -q 'Analysis completed successfully' <<<"$out"; then
		echo "FAIL $f" >&2
		echo "${problems:-$out}" >&2
		status=1
	else
		echo "ok   $f: no errors, no warnings"
	fi
done
exit $status
