package cli

import (
	"encoding/json"
	"github.com/atomyx/atomyx-guard/internal/testkit"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/atomyx/atomyx-guard/internal/finding"
	"github.com/atomyx/atomyx-guard/internal/report"
	"github.com/atomyx/atomyx-guard/patterns"
)

// TestGitNothingReadableFailsClosed: a repository whose only pack is cut
// to 12 bytes cannot be called clean: exit 2, with the report written
// and marked partial. One corrupt object among readable ones is a partial
// scan that says so.
func TestGitNothingReadableFailsClosed(t *testing.T) {
	repo := testkit.NewGitRepo(t)
	repo.Write("a.env", "KEY="+testkit.NewKey(t, patterns.Production)+"\n")
	repo.Commit("add")
	repo.Git("repack", "-adq")
	repo.Git("prune")
	packs, _ := filepath.Glob(filepath.Join(repo.Dir, ".git", "objects", "pack", "*.pack"))
	if len(packs) != 1 {
		t.Fatalf("want one pack, got %v", packs)
	}
	if err := os.Chmod(packs[0], 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(packs[0], 12); err != nil {
		t.Fatal(err)
	}
	for _, extra := range [][]string{nil, {"--no-git-binary"}} {
		out := filepath.Join(t.TempDir(), "r.json")
		r := runCLI(t, nil, append([]string{"git", repo.Dir, "--format", "json", "--report", out}, extra...)...)
		if r.code != ExitError {
			t.Fatalf("%v: exit %d, want %d\n%s", extra, r.code, ExitError, r.errOut)
		}
		rep := readReport(t, out)
		if !rep.Stats.Partial || len(rep.Skipped) == 0 {
			t.Errorf("%v: report not marked partial: %+v", extra, rep.Stats)
		}
	}

	// Partly readable: exit by findings, summary and stats say partial.
	part := testkit.NewGitRepo(t)
	part.Write("good.txt", "fine\n")
	part.Write("bad.txt", strings.Repeat("filler ", 2000)+"\n")
	part.Commit("two files")
	bad := part.Git("rev-parse", "HEAD:bad.txt")
	p := filepath.Join(part.Dir, ".git", "objects", bad[:2], bad[2:])
	if err := os.Chmod(p, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(p, 10); err != nil {
		t.Fatal(err)
	}
	r := runCLI(t, nil, "git", part.Dir)
	if r.code != ExitClean || !strings.Contains(r.out, "PARTIAL") {
		t.Errorf("partly readable: exit %d, summary %q", r.code, r.out)
	}
}

// TestGitKeyInRefName: a branch named with a key is a finding of kind
// "ref", and no output carries the whole key, even where git quotes the
// ref's name in a warning.
func TestGitKeyInRefName(t *testing.T) {
	repo := testkit.NewGitRepo(t)
	key := testkit.NewKey(t, patterns.Staging)
	other := testkit.NewKey(t, patterns.Production)
	repo.Write("README", "hello\n")
	repo.Commit("init")
	repo.Write("b.env", "K="+other+"\n")
	repo.Commit("a key, so that history is walked")
	repo.Git("branch", key)
	// A broken ref of that name makes git quote it in its error.
	if err := os.WriteFile(filepath.Join(repo.Dir, ".git", "refs", "heads", key), []byte(strings.Repeat("0", 39)+"1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, format := range []string{"json", "text", "sarif"} {
		r := runCLI(t, nil, "git", repo.Dir, "--format", format, "--reflog")
		if r.code != ExitLeaks {
			t.Fatalf("%s: exit %d: %s", format, r.code, r.errOut)
		}
		noWholeKey(t, []string{key, other}, r.out, r.errOut)
		if format != "json" {
			continue
		}
		var rep report.Report
		if err := json.Unmarshal([]byte(r.out), &rep); err != nil {
			t.Fatal(err)
		}
		var got bool
		for _, f := range rep.Findings {
			if f.Fingerprint != patterns.Fingerprint([]byte(key)) {
				continue
			}
			for _, l := range f.Locations {
				got = got || (l.Kind == finding.KindRef && strings.HasPrefix(l.Path, "refs/heads/"))
			}
		}
		if !got {
			t.Errorf("no ref finding for the branch named with a key: %s", patterns.RedactRuns(r.out))
		}
		if _, err := report.ReadJSON(strings.NewReader(r.out)); err != nil {
			t.Errorf("ReadJSON refuses a ref location: %v", err)
		}
	}
}
