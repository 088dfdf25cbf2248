package cli

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/atomyx/atomyx-guard/internal/report"
	"github.com/atomyx/atomyx-guard/internal/testkit"
	"github.com/atomyx/atomyx-guard/patterns"
)

func TestGitExitCodes(t *testing.T) {
	clean := testkit.NewGitRepo(t)
	clean.Write("README", "nothing to see\n")
	clean.Commit("init")

	leaky := testkit.NewGitRepo(t)
	key := testkit.NewKey(t, patterns.Production)
	leaky.Write("config/settings.py", "DEBUG = True\nATOMYX_KEY = \""+key+"\"\n")
	leaky.Commit("add settings")

	tests := []struct {
		name string
		args []string
		want int
	}{
		{"clean", []string{"git", clean.Dir}, ExitClean},
		{"leak", []string{"git", leaky.Dir}, ExitLeaks},
		{"exit-code override", []string{"git", leaky.Dir, "--exit-code", "7"}, 7},
		{"fail-on never", []string{"git", leaky.Dir, "--fail-on", "never"}, ExitClean},
		{"not a repository", []string{"git", t.TempDir()}, ExitError},
		{"missing path", []string{"git", filepath.Join(t.TempDir(), "nope")}, ExitError},
		{"bad format", []string{"git", leaky.Dir, "--format", "xml"}, ExitError},
		{"fail-on active without verify", []string{"git", leaky.Dir, "--fail-on", "active"}, ExitError},
		{"exclusive modes", []string{"git", leaky.Dir, "--staged", "--range", "a..b"}, ExitError},
		{"unknown flag", []string{"git", leaky.Dir, "--frobnicate"}, ExitError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runCLI(t, nil, tt.args...)
			if r.code != tt.want {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", r.code, tt.want, r.out, r.errOut)
			}
			if tt.want == ExitError && (r.errOut == "" || strings.Count(strings.TrimSpace(r.errOut), "\n") != 0) {
				t.Errorf("an error exit wants a one-line reason on stderr, got %q", r.errOut)
			}
			noWholeKey(t, []string{key}, r.out, r.errOut)
		})
	}
}

func TestGitJSONLocations(t *testing.T) {
	repo := testkit.NewGitRepo(t)
	key := testkit.NewKey(t, patterns.Staging)
	repo.Write("a.env", "KEY="+key+"\n")
	first := repo.Commit("add a")
	repo.Write("b/c.env", "# again\nKEY="+key+"\n")
	second := repo.Commit("add c")
	repo.Git("rm", "-q", "a.env", "b/c.env")
	repo.Commit("remove both")

	report := filepath.Join(t.TempDir(), "out.json")
	r := runCLI(t, nil, "git", repo.Dir, "--format", "json", "--report", report)
	if r.code != ExitLeaks {
		t.Fatalf("exit %d: %s", r.code, r.errOut)
	}
	if r.out != "" {
		t.Errorf("--report still wrote to stdout: %q", r.out)
	}
	rep := readReport(t, report)
	if len(rep.Findings) != 1 {
		t.Fatalf("want one finding for one key, got %d", len(rep.Findings))
	}
	f := rep.Findings[0]
	if f.Fingerprint != patterns.Fingerprint([]byte(key)) || f.Environment != "staging" || f.Status != "unverified" {
		t.Errorf("finding = %+v", f)
	}
	got := map[string]string{}
	for _, l := range f.Locations {
		got[l.Path] = l.Commit
		if l.Kind != "blob" || l.Source != "git" || l.Author != "Dana Dev <dana@example.com>" || l.Date != "2026-01-02T03:04:05Z" {
			t.Errorf("location %+v", l)
		}
	}
	if got["a.env"] != first || got["b/c.env"] != second || len(got) != 2 {
		t.Errorf("locations by path = %v, want a.env@%s and b/c.env@%s", got, first[:7], second[:7])
	}
	if rep.Stats.Commits != 3 {
		t.Errorf("stats.commits = %d, want 3", rep.Stats.Commits)
	}
	raw, _ := os.ReadFile(report)
	noWholeKey(t, []string{key}, string(raw), r.errOut)
}

func TestGitAllowlist(t *testing.T) {
	repo := testkit.NewGitRepo(t)
	allowed, flagged, inline := testkit.NewKey(t, patterns.Development), testkit.NewKey(t, patterns.Production), testkit.NewKey(t, patterns.Production)
	repo.Write("docs/example.md", "demo: "+allowed+"\n")
	repo.Write("app.cfg", "key="+flagged+"\n")
	repo.Write("fixtures/x.txt", "k="+inline+" # atomyx-guard:allow test fixture\n")
	repo.Write(".atomyx-guard.toml", "[[allow.fingerprints]]\nfingerprint = \""+patterns.Fingerprint([]byte(allowed))+"\"\nreason = \"revoked demo key\"\n")
	repo.Commit("init")

	r := runCLI(t, nil, "git", repo.Dir, "--format", "json")
	if r.code != ExitLeaks {
		t.Fatalf("exit %d: %s", r.code, r.errOut)
	}
	var rep report.Report
	if err := json.Unmarshal([]byte(r.out), &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Findings) != 1 || rep.Findings[0].Fingerprint != patterns.Fingerprint([]byte(flagged)) {
		t.Fatalf("want only the unallowed key, got %+v", rep.Findings)
	}
	if rep.Stats.Allowed != 2 {
		t.Errorf("stats.allowed = %d, want 2", rep.Stats.Allowed)
	}
}

// TestGitGolden pins the JSON and SARIF a scan prints. Keys differ on every
// run, so their fingerprints, redacted forms and blob ids are replaced by
// placeholders before the comparison.
func TestGitGolden(t *testing.T) {
	repo := testkit.NewGitRepo(t)
	// Findings are ordered by fingerprint: draw keys until that order is
	// the one the golden file has.
	k1, k2 := testkit.NewKey(t, patterns.Production), testkit.NewKey(t, patterns.Staging)
	for patterns.Fingerprint([]byte(k1)) > patterns.Fingerprint([]byte(k2)) {
		k2 = testkit.NewKey(t, patterns.Staging)
	}
	repo.Write("config/settings.py", "DEBUG = False\nATOMYX_KEY = \""+k1+"\"\n")
	c1 := repo.Commit("settings")
	c2 := repo.Commit("rotate later: " + k2)
	for _, format := range []string{"json", "sarif", "text"} {
		t.Run(format, func(t *testing.T) {
			r := runCLI(t, nil, "git", repo.Dir, "--format", format)
			if r.code != ExitLeaks {
				t.Fatalf("exit %d: %s", r.code, r.errOut)
			}
			noWholeKey(t, []string{k1, k2}, r.out)
			got := normalise(r.out, map[string]string{
				patterns.Fingerprint([]byte(k1)): "sha256:<fingerprint-1>",
				patterns.Fingerprint([]byte(k2)): "sha256:<fingerprint-2>",
				patterns.Redact([]byte(k1)):      "atmx_prd_<k1>…",
				patterns.Redact([]byte(k2)):      "atmx_stg_<k2>…",
				c1:                               "<commit-1>",
				c2:                               "<commit-2>",
				c1[:12]:                          "<commit-1>",
				c2[:12]:                          "<commit-2>",
			})
			golden(t, "git."+format+".golden", got)
		})
	}
}

var (
	blobRe     = regexp.MustCompile(`"blob": "[0-9a-f]{40}"`)
	durationRe = regexp.MustCompile(`"duration_ms": [0-9]+|in [0-9.]+m?s\b`)
	hashRe     = regexp.MustCompile(`"(atomyx\w*Hash/v1)": "[0-9a-f]+"`)
	// The build's version (version.String()) depends on how the test
	// binary was built.
	versionRe = regexp.MustCompile(`"(version|semanticVersion)": "[0-9][^"]*"`)
)

func normalise(s string, repl map[string]string) string {
	// Longest first, so that a whole id goes before its short form.
	froms := slices.Collect(maps.Keys(repl))
	slices.SortFunc(froms, func(a, b string) int { return len(b) - len(a) })
	for _, from := range froms {
		to := repl[from]
		s = strings.ReplaceAll(s, from, to)
		s = strings.ReplaceAll(s, strings.TrimPrefix(from, "sha256:"), strings.TrimPrefix(to, "sha256:"))
	}
	s = blobRe.ReplaceAllString(s, `"blob": "<blob>"`)
	s = durationRe.ReplaceAllString(s, "<duration>")
	s = hashRe.ReplaceAllString(s, `"$1": "<hash>"`)
	s = versionRe.ReplaceAllStringFunc(s, func(m string) string {
		if strings.HasSuffix(m, `"2.1.0"`) && strings.HasPrefix(m, `"version"`) {
			return m // SARIF's own version
		}
		return versionRe.ReplaceAllString(m, `"$1": "<version>"`)
	})
	return s
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	p := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%v (go test -update writes it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from the golden file (go test -update rewrites it)\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

func readReport(t *testing.T, path string) *report.Report {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rep, err := report.ReadJSON(f)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// TestGitSeesThroughArchivesAndEncodings: a key base64-encoded in a
// committed Kubernetes Secret, and one inside a committed tgz, are found in
// history with their commit.
func TestGitSeesThroughArchivesAndEncodings(t *testing.T) {
	repo := testkit.NewGitRepo(t)
	encoded, archived := testkit.NewKey(t, patterns.Staging), testkit.NewKey(t, patterns.Production)
	repo.Write("k8s/secret.yaml", "apiVersion: v1\nkind: Secret\ndata:\n  key: "+base64.StdEncoding.EncodeToString([]byte(encoded))+"\n")
	var tgz bytes.Buffer
	gz := gzip.NewWriter(&tgz)
	tw := tar.NewWriter(gz)
	body := []byte("module.exports = {key: '" + archived + "'}\n")
	tw.WriteHeader(&tar.Header{Name: "package/index.js", Mode: 0o644, Size: int64(len(body))})
	tw.Write(body)
	tw.Close()
	gz.Close()
	repo.Write("vendor/sdk-1.2.0.tgz", tgz.String())
	commit := repo.Commit("vendor and secret")
	repo.Git("rm", "-q", "-r", "k8s", "vendor")
	repo.Commit("remove")

	r := runCLI(t, nil, "git", repo.Dir, "--format", "json")
	if r.code != ExitLeaks {
		t.Fatalf("exit %d: %s", r.code, r.errOut)
	}
	noWholeKey(t, []string{encoded, archived}, r.out, r.errOut)
	var rep report.Report
	if err := json.Unmarshal([]byte(r.out), &rep); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		patterns.Fingerprint([]byte(encoded)):  "k8s/secret.yaml",
		patterns.Fingerprint([]byte(archived)): "vendor/sdk-1.2.0.tgz!package/index.js",
	}
	if len(rep.Findings) != 2 {
		t.Fatalf("want 2 findings, got %+v", rep.Findings)
	}
	for _, f := range rep.Findings {
		l := f.Locations[0]
		if len(f.Locations) != 1 || l.Path != want[f.Fingerprint] || l.Commit != commit {
			t.Errorf("%s: locations %+v, want %s at %s", f.Redacted, f.Locations, want[f.Fingerprint], commit[:7])
		}
	}
}

// A key pasted where a revision goes must not come back whole in the error.
func TestGitErrorMasksKeys(t *testing.T) {
	repo := testkit.NewGitRepo(t)
	repo.Write("a", "a\n")
	repo.Commit("a")
	key := testkit.NewKey(t, patterns.Production)
	r := runCLI(t, nil, "git", repo.Dir, "--range", key+".."+key)
	if r.code != ExitError {
		t.Fatalf("exit %d, want 2", r.code)
	}
	noWholeKey(t, []string{key}, r.out, r.errOut)
}
