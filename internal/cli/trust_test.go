package cli

import (
	"encoding/json"
	"github.com/atomyx/atomyx-guard/internal/testkit"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/atomyx/atomyx-guard/internal/config"
	"github.com/atomyx/atomyx-guard/internal/report"
	"github.com/atomyx/atomyx-guard/patterns"
)

// A repository whose .atomyx-guard.toml is a link to the scanner's own
// stdout used to hang the scan forever; it is refused with exit 2 and a
// reason that names the file.
func TestRepositoryConfigLinkRefused(t *testing.T) {
	repo := testkit.NewGitRepo(t)
	repo.Write("README", "hi\n")
	repo.Commit("init")
	if err := os.Symlink("/proc/self/fd/1", filepath.Join(repo.Dir, config.FileName)); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"git", repo.Dir}, {"dir", repo.Dir}} {
		r := runCLI(t, nil, args...)
		if r.code != ExitError || !strings.Contains(r.errOut, config.FileName) || !strings.Contains(r.errOut, "refused") {
			t.Errorf("%s: exit %d, stderr %q; want 2 and the file refused", args[0], r.code, r.errOut)
		}
	}
}

// A range is a change under review: its allowlist and policy are the
// base's, whatever .atomyx-guard.toml the change itself brings, unless the
// operator names a file with --config.
func TestRangeConfigFromBase(t *testing.T) {
	repo := testkit.NewGitRepo(t)
	repo.Write("README", "hi\n")
	repo.Write(config.FileName, "[allow]\npaths = [\"fixtures/**\"]\n")
	base := repo.Commit("base")
	key, fixture := testkit.NewKey(t, patterns.Production), testkit.NewKey(t, patterns.Development)
	repo.Write(config.FileName, "[allow]\npaths = [\"**\"]\n")
	repo.Write("app/leak.env", "K="+key+"\n")
	repo.Write("fixtures/demo.txt", fixture+"\n")
	head := repo.Commit("turn the gate off")
	keys := []string{key, fixture}

	r := runCLI(t, nil, "git", repo.Dir, "--range", base+".."+head, "--format", "json")
	noWholeKey(t, keys, r.out, r.errOut)
	if r.code != ExitLeaks {
		t.Fatalf("exit %d, want 1: the change's own allowlist applied\n%s\n%s", r.code, r.out, r.errOut)
	}
	var rep report.Report
	if err := json.Unmarshal([]byte(r.out), &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Findings) != 1 || rep.Findings[0].Fingerprint != patterns.Fingerprint([]byte(key)) || rep.Stats.Allowed != 1 {
		t.Errorf("findings %+v, allowed %d: want the app key reported and the fixture allowed by the base", rep.Findings, rep.Stats.Allowed)
	}
	if !slices.ContainsFunc(rep.Warnings, func(w string) bool {
		return strings.Contains(w, config.FileName) && strings.Contains(w, `"**"`) && strings.Contains(w, "after")
	}) {
		t.Errorf("warnings %q: want the change to %s reported, with the entries it adds", rep.Warnings, config.FileName)
	}

	// The same in text: the warning is in the report.
	r = runCLI(t, nil, "git", repo.Dir, "--range", base+".."+head)
	if r.code != ExitLeaks || !strings.Contains(r.out, config.FileName) {
		t.Errorf("text: exit %d, out %q", r.code, r.out)
	}

	// --config is the operator's trusted choice.
	op := filepath.Join(t.TempDir(), "op.toml")
	if err := os.WriteFile(op, []byte("[allow]\npaths = [\"**\"]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if r := runCLI(t, nil, "git", repo.Dir, "--range", base+".."+head, "--config", op); r.code != ExitClean {
		t.Errorf("--config: exit %d, want 0: %s", r.code, r.errOut)
	}
	// A full scan reads the work tree's file, as before.
	if r := runCLI(t, nil, "git", repo.Dir); r.code != ExitClean {
		t.Errorf("full scan: exit %d, want 0 (the work tree's allowlist): %s", r.code, r.errOut)
	}
}

// An inline atomyx-guard:allow marker that the change itself adds does not
// pass the gate; one that was already on the base, beside the same key in
// the same file, still does when the change touches that file.
func TestRangeInlineMarkers(t *testing.T) {
	repo := testkit.NewGitRepo(t)
	old, added := testkit.NewKey(t, patterns.Development), testkit.NewKey(t, patterns.Production)
	repo.Write("fixtures/old.txt", "a = 1\nk = \""+old+"\" # atomyx-guard:allow test vector\n")
	base := repo.Commit("base")
	repo.Write("fixtures/old.txt", "a = 2\nk = \""+old+"\" # atomyx-guard:allow test vector\n")
	repo.Write("app/new.py", "KEY = \""+added+"\"  # atomyx-guard:allow\n")
	head := repo.Commit("change")

	r := runCLI(t, nil, "git", repo.Dir, "--range", base+".."+head, "--format", "json")
	noWholeKey(t, []string{old, added}, r.out, r.errOut)
	if r.code != ExitLeaks {
		t.Fatalf("exit %d, want 1: a marker added by the change passed its own gate\n%s", r.code, r.errOut)
	}
	var rep report.Report
	if err := json.Unmarshal([]byte(r.out), &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Findings) != 1 || rep.Findings[0].Fingerprint != patterns.Fingerprint([]byte(added)) {
		t.Fatalf("findings %+v: want only the key whose marker the change adds", rep.Findings)
	}
	if !slices.ContainsFunc(rep.Warnings, func(w string) bool {
		return strings.Contains(w, "app/new.py:1") && strings.Contains(w, "allowed by the change itself")
	}) {
		t.Errorf("warnings %q: want the self-allowed location named", rep.Warnings)
	}
	// Outside a range (a full scan, the pre-commit hook) markers count.
	if r := runCLI(t, nil, "git", repo.Dir); r.code != ExitClean {
		t.Errorf("full scan: exit %d, want 0", r.code)
	}
}
