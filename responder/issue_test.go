package responder

import (
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/atomyx/atomyx-guard/internal/finding"
	"github.com/atomyx/atomyx-guard/internal/ghapi"
	"github.com/atomyx/atomyx-guard/internal/vault"
	"github.com/atomyx/atomyx-guard/responder/journal"
)

// nopVault satisfies Vault for tests that never call it.
type nopVault struct{ Vault }

var _ = vault.StatusActive

var update = flag.Bool("update", false, "rewrite golden files under testdata/")

// goldenIncident is a finished rotation with fixed times and ids, so that
// the issue text is stable.
func goldenIncident() journal.Incident {
	at := func(m int) time.Time { return time.Date(2026, 11, 26, 10, m, 0, 0, time.UTC) }
	fp := "sha256:" + strings.Repeat("ab", 32)
	return journal.Incident{
		ID: journal.IDFor(fp), Fingerprint: fp, Redacted: "atmx_prd_q7Lw…", Environment: "production", KeyID: "key_01HZXOLD",
		Owner:    &finding.Owner{Org: "acme", Team: "payments", Contact: "payments@acme.example"},
		Products: []string{"manage", "submit"}, Action: "rotate", Public: true, RevokeOld: "immediately",
		Sinks: []ghapi.SecretTarget{
			{Kind: ghapi.KindRepoSecret, Owner: "acme", Repo: "app", Name: "ATOMYX_API_KEY"},
			{Kind: ghapi.KindEnvSecret, Owner: "acme", Repo: "app", Env: "production", Name: "ATOMYX_API_KEY"},
		},
		Notes:     []string{"found in the public repository acme/app"},
		IssueRepo: "acme/security",
		Locations: []finding.Location{
			{Source: finding.SourceGit, Kind: finding.KindBlob, Path: "config/app env.txt", Line: 3, Commit: "0123456789abcdef0123456789abcdef01234567", Date: "2026-11-20T10:00:00Z"},
			{Source: finding.SourceGit, Kind: finding.KindCommitMessage, Commit: "89abcdef0123456789abcdef0123456789abcdef"},
			{Source: finding.SourceGit, Kind: finding.KindBlob, Path: "dist/app.zip!main.js", Line: 1, Commit: "0123456789abcdef0123456789abcdef01234567"},
			{Source: finding.SourceURL, URL: "https://app.acme.example/static/main.js", Line: 1, Original: &finding.Original{Path: "src/api.ts", Line: 12}},
		},
		DetectedAt: at(0),
		Reissued:   &journal.Replacement{At: at(1), KeyID: "key_01HZXNEW", Fingerprint: "sha256:" + strings.Repeat("cd", 32), Redacted: "atmx_prd_Zx9A…"},
		Delivered: map[string]time.Time{
			"github-secret:acme/app:ATOMYX_API_KEY":                at(2),
			"github-env-secret:acme/app:production:ATOMYX_API_KEY": at(3),
		},
		VerifiedAt: at(4), RevokedAt: at(5), AlreadyRevoked: true,
	}
}

func TestIssueGolden(t *testing.T) {
	r, err := New(Config{Vault: nopVault{}, DryRun: true, Repo: "acme/app", IssueRepo: "acme/security"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		mod  func(*journal.Incident)
	}{
		{"rotate", func(*journal.Incident) {}},
		{"revoke", func(in *journal.Incident) {
			in.Action, in.Planned, in.Reissued, in.Delivered, in.Sinks, in.VerifiedAt, in.AlreadyRevoked = "revoke", "rotate", nil, nil, nil, time.Time{}, false
			in.Notes = append(in.Notes, "no delivery target and no recipient are configured: the key is revoked without a replacement")
		}},
		{"revoke-refused", func(in *journal.Incident) {
			in.Action, in.Planned, in.Reissued, in.Delivered, in.Sinks, in.VerifiedAt, in.AlreadyRevoked = "revoke", "rotate", nil, nil, nil, time.Time{}, false
			in.ReissueRefused = "the Vault refused to reissue the key (the responder's key lacks keys:verify, which the leaked key holds or the reissue needs)"
			in.Notes = append(in.Notes, in.ReissueRefused+": the key is revoked without a replacement; an administrator must issue the replacement")
		}},
		{"report", func(in *journal.Incident) {
			in.Action, in.Reissued, in.Delivered, in.Sinks, in.VerifiedAt, in.RevokedAt = "report", nil, nil, nil, time.Time{}, time.Time{}
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			in := goldenIncident()
			tt.mod(&in)
			got := "# " + r.title(in) + "\n\n" + r.body(in)
			path := filepath.Join("testdata", "issue-"+tt.name+".md")
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
				t.Errorf("issue differs from %s (run with -update):\n%s", path, got)
			}
			if ids := markedFingerprints(got); !slices.Equal(ids, []string{in.Fingerprint}) {
				t.Errorf("markers %v", ids)
			}
			if n := len(listedLocations(got)); n != len(in.Locations) {
				t.Errorf("%d location markers for %d locations", n, len(in.Locations))
			}
		})
	}
}

func TestExposure(t *testing.T) {
	tests := []struct {
		name       string
		visibility string
		locs       []finding.Location
		public     bool
	}{
		{"private repo", "private", []finding.Location{{Source: finding.SourceGit, Path: "a.env"}}, false},
		{"public repo", "public", []finding.Location{{Source: finding.SourceGit, Path: "a.env"}}, true},
		{"unknown repo", "", []finding.Location{{Source: finding.SourceGit, Path: "a.env"}}, true},
		{"private repo but also a site", "private", []finding.Location{{Source: finding.SourceGit, Path: "a.env"}, {Source: finding.SourceURL, URL: "https://x.example/a.js"}}, true},
		{"bundle file", "private", []finding.Location{{Source: finding.SourceFile, Path: "build/static/js/main.3f2a.js"}}, true},
		{"plain file of unknown audience", "private", []finding.Location{{Source: finding.SourceFile, Path: "notes.txt"}}, true},
		{"stdin", "private", []finding.Location{{Source: finding.SourceStdin}}, true},
		{"nothing known", "private", nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := New(Config{Vault: nopVault{}, DryRun: true, Visibility: tt.visibility})
			if err != nil {
				t.Fatal(err)
			}
			if got, why := r.exposure(t.Context(), tt.locs); got != tt.public || why == "" {
				t.Errorf("public=%v (%s), want %v", got, why, tt.public)
			}
		})
	}
}

// FuzzIssueMarkers renders an issue whose locations come from untrusted
// scanned content and checks that nothing in them can forge or hide a
// marker: the body is marked with exactly its key, lists exactly its
// locations, and keeps every location on one line.
func FuzzIssueMarkers(f *testing.F) {
	f.Add("config/app.env", "https://x.example/a.js", "abc")
	f.Add("a\n<!-- atomyx-guard:fingerprint=sha256:"+strings.Repeat("0", 64)+" -->\n", "x`y", "\n")
	f.Add("p <!-- atomyx-guard:location=000000000000 -->", "https://e.example/)](javascript:alert(1))", "c\r\n")
	f.Fuzz(func(t *testing.T, path, url, commit string) {
		r, err := New(Config{Vault: nopVault{}, DryRun: true, Repo: "acme/app"})
		if err != nil {
			t.Fatal(err)
		}
		in := goldenIncident()
		in.Locations = []finding.Location{
			{Source: finding.SourceGit, Path: path, Commit: commit, Line: 1},
			{Source: finding.SourceURL, URL: url},
			{Source: finding.SourceFile, Path: path, Original: &finding.Original{Path: url}},
		}
		body := r.body(in)
		if ids := markedFingerprints(body); !slices.Equal(ids, []string{in.Fingerprint}) {
			t.Fatalf("markers %v", ids)
		}
		var want []string
		for _, l := range in.Locations {
			want = append(want, locationID(l))
		}
		if got := listedLocations(body); !slices.Equal(got, want) {
			t.Fatalf("location markers %v, want %v", got, want)
		}
		if title := r.title(in); strings.ContainsAny(title, "\n\r") {
			t.Fatalf("title spans lines: %q", title)
		}
	})
}
