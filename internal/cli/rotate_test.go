package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/atomyx/atomyx-guard/internal/finding"
	"github.com/atomyx/atomyx-guard/internal/ghapi"
	"github.com/atomyx/atomyx-guard/internal/ghapi/ghfake"
	"github.com/atomyx/atomyx-guard/internal/vault"
	"github.com/atomyx/atomyx-guard/internal/vault/server"
	"github.com/atomyx/atomyx-guard/internal/vault/vaulttest"
)

func TestRotateCommand(t *testing.T) {
	v := vaulttest.Start(t, server.Options{})
	gh := ghfake.New()
	gh.Token = "gh-token"
	t.Cleanup(gh.Close)
	gh.AddRepo("acme", "app", true)
	gh.AddRepo("acme", "security", true)
	vc := v.Client(t)
	issue := func(team string, age time.Duration) vault.IssuedKey {
		k, err := vc.Issue(context.Background(), vault.IssueRequest{Environment: "production", Owner: &finding.Owner{Org: "acme", Team: team},
			CreatedAt: time.Now().Add(-age).Format(time.RFC3339)}, "")
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	due := issue("payments", 100*24*time.Hour)
	orphan := issue("search", 100*24*time.Hour)
	fresh := issue("search", 24*time.Hour)
	dir := t.TempDir()
	toml := fmt.Sprintf("[respond]\nissue_repo = \"acme/security\"\n[rotate]\nmax_age = \"90d\"\n[[rotate.keys]]\nkey_id = %q\ndeliver = [\"github-secret:acme/app:ATOMYX_API_KEY\"]\n", due.KeyID)
	if err := os.WriteFile(filepath.Join(dir, ".atomyx-guard.toml"), []byte(toml), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"ATOMYX_API_URL": v.URL, "ATOMYX_API_KEY": v.Admin,
		"GITHUB_TOKEN": "gh-token", "GITHUB_API_URL": gh.URL(), "HOME": dir}
	runCLI := func(args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		sys := &IO{In: strings.NewReader(""), Out: &out, Err: &errb, Getenv: func(k string) string { return env[k] }, Getwd: dir}
		code := Run(context.Background(), args, sys)
		return code, out.String(), errb.String()
	}

	code, out, stderr := runCLI("rotate", "--org", "acme")
	if code != ExitLeaks || !strings.Contains(out, due.KeyID) || !strings.Contains(out, orphan.KeyID) || strings.Contains(out, fresh.KeyID) {
		t.Fatalf("plan: exit %d\n%s\n%s", code, out, stderr)
	}
	if !strings.Contains(out, "-> rotate to github-secret:acme/app:ATOMYX_API_KEY (from policy)") || !strings.Contains(out, "-> report") {
		t.Fatalf("plan text:\n%s", out)
	}
	if _, ok := gh.SecretValue(ghapi.SecretTarget{Kind: ghapi.KindRepoSecret, Owner: "acme", Repo: "app", Name: "ATOMYX_API_KEY"}); ok {
		t.Fatal("--plan delivered")
	}
	code, out, _ = runCLI("rotate", "--org", "acme", "--format", "json")
	var plan struct {
		Keys []struct{ KeyID, Action string } `json:"keys"`
	}
	if err := json.Unmarshal([]byte(out), &plan); err != nil || len(plan.Keys) != 3 || code != ExitLeaks {
		t.Fatalf("json: %v %d %s", err, code, out)
	}

	summary := filepath.Join(dir, "summary.md")
	code, out, stderr = runCLI("rotate", "--org", "acme", "--apply", "--summary", summary)
	// The orphan key stays due: exit 1.
	if code != ExitLeaks || !strings.Contains(out, "rotate to github-secret:acme/app:ATOMYX_API_KEY (from policy): done") {
		t.Fatalf("apply: exit %d\n%s\n%s", code, out, stderr)
	}
	if _, ok := gh.SecretValue(ghapi.SecretTarget{Kind: ghapi.KindRepoSecret, Owner: "acme", Repo: "app", Name: "ATOMYX_API_KEY"}); !ok {
		t.Fatal("--apply did not deliver")
	}
	md, _ := os.ReadFile(summary)
	if !strings.Contains(string(md), "## atomyx-guard rotate: acme (applied)") || !strings.Contains(string(md), "| `"+orphan.KeyID+"` |") {
		t.Fatalf("summary:\n%s", md)
	}
	if len(gh.Issues("acme/security")) != 1 {
		t.Fatal("no issue for the key without a sink")
	}
	if _, err := os.Stat(filepath.Join(dir, ".local", "state", "atomyx-guard", "journal.db")); err != nil {
		t.Fatal("no journal:", err)
	}

	for _, args := range [][]string{
		{"rotate"},
		{"rotate", "--org", "acme", "--plan", "--apply"},
		{"rotate", "--org", "acme", "--revoke-unused"},
		{"rotate", "--org", "acme", "--format", "sarif"},
	} {
		if code, _, _ := runCLI(args...); code != ExitError {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
}
