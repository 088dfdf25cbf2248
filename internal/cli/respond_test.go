package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"

	"github.com/atomyx/atomyx-guard/internal/finding"
	"github.com/atomyx/atomyx-guard/internal/ghapi"
	"github.com/atomyx/atomyx-guard/internal/ghapi/ghfake"
	"github.com/atomyx/atomyx-guard/internal/report"
	"github.com/atomyx/atomyx-guard/internal/testkit"
	"github.com/atomyx/atomyx-guard/internal/vault"
	"github.com/atomyx/atomyx-guard/internal/vault/server"
	"github.com/atomyx/atomyx-guard/internal/vault/vaulttest"
	"github.com/atomyx/atomyx-guard/patterns"
)

// respondWorld is a local Vault, a fake GitHub, a leaked production key
// and a JSON report that lists it.
type respondWorld struct {
	env    map[string]string
	gh     *ghfake.Server
	vc     *vault.Client
	leaked string
	dir    string
	report string
}

func newRespondWorld(t *testing.T, configTOML string) *respondWorld {
	t.Helper()
	v := vaulttest.Start(t, server.Options{})
	gh := ghfake.New()
	gh.Token = "gh-token"
	t.Cleanup(gh.Close)
	gh.AddRepo("acme", "app", false)
	gh.AddRepo("acme", "security", true)
	vc := v.Client(t)
	ik, err := vc.Issue(context.Background(), vault.IssueRequest{Environment: "production", Products: []string{"manage"}}, "")
	if err != nil {
		t.Fatal(err)
	}
	w := &respondWorld{gh: gh, vc: vc, leaked: ik.Key.Reveal(), dir: t.TempDir()}
	w.env = map[string]string{
		"ATOMYX_API_URL": v.URL, "ATOMYX_API_KEY": v.Admin,
		"GITHUB_TOKEN": "gh-token", "GITHUB_API_URL": gh.URL(), "GITHUB_REPOSITORY": "acme/app",
		"HOME": w.dir,
	}
	rep := &report.Report{Findings: []finding.Finding{{
		Fingerprint: ik.Key.Fingerprint(), Redacted: ik.Key.String(), Environment: "production", Status: finding.Active,
		Locations: []finding.Location{{Source: finding.SourceGit, Path: ".env", Line: 1, Commit: "89abcdef0123456789abcdef0123456789abcdef"}},
	}}}
	var buf bytes.Buffer
	if err := report.WriteJSON(&buf, rep); err != nil {
		t.Fatal(err)
	}
	w.report = filepath.Join(w.dir, "report.json")
	if err := os.WriteFile(w.report, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(w.dir, "guard.toml"), []byte(configTOML), 0o600); err != nil {
		t.Fatal(err)
	}
	return w
}

func (w *respondWorld) status(t *testing.T, key string) string {
	t.Helper()
	c, _ := vault.New(vault.Config{BaseURL: w.env["ATOMYX_API_URL"], APIKey: w.env["ATOMYX_API_KEY"]})
	fp := patterns.Fingerprint([]byte(key))
	res, err := c.Verify(context.Background(), []string{fp})
	if err != nil {
		t.Fatal(err)
	}
	return res[fp].Status
}

func TestRespondCommand(t *testing.T) {
	w := newRespondWorld(t, `
[respond]
issue_repo = "acme/security"
[respond.environments.production]
action = "rotate"
deliver = ["github-secret:acme/app:ATOMYX_API_KEY"]
`)
	cfg := filepath.Join(w.dir, "guard.toml")
	jpath := filepath.Join(w.dir, "journal.db")

	// A dry run plans and changes nothing, not even a journal file.
	dry := runCLI(t, w.env, "respond", "--findings", w.report, "--config", cfg, "--journal", jpath, "--dry-run")
	if dry.code != ExitClean || !strings.Contains(dry.out, "deliver to github-secret:acme/app:ATOMYX_API_KEY") || !strings.Contains(dry.out, "planned") {
		t.Fatalf("dry run: %+v", dry)
	}
	if _, err := os.Stat(jpath); err == nil {
		t.Fatal("a dry run created the journal")
	}
	if len(w.gh.Issues("acme/security")) != 0 || w.status(t, w.leaked) != vault.StatusActive {
		t.Fatal("a dry run changed something")
	}

	res := runCLI(t, w.env, "respond", "--findings", w.report, "--config", cfg, "--journal", jpath)
	if res.code != ExitClean || !strings.Contains(res.out, "done (rotate)") {
		t.Fatalf("respond: %+v", res)
	}
	got, ok := w.gh.SecretValue(ghapi.SecretTarget{Kind: ghapi.KindRepoSecret, Owner: "acme", Repo: "app", Name: "ATOMYX_API_KEY"})
	if !ok || w.status(t, got) != vault.StatusActive || w.status(t, w.leaked) != vault.StatusRevoked {
		t.Fatal("the key was not rotated")
	}
	if n := len(w.gh.Issues("acme/security")); n != 1 {
		t.Fatalf("%d issues", n)
	}
	again := runCLI(t, w.env, "respond", "--findings", w.report, "--config", cfg, "--journal", jpath)
	if again.code != ExitClean || !strings.Contains(again.out, "unchanged") {
		t.Fatalf("second run: %+v", again)
	}
	for _, r := range []result{dry, res, again} {
		if strings.Contains(r.out+r.errOut, w.leaked) || strings.Contains(r.out+r.errOut, got) {
			t.Fatal("a whole key in the command's output")
		}
	}
}

func TestRespondShowOpensTheSealedReplacement(t *testing.T) {
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	w := newRespondWorld(t, `
[respond]
issue_repo = "acme/security"
recipient = "`+id.Recipient().String()+`"
[respond.environments.production]
action = "rotate"
`)
	idFile := filepath.Join(w.dir, "operator.age")
	if err := os.WriteFile(idFile, []byte(id.String()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	jpath := filepath.Join(w.dir, "journal.db")
	res := runCLI(t, w.env, "respond", "--findings", w.report, "--config", filepath.Join(w.dir, "guard.toml"), "--journal", jpath)
	if res.code != ExitClean {
		t.Fatalf("respond: %+v", res)
	}
	inc := strings.Fields(res.out)[0]
	hidden := runCLI(t, w.env, "respond", "show", inc, "--journal", jpath)
	if hidden.code != ExitClean || !strings.Contains(hidden.out, "pass --identity") {
		t.Fatalf("show without identity: %+v", hidden)
	}
	shown := runCLI(t, w.env, "respond", "show", inc, "--journal", jpath, "--identity", idFile)
	lines := strings.Split(strings.TrimSpace(shown.out), "\n")
	key := lines[len(lines)-1]
	if shown.code != ExitClean || !patterns.Valid([]byte(key)) || w.status(t, key) != vault.StatusActive {
		t.Fatalf("show: %+v", shown)
	}
	if strings.Contains(res.out+res.errOut+hidden.out, key) {
		t.Fatal("the replacement was printed outside respond show")
	}
	if data, _ := os.ReadFile(jpath); bytes.Contains(data, []byte(key)) {
		t.Fatal("the replacement is in the journal in the clear")
	}
	bad := runCLI(t, w.env, "respond", "show", "inc-nope", "--journal", jpath)
	if bad.code != ExitError {
		t.Fatalf("unknown incident: %+v", bad)
	}
}

func TestRespondNeedsCredentials(t *testing.T) {
	w := newRespondWorld(t, "")
	for _, unset := range []string{"ATOMYX_API_KEY"} { // GITHUB_TOKEN is optional: TestDirRespondWithoutGitHub
		env := map[string]string{}
		for k, v := range w.env {
			if k != unset {
				env[k] = v
			}
		}
		res := runCLI(t, env, "respond", "--findings", w.report, "--journal", filepath.Join(w.dir, "j.db"))
		if res.code != ExitError || !strings.Contains(res.errOut, unset) {
			t.Errorf("without %s: %+v", unset, res)
		}
	}
}

// TestGitRespond: --respond on a scan command takes a live key found in
// history through rotation, and a second scan changes nothing more.
func TestGitRespond(t *testing.T) {
	w := newRespondWorld(t, "")
	repo := testkit.NewGitRepo(t)
	repo.Write("deploy/.env", "ATOMYX_API_KEY="+w.leaked+"\n")
	repo.Write(".atomyx-guard.toml", `
[respond]
issue_repo = "acme/security"
[respond.environments.production]
action = "rotate"
deliver = ["github-secret:acme/app:ATOMYX_API_KEY"]
`)
	repo.Commit("deploy config")
	jpath := filepath.Join(w.dir, "journal.db")

	dry := runCLI(t, w.env, "git", repo.Dir, "--respond", "--dry-run", "--journal", jpath)
	if dry.code != ExitLeaks || w.status(t, w.leaked) != vault.StatusActive || len(w.gh.Issues("acme/security")) != 0 {
		t.Fatalf("a dry run must change nothing and still fail on the live key: %+v", dry)
	}

	res := runCLI(t, w.env, "git", repo.Dir, "--respond", "--journal", jpath, "--format", "json")
	if res.code != ExitLeaks {
		t.Fatalf("exit %d, want 1 (the leak happened): %s", res.code, res.errOut)
	}
	got, ok := w.gh.SecretValue(ghapi.SecretTarget{Kind: ghapi.KindRepoSecret, Owner: "acme", Repo: "app", Name: "ATOMYX_API_KEY"})
	if !ok || w.status(t, got) != vault.StatusActive || w.status(t, w.leaked) != vault.StatusRevoked {
		t.Fatal("the leaked key was not rotated")
	}
	issues := w.gh.Issues("acme/security")
	if len(issues) != 1 || strings.Contains(issues[0].Body, w.leaked) || strings.Contains(issues[0].Body, got) {
		t.Fatalf("want one issue without any key, got %d", len(issues))
	}

	// The key is revoked now: a second scan finds it, verifies it revoked,
	// passes (--fail-on active is the default with --verify) and does
	// nothing more.
	again := runCLI(t, w.env, "git", repo.Dir, "--respond", "--journal", jpath)
	if again.code != ExitClean {
		t.Fatalf("second scan: exit %d: %s", again.code, again.errOut)
	}
	if n := len(w.gh.Issues("acme/security")); n != 1 {
		t.Fatalf("second scan opened another issue: %d", n)
	}
	noWholeKey(t, []string{w.leaked, got}, dry.out, dry.errOut, res.out, res.errOut, again.out, again.errOut)
}
