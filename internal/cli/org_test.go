package cli

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/atomyx/atomyx-guard/internal/finding"
	"github.com/atomyx/atomyx-guard/internal/ghapi/ghfake"
	"github.com/atomyx/atomyx-guard/internal/org/orgtest"
	"github.com/atomyx/atomyx-guard/internal/report"
	"github.com/atomyx/atomyx-guard/internal/testkit"
	"github.com/atomyx/atomyx-guard/internal/vault"
	"github.com/atomyx/atomyx-guard/patterns"
)

// orgFixture is an organisation on the fake GitHub whose repositories are
// real ones served over loopback.
type orgFixture struct {
	gh   *ghfake.Server
	git  *orgtest.GitServer
	keys []string
}

func newOrgFixture(t *testing.T) *orgFixture {
	f := &orgFixture{gh: ghfake.New(), git: orgtest.NewGitServer(t)}
	t.Cleanup(f.gh.Close)
	return f
}

func (f *orgFixture) repo(t *testing.T, full string) *orgtest.Work {
	owner, name, _ := strings.Cut(full, "/")
	w := f.git.NewRepo(t, full)
	f.gh.AddRepo(owner, name, false)
	f.gh.UpdateRepo(full, func(r *ghfake.Repo) { r.CloneURL = f.git.CloneURL(full) })
	return w
}

// leak commits a fresh key to a repository.
func (f *orgFixture) leak(t *testing.T, w *orgtest.Work, file string) string {
	k := testkit.NewKey(t, patterns.Production)
	f.keys = append(f.keys, k)
	w.Commit("add "+file, file, "KEY="+k+"\n")
	return k
}

func (f *orgFixture) run(t *testing.T, args ...string) result {
	t.Helper()
	r := runCLI(t, map[string]string{"GITHUB_API_URL": f.gh.URL(), "GITHUB_TOKEN": "ghs_fake"}, append([]string{"org"}, args...)...)
	noWholeKey(t, f.keys, r.out, r.errOut)
	return r
}

func paths(rep *report.Report) []string {
	var out []string
	for _, f := range rep.Findings {
		for _, l := range f.Locations {
			out = append(out, l.Repo+":"+l.Path) // the repository in its own field
		}
	}
	slices.Sort(out)
	return out
}

func TestOrg(t *testing.T) {
	f := newOrgFixture(t)
	api, web := f.repo(t, "acme/api"), f.repo(t, "acme/web")
	f.leak(t, api, "prod.env")
	f.leak(t, web, "src/config.js")
	f.repo(t, "acme/docs").Commit("clean", "README.md", "nothing here\n")
	f.gh.AddRepo("acme", "gone", false) // its clone URL answers 404
	f.gh.UpdateRepo("acme/gone", func(r *ghfake.Repo) { r.CloneURL = f.git.CloneURL("acme/gone") })
	cache, out := t.TempDir(), t.TempDir()
	all := filepath.Join(out, "all.json")

	r := f.run(t, "acme", "--cache", cache, "--format", "json", "--report", all)
	if r.code != ExitLeaks {
		t.Fatalf("exit %d: %s", r.code, r.errOut)
	}
	rep := readReport(t, all)
	if got := strings.Join(paths(rep), " "); got != "acme/api:prod.env acme/web:src/config.js" {
		t.Errorf("paths %q", got)
	}
	if len(rep.Skipped) != 1 || rep.Skipped[0].Where != "repository acme/gone" || !rep.Stats.Partial {
		t.Errorf("skipped %+v, partial %v", rep.Skipped, rep.Stats.Partial)
	}
	if !strings.Contains(r.errOut, "4 repositories listed, 4 selected: 3 scanned, 0 unchanged, 1 failed") {
		t.Errorf("summary missing: %s", r.errOut)
	}
	if rep.Stats.Commits != 3 || rep.Stats.Blobs != 3 {
		t.Errorf("stats %+v", rep.Stats)
	}

	// Second run: nothing new, same findings, nothing scanned.
	again := filepath.Join(out, "again.json")
	if r := f.run(t, "acme", "--cache", cache, "--format", "json", "--report", again); r.code != ExitLeaks {
		t.Fatalf("exit %d: %s", r.code, r.errOut)
	}
	rep2 := readReport(t, again)
	if !slices.Equal(paths(rep2), paths(rep)) || rep2.Stats.Commits != 0 || rep2.Stats.Blobs != 0 {
		t.Errorf("unchanged rerun: %v %+v", paths(rep2), rep2.Stats)
	}

	// Shards, each in its own cache as on separate machines, merge into
	// the whole.
	var shards []string
	for _, k := range []string{"1", "2", "3"} {
		p := filepath.Join(out, "shard-"+k+".json")
		r := f.run(t, "acme", "--shard", k+"/3", "--cache", t.TempDir(), "--format", "json", "--report", p, "--exit-code", "0")
		if r.code != ExitClean && r.code != ExitError {
			t.Fatalf("shard %s: exit %d: %s", k, r.code, r.errOut)
		}
		shards = append(shards, p)
	}
	merged := filepath.Join(out, "merged.json")
	if r := runCLI(t, nil, append([]string{"merge", "--report", merged}, shards...)...); r.code != ExitLeaks {
		t.Fatalf("merge exit %d: %s", r.code, r.errOut)
	}
	mrep := readReport(t, merged)
	if !slices.Equal(paths(mrep), paths(rep)) || mrep.Stats.Commits != 3 || len(mrep.Skipped) != 1 {
		t.Errorf("merged shards: %v, %+v, skipped %v", paths(mrep), mrep.Stats, mrep.Skipped)
	}

	// SARIF and text name the repository too.
	if r := f.run(t, "acme", "--cache", cache, "--format", "sarif"); r.code != ExitLeaks || !strings.Contains(r.out, "acme/web:src/config.js") {
		t.Errorf("sarif: exit %d\n%s", r.code, r.out)
	}
	if r := f.run(t, "acme", "--cache", cache, "--fail-on", "never"); r.code != ExitClean || !strings.Contains(r.out, "acme/api:prod.env") {
		t.Errorf("text: exit %d\n%s", r.code, r.out)
	}
	// A repository's own path pattern holds org-wide.
	conf := filepath.Join(out, "guard.toml")
	if err := os.WriteFile(conf, []byte("[allow]\npaths = [\"src/**\"]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	allowed := filepath.Join(out, "allowed.json")
	if r := f.run(t, "acme", "--cache", cache, "--config", conf, "--format", "json", "--report", allowed); r.code != ExitLeaks {
		t.Fatalf("exit %d: %s", r.code, r.errOut)
	} else if a := readReport(t, allowed); strings.Join(paths(a), " ") != "acme/api:prod.env" || a.Stats.Allowed != 1 {
		t.Errorf("allowlist: %v, allowed %d", paths(a), a.Stats.Allowed)
	}

	// --full rescans.
	full := filepath.Join(out, "full.json")
	if r := f.run(t, "acme", "--cache", cache, "--full", "--format", "json", "--report", full); r.code != ExitLeaks {
		t.Fatalf("exit %d", r.code)
	} else if st := readReport(t, full).Stats; st.Commits != 3 {
		t.Errorf("--full read %d commits", st.Commits)
	}

	state, err := os.ReadFile(filepath.Join(cache, "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	noWholeKey(t, f.keys, string(state))
	if patterns.IndexKeyShape(string(state)) >= 0 {
		t.Error("a key-shaped string in the state database")
	}
}

func TestOrgErrors(t *testing.T) {
	f := newOrgFixture(t)
	f.gh.AddRepo("broken", "a", false)
	f.gh.UpdateRepo("broken/a", func(r *ghfake.Repo) { r.CloneURL = f.git.CloneURL("broken/a") })
	f.gh.AddOrg("empty")
	for _, tc := range []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"nothing could be scanned", []string{"broken"}, ExitError, "none of the 1 repositories"},
		{"unknown org", []string{"nobody"}, ExitError, "list repositories of nobody"},
		{"bad org name", []string{"../etc"}, ExitError, "not a GitHub login"},
		{"empty org", []string{"empty"}, ExitClean, "no repository of empty selected"},
		{"bad shard", []string{"broken", "--shard", "0/4"}, ExitError, "K counts from 1"},
		{"bad glob", []string{"broken", "--match", "[x"}, ExitError, "glob"},
		{"bad workers", []string{"broken", "--repo-workers", "0"}, ExitError, "--repo-workers"},
		{"bad format", []string{"broken", "--format", "xml"}, ExitError, "--format"},
		{"respond with --repo", []string{"broken", "--respond", "--repo", "acme/x"}, ExitError, "--repo does not apply"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := f.run(t, append(tc.args, "--cache", t.TempDir())...)
			if r.code != tc.code || !strings.Contains(r.out+r.errOut, tc.msg) {
				t.Errorf("exit %d, want %d; output %q, want %q", r.code, tc.code, r.out+r.errOut, tc.msg)
			}
		})
	}
}

// TestOrgLocationsReadBack: a location's repository survives the JSON
// contract (report.ReadJSON) for every location kind.
func TestOrgLocationsReadBack(t *testing.T) {
	fp := patterns.Fingerprint([]byte("x"))
	rep := &report.Report{Findings: []finding.Finding{{
		Fingerprint: fp, Redacted: "atmx_prd_abcd…", Environment: "production", Status: finding.Unverified,
		Locations: []finding.Location{
			{Source: finding.SourceGit, Kind: finding.KindBlob, Repo: "acme/api", Path: "a/b.env", Commit: strings.Repeat("a", 40)},
			{Source: finding.SourceGit, Kind: finding.KindCommitMessage, Repo: "acme/api", Commit: strings.Repeat("b", 40)},
			{Source: finding.SourceGit, Kind: finding.KindBlob, Repo: "acme/api", Blob: strings.Repeat("c", 40), Unreachable: true},
		},
	}}}
	p := filepath.Join(t.TempDir(), "r.json")
	fh, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := report.WriteJSON(fh, rep); err != nil {
		t.Fatal(err)
	}
	fh.Close()
	back := readReport(t, p)
	if got := paths(back); strings.Join(got, " ") != "acme/api: acme/api: acme/api:a/b.env" {
		t.Errorf("read back %q", got)
	}
}

// TestOrgRespond: --respond on an org scan answers each live key in the
// repository it was found in: the issue names that repository and links
// into it, and the key is revoked.
func TestOrgRespond(t *testing.T) {
	url, admin, vc := localVault(t)
	f := newOrgFixture(t)
	f.gh.AddRepo("acme", "security", true)
	api := f.repo(t, "acme/api")
	f.repo(t, "acme/web").Commit("clean", "README.md", "nothing\n")
	ik, err := vc.Issue(t.Context(), vault.IssueRequest{Environment: "production", Products: []string{"manage"}}, "")
	if err != nil {
		t.Fatal(err)
	}
	leaked := ik.Key.Reveal()
	f.keys = append(f.keys, leaked, admin)
	api.Commit("deploy", "deploy/prod.env", "ATOMYX_API_KEY="+leaked+"\n")

	env := map[string]string{
		"GITHUB_API_URL": f.gh.URL(), "GITHUB_TOKEN": "ghs_fake", "GITHUB_REPOSITORY": "acme/security",
		"ATOMYX_API_URL": url, "ATOMYX_API_KEY": admin, "HOME": t.TempDir(),
	}
	r := runCLI(t, env, "org", "acme", "--cache", t.TempDir(), "--respond", "--journal", filepath.Join(t.TempDir(), "j.db"))
	noWholeKey(t, f.keys, r.out, r.errOut)
	if r.code != ExitLeaks {
		t.Fatalf("exit %d: %s", r.code, r.errOut)
	}
	res, err := vc.Verify(t.Context(), []string{ik.Key.Fingerprint()})
	if err != nil || res[ik.Key.Fingerprint()].Status != vault.StatusRevoked {
		t.Fatalf("the leaked key is not revoked: %+v %v", res, err)
	}
	issues := f.gh.Issues("acme/security")
	if len(issues) != 1 {
		t.Fatalf("%d issues, want 1", len(issues))
	}
	if !strings.Contains(issues[0].Title, "acme/api") || !strings.Contains(issues[0].Body, "acme/api/blob/") || strings.Contains(issues[0].Body, "acme/api:") {
		t.Errorf("the issue should name and link into acme/api:\n%s\n%s", issues[0].Title, issues[0].Body)
	}
}
