package cli

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"github.com/atomyx/atomyx-guard/internal/testkit"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/atomyx/atomyx-guard/patterns"
)

// TestGitSARIFShowsEveryFinding scans a real leaky history (a file, an
// archive member, a commit message and a tag message) to SARIF and checks
// what code scanning needs to show and link each result: a file, a
// startLine, and for messages the file their commit changed plus the
// commit itself. With ATOMYX_GUARD_SARIF_OUT set, the SARIF is copied
// there for scripts/validate-sarif.sh to put through Microsoft's multitool.
func TestGitSARIFShowsEveryFinding(t *testing.T) {
	repo := testkit.NewGitRepo(t)
	keys := []string{testkit.NewKey(t, patterns.Production), testkit.NewKey(t, patterns.Staging), testkit.NewKey(t, patterns.Development), testkit.NewKey(t, patterns.Production)}
	repo.Write("config/settings.py", "DEBUG = False\nATOMYX_KEY = \""+keys[0]+"\"\n")
	repo.Commit("settings")

	var zb bytes.Buffer
	zw := zip.NewWriter(&zb)
	w, err := zw.Create("bundle/main.js")
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("var a=1;\nvar k=\"" + keys[1] + "\";\n"))
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	repo.Write("artifacts/web.zip", zb.String())
	repo.Write("docs/setup.md", "# Setup\n")
	msgCommit := repo.Commit("add the web bundle and setup notes\n\ntemporary key: " + keys[2])
	repo.Git("tag", "-a", "v1.0.0", "-m", "release, smoke-tested with "+keys[3])

	out := filepath.Join(t.TempDir(), "scan.sarif")
	r := runCLI(t, map[string]string{"GITHUB_REPOSITORY": "acme/api"}, "git", repo.Dir, "--format", "sarif", "--report", out)
	if r.code != ExitLeaks {
		t.Fatalf("exit %d: %s", r.code, r.errOut)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	noWholeKey(t, keys, string(data), r.out, r.errOut)
	if dir := os.Getenv("ATOMYX_GUARD_SARIF_OUT"); dir != "" {
		if err := os.WriteFile(filepath.Join(dir, "git-scan.sarif"), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	var log struct {
		Runs []struct {
			Tool struct {
				Driver struct {
					Version string `json:"version"`
				} `json:"driver"`
			} `json:"tool"`
			Results []struct {
				Message   struct{ Text string } `json:"message"`
				Locations []struct {
					PhysicalLocation struct {
						ArtifactLocation struct{ URI string } `json:"artifactLocation"`
						Region           *struct {
							StartLine int `json:"startLine"`
						} `json:"region"`
					} `json:"physicalLocation"`
					LogicalLocations []struct {
						FullyQualifiedName string `json:"fullyQualifiedName"`
					} `json:"logicalLocations"`
				} `json:"locations"`
				RelatedLocations []struct {
					PhysicalLocation struct {
						ArtifactLocation struct{ URI string } `json:"artifactLocation"`
					} `json:"physicalLocation"`
				} `json:"relatedLocations"`
			} `json:"results"`
		} `json:"runs"`
	}
	if err := json.Unmarshal(data, &log); err != nil {
		t.Fatal(err)
	}
	run := log.Runs[0]
	if v := run.Tool.Driver.Version; v == "" || v == "dev" || v[0] < '0' || v[0] > '9' {
		t.Errorf("driver.version %q", v)
	}
	got := map[string]string{} // redacted environment prefix → uri
	for _, res := range run.Results {
		loc := res.Locations[0]
		uri := loc.PhysicalLocation.ArtifactLocation.URI
		if loc.PhysicalLocation.Region == nil || loc.PhysicalLocation.Region.StartLine < 1 {
			t.Errorf("result on %s has no startLine: %s", uri, res.Message.Text)
		}
		switch {
		case strings.Contains(res.Message.Text, "message of commit"):
			got["commit-message"] = uri
			if len(loc.LogicalLocations) != 1 || loc.LogicalLocations[0].FullyQualifiedName != "commit/"+msgCommit {
				t.Errorf("commit message result: logical locations %+v", loc.LogicalLocations)
			}
			if len(res.RelatedLocations) != 1 || res.RelatedLocations[0].PhysicalLocation.ArtifactLocation.URI != "https://github.com/acme/api/commit/"+msgCommit {
				t.Errorf("commit message result: related %+v", res.RelatedLocations)
			}
		case strings.Contains(res.Message.Text, "message of tag"):
			got["tag-message"] = uri
		case strings.Contains(res.Message.Text, "web.zip!bundle/main.js"):
			got["archive"] = uri
		default:
			got["file"] = uri
		}
	}
	want := map[string]string{
		"file":    "config/settings.py",
		"archive": "artifacts/web.zip",
		// The commit changed artifacts/web.zip and docs/setup.md; the
		// first in git's order that HEAD still has.
		"commit-message": "artifacts/web.zip",
		"tag-message":    "artifacts/web.zip",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s result on %q, want %q (all: %v)", k, got[k], v, got)
		}
	}
}
