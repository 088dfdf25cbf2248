package responder_test

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/atomyx/atomyx-guard/internal/finding"
	"github.com/atomyx/atomyx-guard/internal/testkit"
	"github.com/atomyx/atomyx-guard/internal/vault"
	"github.com/atomyx/atomyx-guard/internal/vault/server"
	"github.com/atomyx/atomyx-guard/patterns"
	"github.com/atomyx/atomyx-guard/responder"
)

// splitVault verifies with one real client and revokes and reissues with
// another: a responder whose key-management key holds keys:issue and
// keys:revoke but not keys:verify, so that the local Vault's role rule
// (a caller reissues only keys whose roles it holds) is what refuses.
type splitVault struct {
	read   *vault.Client
	manage *vault.Client
}

func (s splitVault) Verify(ctx context.Context, fps []string) (map[string]vault.KeyInfo, error) {
	return s.read.Verify(ctx, fps)
}

func (s splitVault) Get(ctx context.Context, id string) (vault.KeyInfo, error) {
	return s.read.Get(ctx, id)
}

func (s splitVault) Revoke(ctx context.Context, id string, req vault.RevokeRequest, idem string) (vault.RevokeResponse, error) {
	return s.manage.Revoke(ctx, id, req, idem)
}

func (s splitVault) Reissue(ctx context.Context, id string, req vault.ReissueRequest, idem string) (vault.IssuedKey, error) {
	return s.manage.Reissue(ctx, id, req, idem)
}

// TestReissueRefusedRevokesAndSaysSo: a leaked key holding a role the
// responder's key lacks cannot be reissued by it (403); the responder
// still revokes it by policy and the issue says an administrator must
// issue the replacement.
func TestReissueRefusedRevokesAndSaysSo(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t, server.Faults{})
	admin := w.vault(t)
	// The leaked key is a CI verifier: it holds keys:verify.
	ik, err := admin.Issue(ctx, vault.IssueRequest{Environment: "production", Products: []string{"manage"},
		Owner: &finding.Owner{Org: "acme", Team: "ci"}, Roles: []string{vault.RoleVerify}}, "")
	if err != nil {
		t.Fatal(err)
	}
	leaked := ik.Key.Reveal()
	f := finding.Finding{Fingerprint: ik.Key.Fingerprint(), Redacted: patterns.Redact([]byte(leaked)), Environment: "production",
		Locations: []finding.Location{{Source: finding.SourceGit, Kind: finding.KindBlob, Path: "ci.env", Line: 1,
			Commit: "0123456789abcdef0123456789abcdef01234567"}}}
	mk, err := admin.Issue(ctx, vault.IssueRequest{Environment: "development", Roles: []string{vault.RoleIssue, vault.RoleRevoke}}, "")
	if err != nil {
		t.Fatal(err)
	}
	manage, err := vault.New(vault.Config{BaseURL: w.VaultURL, APIKey: mk.Key.Reveal(), Timeout: 5 * time.Second, Backoff: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	jpath := filepath.Join(t.TempDir(), "journal.db")
	j := openJournal(t, jpath)
	defer j.Close()
	out := &testkit.Buffer{}
	r := w.responder(t, j, out, func(c *responder.Config) {
		c.Vault = splitVault{read: admin, manage: manage}
		c.Policy = rotateTo("immediately", repoSink)
	})
	sum, err := r.Run(ctx, []finding.Finding{f})
	if err != nil || sum.Count(responder.StateDone) != 1 {
		t.Fatalf("run = %+v, %v; want done", sum, err)
	}
	if st := w.status(t, leaked); st != vault.StatusRevoked {
		t.Errorf("leaked key is %s, want revoked", st)
	}
	if _, ok := w.GH.SecretValue(repoSink); ok {
		t.Error("something was delivered although nothing was reissued")
	}
	open, _ := w.leakIssues(f.Fingerprint)
	if len(open) != 1 {
		t.Fatalf("%d issues, want 1", len(open))
	}
	for _, want := range []string{"policy: revoke", "the Vault refused to reissue the key", "An administrator must issue the replacement", "revoked the leaked key " + ik.KeyID} {
		if !strings.Contains(open[0].Body, want) {
			t.Errorf("issue lacks %q:\n%s", want, open[0].Body)
		}
	}
	in, _, _ := j.Get(f.Fingerprint)
	if in.Planned != "rotate" || in.Action != "revoke" || in.ReissueRefused == "" || in.Reissued != nil {
		t.Errorf("journal: planned %q action %q refused %q reissued %v", in.Planned, in.Action, in.ReissueRefused, in.Reissued)
	}
	if !strings.Contains(out.String(), "an administrator must issue the replacement") {
		t.Errorf("no warning in the output:\n%s", out.String())
	}
	if bytes.Contains(w.everything(t, out.String(), jpath), []byte(leaked)) {
		t.Fatal("the leaked key appears in the clear")
	}
	if n := w.replacements(t, ik.KeyID); n != 0 {
		t.Errorf("%d replacements, want none", n)
	}
}

// TestOwnCredentialIsNeverActedOn: the key the responder itself runs with,
// found in a scan, is reported as skipped and never revoked, reissued or
// turned into an issue, whether the finding says so or only the
// configuration knows it.
func TestOwnCredentialIsNeverActedOn(t *testing.T) {
	ctx := context.Background()
	for _, tt := range []struct {
		name    string
		flagged bool // the finding carries own_credential (a report)
		config  bool // the responder is told its own fingerprint
	}{{"configured", false, true}, {"flagged in the report", true, false}} {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t, server.Faults{})
			f := finding.Finding{Fingerprint: patterns.Fingerprint([]byte(w.Admin)), Redacted: patterns.Redact([]byte(w.Admin)),
				Environment: "development", OwnCredential: tt.flagged,
				Locations: []finding.Location{{Source: finding.SourceFile, Path: "env"}}}
			j := openJournal(t, filepath.Join(t.TempDir(), "journal.db"))
			defer j.Close()
			out := &testkit.Buffer{}
			r := w.responder(t, j, out, func(c *responder.Config) {
				c.Policy = responder.DefaultPolicy
				if tt.config {
					c.OwnFingerprints = []string{f.Fingerprint}
				}
			})
			sum, err := r.Run(ctx, []finding.Finding{f})
			if err != nil || sum.Count(responder.StateSkipped) != 1 || !strings.Contains(sum.Outcomes[0].Reason, "own credential") {
				t.Fatalf("run = %+v, %v; want skipped as the run's own credential", sum, err)
			}
			if st := w.status(t, w.Admin); st != vault.StatusActive {
				t.Fatalf("the responder's own key is %s", st)
			}
			if n := len(w.GH.Issues(issueRepo)); n != 0 {
				t.Errorf("%d issues opened for the own credential", n)
			}
			if !strings.Contains(out.String(), "warning") || strings.Contains(out.String(), w.Admin) {
				t.Errorf("want a warning without the key:\n%s", out.String())
			}
			if _, ok, _ := j.Get(f.Fingerprint); ok {
				t.Error("an incident was journalled for the own credential")
			}
		})
	}
}
