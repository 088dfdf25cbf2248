package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/atomyx/atomyx-guard/internal/report"
	"github.com/atomyx/atomyx-guard/internal/vault"
	"github.com/atomyx/atomyx-guard/patterns"
)

// TestDirRespondNeverActsOnItsOwnCredential is issue 9's case end to end:
// dir --respond with a symlink to /proc/self/environ and a copy of the
// run's own ATOMYX_API_KEY in the tree, against the local Vault and a fake
// GitHub. The environment is never read; the copy is reported as this
// run's own credential, never revoked, and no issue is opened for it.
func TestDirRespondNeverActsOnItsOwnCredential(t *testing.T) {
	w := newRespondWorld(t, "[respond]\nissue_repo = \"acme/security\"\n")
	own := w.env["ATOMYX_API_KEY"]
	// The real process environment holds the key too, as in a CI job.
	t.Setenv("ATOMYX_API_KEY", own)
	dir := t.TempDir()
	if runtime.GOOS == "linux" {
		if err := os.Symlink("/proc/self/environ", filepath.Join(dir, "environ")); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "ci.env"), []byte("ATOMYX_API_KEY="+own+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	rpt := filepath.Join(w.dir, "out.json")
	res := runCLI(t, w.env, "dir", dir, "--respond", "--format", "json", "--report", rpt,
		"--config", filepath.Join(w.dir, "guard.toml"), "--journal", filepath.Join(w.dir, "j.db"))
	if st := w.status(t, own); st != vault.StatusActive {
		t.Fatalf("the run revoked its own key (%s): %+v", st, res)
	}
	if n := len(w.gh.Issues("acme/security")); n != 0 {
		t.Fatalf("%d issues opened for the run's own key", n)
	}
	data, err := os.ReadFile(rpt)
	if err != nil {
		t.Fatal(err)
	}
	var rep report.Report
	if err := json.Unmarshal(data, &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Findings) != 1 || !rep.Findings[0].OwnCredential || rep.Findings[0].Fingerprint != patterns.Fingerprint([]byte(own)) {
		t.Fatalf("findings %+v, want the one copy marked own_credential", rep.Findings)
	}
	if locs := rep.Findings[0].Locations; len(locs) != 1 || locs[0].Path != "ci.env" {
		t.Errorf("locations %+v: the process environment was read", locs)
	}
	if !strings.Contains(res.errOut, "own credential") {
		t.Errorf("no warning on stderr:\n%s", res.errOut)
	}
	if strings.Contains(res.out+res.errOut+string(data), own) {
		t.Fatal("the whole key in the output")
	}
	if res.code != ExitLeaks {
		t.Errorf("exit %d, want %d: the copy is still a leak", res.code, ExitLeaks)
	}

	// Text and SARIF carry the marker too.
	for _, format := range []string{"text", "sarif"} {
		r := runCLI(t, w.env, "dir", dir, "--format", format)
		if !strings.Contains(r.out, "this run's own credential") {
			t.Errorf("%s output lacks the marker:\n%s", format, r.out)
		}
	}
}
