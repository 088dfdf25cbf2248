package responder

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/atomyx/atomyx-guard/responder/journal"
)

// TestIncidentFileGolden pins the incident file written without GitHub:
// a rotation whose GitHub sink could not be reached, the replacement
// sealed to the operator's recipient. go test -update rewrites it.
func TestIncidentFileGolden(t *testing.T) {
	r, err := New(Config{Vault: nopVault{}, DryRun: true, Repo: "acme/app", IncidentDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	in := goldenIncident()
	in.Sinks, in.Delivered, in.IssueRepo = nil, nil, ""
	in.Notes = append(in.Notes, "no GitHub token: the replacement cannot be delivered to github-secret:acme/app:ATOMYX_API_KEY")
	got := r.incidentText(in)
	path := filepath.Join("testdata", "incident-rotate-recipient.md")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("incident file differs from %s (go test -update):\n%s", path, got)
	}
	if strings.Contains(got, "This issue") || !strings.Contains(got, journal.IDFor(in.Fingerprint)) {
		t.Errorf("the file speaks of an issue, or does not name its incident:\n%s", got)
	}
}
