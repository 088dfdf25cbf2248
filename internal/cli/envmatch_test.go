package cli

import (
	"bytes"
	"github.com/atomyx/atomyx-guard/internal/testkit"
	"path/filepath"
	"strings"
	"testing"

	"github.com/atomyx/atomyx-guard/internal/finding"
	"github.com/atomyx/atomyx-guard/internal/report"
	"github.com/atomyx/atomyx-guard/patterns"
)

func readJSONReport(t *testing.T, out string) *report.Report {
	t.Helper()
	rep, err := report.ReadJSON(bytes.NewReader([]byte(out)))
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	return rep
}

func mismatchesOf(rep *report.Report, fp string) []finding.EnvMismatch {
	for _, f := range rep.Findings {
		if f.Fingerprint == fp {
			return f.EnvironmentMismatch
		}
	}
	return nil
}

const stagingWorkflow = `name: deploy
on: push
jobs:
  deploy-staging:
    runs-on: ubuntu-latest
    steps:
      - run: ./deploy
        env:
          ATOMYX_API_KEY: %s
  release:
    environment: production
    steps:
      - run: ./release
        env:
          ATOMYX_API_KEY: %s
`

// TestEnvironmentMismatchInGitHistory: a production key in a staging
// workflow job and in .env.development, a staging key in the production
// job, and one development key in places of two environments.
func TestEnvironmentMismatchInGitHistory(t *testing.T) {
	prd, stg, dev := testkit.NewKey(t, patterns.Production), testkit.NewKey(t, patterns.Staging), testkit.NewKey(t, patterns.Development)
	r := testkit.NewGitRepo(t)
	r.Write(".github/workflows/deploy.yml", strings.ReplaceAll(strings.Replace(strings.Replace(stagingWorkflow, "%s", prd, 1), "%s", stg, 1), "\t", "  "))
	r.Write(".env.development", "ATOMYX_API_KEY="+prd+"\n")
	r.Write("config/dev/app.env", "KEY="+dev+"\n")
	r.Write("config/production/app.env", "KEY="+dev+"\n")
	r.Commit("keys everywhere")

	res := runCLI(t, nil, "git", r.Dir, "--format", "json")
	if res.code != ExitLeaks {
		t.Fatalf("exit %d: %s", res.code, res.errOut)
	}
	noWholeKey(t, []string{prd, stg, dev}, res.out, res.errOut)
	rep := readJSONReport(t, res.out)

	m := mismatchesOf(rep, patterns.Fingerprint([]byte(prd)))
	if len(m) != 2 {
		t.Fatalf("production key: %+v", m)
	}
	byPath := map[string]finding.EnvMismatch{}
	for _, x := range m {
		byPath[x.Path] = x
	}
	if x := byPath[".github/workflows/deploy.yml"]; x.Environment != "staging" || x.Evidence != finding.EvidenceWorkflowJob || x.Detail != "deploy-staging" {
		t.Fatalf("workflow job: %+v", x)
	}
	if x := byPath[".env.development"]; x.Environment != "development" || x.Evidence != finding.EvidencePath {
		t.Fatalf(".env.development: %+v", x)
	}
	m = mismatchesOf(rep, patterns.Fingerprint([]byte(stg)))
	if len(m) != 1 || m[0].Environment != "production" || m[0].Evidence != finding.EvidenceWorkflowEnvironment {
		t.Fatalf("staging key in the production job: %+v", m)
	}
	m = mismatchesOf(rep, patterns.Fingerprint([]byte(dev)))
	if len(m) != 1 || m[0].Path != "config/production/app.env" || m[0].Environment != "production" {
		t.Fatalf("development key in two environments' places: %+v", m)
	}

	// The same in SARIF and text.
	res = runCLI(t, nil, "git", r.Dir, "--format", "sarif")
	if !strings.Contains(res.out, `"environment_mismatch"`) || !strings.Contains(res.out, "this is a staging place (workflow-job)") {
		t.Fatalf("sarif:\n%s", res.out)
	}
	res = runCLI(t, nil, "git", r.Dir)
	if !strings.Contains(res.out, ".github/workflows/deploy.yml:9 is a staging place (workflow-job deploy-staging)") {
		t.Fatalf("text:\n%s", res.out)
	}
}

// TestFailOnEnvironmentMismatch: --fail-on never passes a mismatch,
// unless [hygiene] fail_on_environment_mismatch says otherwise.
func TestFailOnEnvironmentMismatch(t *testing.T) {
	dir := t.TempDir()
	key := testkit.NewKey(t, patterns.Production)
	writeFile(t, filepath.Join(dir, "config", "staging", "app.env"), []byte("KEY="+key+"\n"))
	res := runCLI(t, nil, "dir", dir, "--fail-on", "never", "--format", "json")
	if res.code != ExitClean {
		t.Fatalf("without the policy: exit %d: %s", res.code, res.errOut)
	}
	m := mismatchesOf(readJSONReport(t, res.out), patterns.Fingerprint([]byte(key)))
	if len(m) != 1 || m[0].Environment != "staging" {
		t.Fatalf("dir: %+v", m)
	}
	cfg := filepath.Join(t.TempDir(), "guard.toml")
	writeFile(t, cfg, []byte("[hygiene]\nfail_on_environment_mismatch = true\n"))
	if res := runCLI(t, nil, "dir", dir, "--fail-on", "never", "--config", cfg); res.code != ExitLeaks {
		t.Fatalf("with the policy: exit %d: %s", res.code, res.errOut)
	}
	// A key where it belongs does not fail.
	clean := t.TempDir()
	writeFile(t, filepath.Join(clean, "config", "production", "app.env"), []byte("KEY="+testkit.NewKey(t, patterns.Production)+"\n"))
	if res := runCLI(t, nil, "dir", clean, "--fail-on", "never", "--config", cfg); res.code != ExitClean {
		t.Fatalf("no mismatch: exit %d: %s", res.code, res.errOut)
	}
}
