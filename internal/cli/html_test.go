package cli

import (
	"github.com/atomyx/atomyx-guard/internal/testkit"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/atomyx/atomyx-guard/patterns"
)

// TestGitHTMLReport: --format html writes one page with a row per location,
// links to the line and commit on GitHub when the repository is known, and
// no whole key.
func TestGitHTMLReport(t *testing.T) {
	repo := testkit.NewGitRepo(t)
	k1, k2 := testkit.NewKey(t, patterns.Production), testkit.NewKey(t, patterns.Staging)
	repo.Write("config/settings.py", "DEBUG = False\nATOMYX_KEY = \""+k1+"\"\n")
	c1 := repo.Commit("settings")
	c2 := repo.Commit("rotate later: " + k2)
	out := filepath.Join(t.TempDir(), "report.html")
	r := runCLI(t, map[string]string{"GITHUB_REPOSITORY": "acme/api", "GITHUB_SERVER_URL": "https://github.example"},
		"git", repo.Dir, "--format", "html", "--report", out)
	if r.code != ExitLeaks {
		t.Fatalf("exit %d: %s", r.code, r.errOut)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	page := string(data)
	noWholeKey(t, []string{k1, k2}, page, r.out, r.errOut)
	for _, want := range []string{
		"<!DOCTYPE html>",
		`href="https://github.example/acme/api/blob/` + c1 + `/config/settings.py#L2"`,
		`href="https://github.example/acme/api/commit/` + c2 + `"`,
		patterns.Redact([]byte(k1)), patterns.Redact([]byte(k2)),
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %s", want)
		}
	}
	if n := strings.Count(page, "<tr data-i="); n != 2 {
		t.Errorf("%d rows, want 2", n)
	}
}
