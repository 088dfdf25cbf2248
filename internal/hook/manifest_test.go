package hook

import (
	"bufio"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// oldestPreCommit is the pre-commit framework's version in Debian 12 and
// Ubuntu 24.04, the oldest the manifest must load in. Its manifest schema
// knows these keys and these stage names; a value it does not know makes
// it refuse the whole manifest ("InvalidManifestError"), not just skip the
// hook.
const oldestPreCommit = "3.0.4"

var (
	oldManifestKeys = []string{
		"id", "name", "entry", "language", "alias", "files", "exclude", "types", "types_or",
		"exclude_types", "additional_dependencies", "args", "always_run", "fail_fast",
		"pass_filenames", "description", "language_version", "log_file",
		"minimum_pre_commit_version", "require_serial", "stages", "verbose",
	}
	oldStages = []string{
		"commit", "merge-commit", "prepare-commit-msg", "commit-msg", "post-commit",
		"manual", "post-checkout", "push", "post-merge", "post-rewrite",
	}
)

// TestPreCommitManifestLoadsInOldestPreCommit keeps .pre-commit-hooks.yaml
// within what pre-commit 3.0.4 accepts: `stages: [pre-commit]` (a 3.2
// name) once made it refuse the manifest, so the hook could not be used
// from Debian's package at all.
func TestPreCommitManifestLoadsInOldestPreCommit(t *testing.T) {
	f, err := os.Open(filepath.Join("..", "..", ".pre-commit-hooks.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	hooks := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(strings.TrimSpace(line), "#") || strings.TrimSpace(line) == "" {
			continue
		}
		entry := strings.TrimPrefix(line, "- ")
		if entry != line {
			hooks++
		} else if !strings.HasPrefix(line, "  ") {
			t.Fatalf("line %q is neither a hook nor one of its keys", line)
		}
		key, value, ok := strings.Cut(strings.TrimSpace(entry), ":")
		if !ok {
			t.Fatalf("line %q has no key", line)
		}
		value = strings.Trim(strings.TrimSpace(value), `"'`)
		if !slices.Contains(oldManifestKeys, key) {
			t.Errorf("key %q is unknown to pre-commit %s", key, oldestPreCommit)
		}
		switch key {
		case "stages":
			for s := range strings.SplitSeq(strings.Trim(value, "[]"), ",") {
				if s = strings.TrimSpace(s); !slices.Contains(oldStages, s) {
					t.Errorf("stage %q is unknown to pre-commit %s", s, oldestPreCommit)
				}
			}
		case "minimum_pre_commit_version":
			if versionLess(oldestPreCommit, value) {
				t.Errorf("minimum_pre_commit_version %s shuts out pre-commit %s", value, oldestPreCommit)
			}
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if hooks != 1 {
		t.Errorf("%d hooks in the manifest, want 1", hooks)
	}
}

// versionLess compares dotted numeric versions.
func versionLess(a, b string) bool {
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for i := range max(len(as), len(bs)) {
		var x, y int
		if i < len(as) {
			x = atoi(as[i])
		}
		if i < len(bs) {
			y = atoi(bs[i])
		}
		if x != y {
			return x < y
		}
	}
	return false
}

func atoi(s string) int {
	n := 0
	for _, c := range s {
		if c < '0' || c > '9' {
			break
		}
		n = n*10 + int(c-'0')
	}
	return n
}
