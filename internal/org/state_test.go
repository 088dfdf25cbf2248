package org

import (
	"path/filepath"
	"testing"

	"github.com/atomyx/atomyx-guard/internal/finding"
)

// A state written before Location.Repo existed kept the repository in the
// path; reading it gives Repo and the path within the repository.
func TestStateReadsPrefixedPaths(t *testing.T) {
	st, err := OpenState(filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	fp := "sha256:" + "0000000000000000000000000000000000000000000000000000000000000000"
	old := RepoState{Tips: map[string]string{}, Findings: []finding.Finding{{
		Fingerprint: fp, Redacted: "atmx_prd_abcd…", Environment: "production", Status: finding.Unverified,
		Locations: []finding.Location{
			{Source: finding.SourceGit, Kind: finding.KindBlob, Path: "acme/api:conf/prod.env", Line: 3},
			{Source: finding.SourceGit, Kind: finding.KindCommitMessage, Path: "acme/api:"},
			{Source: finding.SourceGit, Kind: finding.KindBlob, Repo: "acme/api", Path: "acme/api:odd-but-new.txt"},
		},
	}}}
	if err := st.Put("acme/api", old); err != nil {
		t.Fatal(err)
	}
	rs, ok, err := st.Get("acme/api")
	if err != nil || !ok {
		t.Fatalf("Get: %v, %v", ok, err)
	}
	want := []struct{ repo, path string }{{"acme/api", "conf/prod.env"}, {"acme/api", ""}, {"acme/api", "acme/api:odd-but-new.txt"}}
	for i, l := range rs.Findings[0].Locations {
		if l.Repo != want[i].repo || l.Path != want[i].path {
			t.Errorf("location %d: repo %q path %q, want %q %q", i, l.Repo, l.Path, want[i].repo, want[i].path)
		}
	}
}
