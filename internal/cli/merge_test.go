package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/atomyx/atomyx-guard/internal/report"
	"github.com/atomyx/atomyx-guard/internal/testkit"
	"github.com/atomyx/atomyx-guard/patterns"
)

func TestMerge(t *testing.T) {
	shared, only := testkit.NewKey(t, patterns.Production), testkit.NewKey(t, patterns.Staging)
	a, b := testkit.NewGitRepo(t), testkit.NewGitRepo(t)
	a.Write("a.env", "K="+shared+"\n")
	a.Commit("a")
	b.Write("b.env", "K="+shared+"\nJ="+only+"\n")
	b.Commit("b")
	b.Commit("second")

	dir := t.TempDir()
	pa, pb := filepath.Join(dir, "a.json"), filepath.Join(dir, "b.json")
	for repo, p := range map[*testkit.GitRepo]string{a: pa, b: pb} {
		if r := runCLI(t, nil, "git", repo.Dir, "--format", "json", "--report", p); r.code != ExitLeaks {
			t.Fatalf("shard scan exit %d: %s", r.code, r.errOut)
		}
	}

	r := runCLI(t, nil, "merge", pa, pb)
	if r.code != ExitLeaks {
		t.Fatalf("merge exit %d: %s", r.code, r.errOut)
	}
	var rep report.Report
	if err := json.Unmarshal([]byte(r.out), &rep); err != nil {
		t.Fatal(err)
	}
	byFP := map[string]int{}
	for _, f := range rep.Findings {
		byFP[f.Fingerprint] = len(f.Locations)
	}
	if len(byFP) != 2 || byFP[patterns.Fingerprint([]byte(shared))] != 2 || byFP[patterns.Fingerprint([]byte(only))] != 1 {
		t.Errorf("merged locations by key = %v, want the shared key twice and the other once", byFP)
	}
	if rep.Stats.Commits != 3 {
		t.Errorf("merged commits = %d, want 1+2", rep.Stats.Commits)
	}
	noWholeKey(t, []string{shared, only}, r.out, r.errOut)

	// Merging is idempotent: a report merged with itself has the same findings.
	if r2 := runCLI(t, nil, "merge", pa, pa); r2.code != ExitLeaks {
		t.Fatalf("exit %d", r2.code)
	} else {
		var self report.Report
		json.Unmarshal([]byte(r2.out), &self)
		if len(self.Findings) != 1 || len(self.Findings[0].Locations) != 1 {
			t.Errorf("self-merge duplicated locations: %+v", self.Findings)
		}
	}

	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(bad, []byte("{not json"), 0o644)
	if r := runCLI(t, nil, "merge", pa, bad); r.code != ExitError {
		t.Errorf("a malformed input: exit %d, want 2", r.code)
	}
	if r := runCLI(t, nil, "merge", filepath.Join(dir, "missing.json")); r.code != ExitError {
		t.Errorf("a missing input: exit %d, want 2", r.code)
	}
}
