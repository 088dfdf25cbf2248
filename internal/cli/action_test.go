package cli

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/atomyx/atomyx-guard/internal/finding"
	"github.com/atomyx/atomyx-guard/internal/testkit"
	"github.com/atomyx/atomyx-guard/internal/vault"
	"github.com/atomyx/atomyx-guard/patterns"
)

// The action command wires the real scan and the local Vault: a pull
// request adding a live key and a revoked one fails under fail-on active
// with active=1, and the allowlist of the repository applies.
func TestActionCommand(t *testing.T) {
	url, admin, vc := localVault(t)
	ctx := context.Background()
	issue := func() vault.IssuedKey {
		k, err := vc.Issue(ctx, vault.IssueRequest{Environment: "production", Products: []string{"manage"}}, "")
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	live, gone := issue(), issue()
	if _, err := vc.Revoke(ctx, gone.KeyID, vault.RevokeRequest{Reason: "test"}, ""); err != nil {
		t.Fatal(err)
	}
	allowed := testkit.NewKey(t, patterns.Development)

	repo := testkit.NewGitRepo(t)
	repo.Write("README", "hi\n")
	// The allowlist is the base's: a pull request cannot allow its own keys.
	repo.Write(".atomyx-guard.toml", "[[allow.fingerprints]]\nfingerprint = \""+patterns.Fingerprint([]byte(allowed))+"\"\nreason = \"test fixture\"\n")
	base := repo.Commit("base")
	repo.Write("live.env", "K="+live.Key.Reveal()+"\n")
	repo.Write("gone.env", "K="+gone.Key.Reveal()+"\n")
	repo.Write("fixture.txt", allowed+"\n")
	head := repo.Commit("keys")
	keys := []string{live.Key.Reveal(), gone.Key.Reveal(), allowed, admin}

	tmp := t.TempDir()
	event, _ := json.Marshal(map[string]any{"pull_request": map[string]any{"number": 1,
		"base": map[string]any{"sha": base, "repo": map[string]any{"full_name": "acme/app"}},
		"head": map[string]any{"sha": head, "repo": map[string]any{"full_name": "acme/app"}}}})
	eventPath := filepath.Join(tmp, "event.json")
	if err := os.WriteFile(eventPath, event, 0o644); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{
		"GITHUB_EVENT_NAME": "pull_request", "GITHUB_EVENT_PATH": eventPath, "GITHUB_WORKSPACE": repo.Dir,
		"GITHUB_OUTPUT": filepath.Join(tmp, "out"), "GITHUB_STEP_SUMMARY": filepath.Join(tmp, "summary"),
		"RUNNER_TEMP": tmp, "INPUT_VERIFY": "true", "INPUT_FAIL_ON": "active", "INPUT_VAULT_URL": url,
		"ATOMYX_API_KEY": admin,
	}
	r := runCLI(t, env, "action")
	outputs, _ := os.ReadFile(env["GITHUB_OUTPUT"])
	summary, _ := os.ReadFile(env["GITHUB_STEP_SUMMARY"])
	sarif, _ := os.ReadFile(filepath.Join(tmp, "atomyx-guard.sarif"))
	noWholeKey(t, keys, r.out, r.errOut, string(outputs), string(summary), string(sarif))
	if r.code != ExitLeaks {
		t.Fatalf("exit %d, want 1; out:\n%s\nerr:\n%s", r.code, r.out, r.errOut)
	}
	for _, w := range []string{"findings<<", "\n2\n", "active<<", "\n1\n"} {
		if !strings.Contains(string(outputs), w) {
			t.Errorf("GITHUB_OUTPUT lacks %q:\n%s", w, outputs)
		}
	}
	if !strings.Contains(string(summary), string(finding.Active)) || !strings.Contains(string(summary), string(finding.Revoked)) {
		t.Errorf("summary lacks the statuses:\n%s", summary)
	}
	if strings.Contains(r.out, "fixture.txt") {
		t.Errorf("allowlisted key annotated:\n%s", r.out)
	}

	// Outside a job, the command says so and exits 2.
	if r := runCLI(t, map[string]string{}, "action"); r.code != ExitError || !strings.Contains(r.out, "::error") {
		t.Errorf("without GITHUB_EVENT_NAME: exit %d, out %q", r.code, r.out)
	}
}

// A pull request that adds .atomyx-guard.toml allowing everything, and a
// key, and a marker beside another key, still fails: the base's policy
// applies, and the change to it is in the log and the job summary.
func TestActionPullRequestCannotOpenItsOwnGate(t *testing.T) {
	repo := testkit.NewGitRepo(t)
	repo.Write("README", "hi\n")
	base := repo.Commit("base")
	key, marked := testkit.NewKey(t, patterns.Production), testkit.NewKey(t, patterns.Staging)
	repo.Write(".atomyx-guard.toml", "[allow]\npaths = [\"**\"]\n")
	repo.Write("leak.env", "K="+key+"\n")
	repo.Write("app.py", "K = \""+marked+"\"  # atomyx-guard:allow\n")
	head := repo.Commit("open the gate")

	tmp := t.TempDir()
	event, _ := json.Marshal(map[string]any{"pull_request": map[string]any{"number": 3,
		"base": map[string]any{"sha": base, "repo": map[string]any{"full_name": "acme/app"}},
		"head": map[string]any{"sha": head, "repo": map[string]any{"full_name": "acme/app"}}}})
	eventPath := filepath.Join(tmp, "event.json")
	if err := os.WriteFile(eventPath, event, 0o644); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{
		"GITHUB_EVENT_NAME": "pull_request", "GITHUB_EVENT_PATH": eventPath, "GITHUB_WORKSPACE": repo.Dir,
		"GITHUB_OUTPUT": filepath.Join(tmp, "out"), "GITHUB_STEP_SUMMARY": filepath.Join(tmp, "summary"),
		"RUNNER_TEMP": tmp,
	}
	r := runCLI(t, env, "action")
	outputs, _ := os.ReadFile(env["GITHUB_OUTPUT"])
	summary, _ := os.ReadFile(env["GITHUB_STEP_SUMMARY"])
	noWholeKey(t, []string{key, marked}, r.out, r.errOut, string(outputs), string(summary))
	if r.code != ExitLeaks || !strings.Contains(string(outputs), "findings<<") || !strings.Contains(string(outputs), "\n2\n") {
		t.Fatalf("exit %d, outputs %q: want 1 and both keys counted\n%s", r.code, outputs, r.out)
	}
	for _, w := range []string{".atomyx-guard.toml", "allowed by the change itself"} {
		if !strings.Contains(string(summary), w) {
			t.Errorf("summary lacks %q:\n%s", w, summary)
		}
		if !strings.Contains(r.out, "::warning") || !strings.Contains(r.out, w) {
			t.Errorf("log lacks a warning with %q:\n%s", w, r.out)
		}
	}
}
