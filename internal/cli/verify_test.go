package cli

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"testing"

	"github.com/atomyx/atomyx-guard/internal/finding"
	"github.com/atomyx/atomyx-guard/internal/report"
	"github.com/atomyx/atomyx-guard/internal/testkit"
	"github.com/atomyx/atomyx-guard/internal/vault"
	"github.com/atomyx/atomyx-guard/internal/vault/server"
	"github.com/atomyx/atomyx-guard/internal/vault/vaulttest"
	"github.com/atomyx/atomyx-guard/patterns"
)

// localVault starts the real local Vault on a loopback port and returns
// its URL and an admin client.
func localVault(t *testing.T) (url, admin string, c *vault.Client) {
	t.Helper()
	v := vaulttest.Start(t, server.Options{})
	return v.URL, v.Admin, v.Client(t)
}

func TestGitVerify(t *testing.T) {
	url, admin, vc := localVault(t)
	ctx := context.Background()
	issue := func(env patterns.Environment) vault.IssuedKey {
		k, err := vc.Issue(ctx, vault.IssueRequest{Environment: string(env), Products: []string{"manage"},
			Owner: &finding.Owner{Org: "acme", Team: "payments"}}, "")
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	live, gone := issue(patterns.Production), issue(patterns.Staging)
	if _, err := vc.Revoke(ctx, gone.KeyID, vault.RevokeRequest{Reason: "test"}, ""); err != nil {
		t.Fatal(err)
	}
	never := testkit.NewKey(t, patterns.Development)

	repo := testkit.NewGitRepo(t)
	repo.Write("live.env", "K="+live.Key.Reveal()+"\n")
	repo.Write("gone.env", "K="+gone.Key.Reveal()+"\n")
	repo.Write("never.env", "K="+never+"\n")
	repo.Commit("keys")
	keys := []string{live.Key.Reveal(), gone.Key.Reveal(), never, admin}
	env := map[string]string{"ATOMYX_API_URL": url, "ATOMYX_API_KEY": admin}

	r := runCLI(t, env, "git", repo.Dir, "--verify", "--format", "json")
	noWholeKey(t, keys, r.out, r.errOut)
	if r.code != ExitLeaks {
		t.Fatalf("exit %d with an active key, want 1: %s", r.code, r.errOut)
	}
	var rep report.Report
	if err := json.Unmarshal([]byte(r.out), &rep); err != nil {
		t.Fatal(err)
	}
	want := map[string]finding.Status{
		live.Key.Fingerprint(): finding.Active, gone.Key.Fingerprint(): finding.Revoked,
		patterns.Fingerprint([]byte(never)): finding.Unknown,
	}
	for _, f := range rep.Findings {
		if f.Status != want[f.Fingerprint] {
			t.Errorf("%s: status %s, want %s", f.Redacted, f.Status, want[f.Fingerprint])
		}
		if f.Status == finding.Active && (f.KeyID != live.KeyID || f.Owner == nil || f.Owner.Org != "acme") {
			t.Errorf("active finding lacks Vault metadata: %+v", f)
		}
	}
	if len(rep.Findings) != 3 || !rep.Stats.Verified {
		t.Fatalf("findings %d, verified %v", len(rep.Findings), rep.Stats.Verified)
	}

	// With the live key revoked, nothing active is left: --fail-on active
	// (the default with --verify) passes; --fail-on any still fails.
	if _, err := vc.Revoke(ctx, live.KeyID, vault.RevokeRequest{Reason: "test"}, ""); err != nil {
		t.Fatal(err)
	}
	if r := runCLI(t, env, "git", repo.Dir, "--verify"); r.code != ExitClean {
		t.Errorf("no active key left: exit %d, want 0: %s", r.code, r.errOut)
	}
	if r := runCLI(t, env, "git", repo.Dir, "--verify", "--fail-on", "any"); r.code != ExitLeaks {
		t.Errorf("--fail-on any: exit %d, want 1", r.code)
	}
}

func TestGitVerifyVaultUnreachable(t *testing.T) {
	repo := testkit.NewGitRepo(t)
	key := testkit.NewKey(t, patterns.Production)
	repo.Write("k.env", "K="+key+"\n")
	repo.Commit("k")
	hs := httptest.NewServer(nil)
	url := hs.URL
	hs.Close() // nothing listens there any more

	for name, env := range map[string]map[string]string{
		"unreachable": {"ATOMYX_API_URL": url, "ATOMYX_API_KEY": testkit.NewKey(t, patterns.Production)},
		"no api key":  {"ATOMYX_API_URL": url},
	} {
		t.Run(name, func(t *testing.T) {
			r := runCLI(t, env, "git", repo.Dir, "--verify", "--format", "json")
			if r.code != ExitError {
				t.Fatalf("exit %d, want 2 (verification not done)", r.code)
			}
			var rep report.Report
			if err := json.Unmarshal([]byte(r.out), &rep); err != nil {
				t.Fatalf("the report is still written: %v", err)
			}
			if len(rep.Findings) != 1 || rep.Findings[0].Status != finding.Unverified || rep.Findings[0].StatusReason == "" {
				t.Fatalf("want the finding unverified with a reason, got %+v", rep.Findings)
			}
			noWholeKey(t, []string{key, env["ATOMYX_API_KEY"]}, r.out, r.errOut)
		})
	}
}
