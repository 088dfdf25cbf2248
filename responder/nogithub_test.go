package responder_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"

	"github.com/atomyx/atomyx-guard/internal/finding"
	"github.com/atomyx/atomyx-guard/internal/testkit"
	"github.com/atomyx/atomyx-guard/internal/vault"
	"github.com/atomyx/atomyx-guard/internal/vault/server"
	"github.com/atomyx/atomyx-guard/patterns"
	"github.com/atomyx/atomyx-guard/responder"
	"github.com/atomyx/atomyx-guard/responder/journal"
)

// offline wires a responder with the Vault only: no GitHub client.
func (w *world) offline(t *testing.T, j *journal.Journal, out *testkit.Buffer, mod func(*responder.Config)) *responder.Responder {
	return w.responder(t, j, out, func(c *responder.Config) {
		c.GitHub = nil
		if mod != nil {
			mod(c)
		}
	})
}

// TestWithoutGitHubRotatesToTheRecipient: with no GitHub token, a live
// production key whose policy delivers to GitHub secrets is still
// reissued and revoked; the replacement goes to the operator's recipient,
// the issue's text to an incident file, and a rerun changes nothing.
func TestWithoutGitHubRotatesToTheRecipient(t *testing.T) {
	w := newWorld(t, server.Faults{})
	leaked, ik, f := w.leak(t, patterns.Production)
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	jpath := filepath.Join(dir, "journal.db")
	j := openJournal(t, jpath)
	out := &testkit.Buffer{}
	withRecipient := func(c *responder.Config) { c.Recipient = id.Recipient() }

	sum, err := w.offline(t, j, out, withRecipient).Run(context.Background(), []finding.Finding{f})
	if err != nil || sum.Count(responder.StateDone) != 1 {
		t.Fatalf("run: %+v %v\n%s", sum, err, out)
	}
	if st := w.status(t, leaked); st != vault.StatusRevoked {
		t.Fatalf("leaked key is %s, want revoked", st)
	}
	in, _, err := j.Get(f.Fingerprint)
	if err != nil || in.Action != journal.Rotate || len(in.Sinks) != 0 || in.Reissued == nil || in.Reissued.SealedTo != "recipient" ||
		in.VerifiedAt.IsZero() || in.RevokedAt.IsZero() || in.Issue != nil || in.FiledAt.IsZero() || !in.Done() || !in.IssuePending() {
		t.Fatalf("journal: %+v %v", in, err)
	}
	replacement, err := journal.OpenSealed(in.Reissued.Sealed, id)
	if err != nil || w.status(t, replacement.Reveal()) != vault.StatusActive {
		t.Fatalf("the sealed replacement: %v", err)
	}
	if len(w.GH.Requests()) != 0 || len(w.GH.SealedSecrets()) != 0 {
		t.Fatal("GitHub was called without a token")
	}

	wantFile := filepath.Join(dir, "incidents", in.ID+".md")
	if in.IncidentFile != wantFile {
		t.Fatalf("incident file %q, want %q", in.IncidentFile, wantFile)
	}
	text := checkIncidentFile(t, wantFile)
	for _, want := range []string{
		"No GitHub issue was opened", "GITHUB_TOKEN is not set", in.Redacted, f.Fingerprint, in.Reissued.Redacted,
		"no GitHub token: the replacement cannot be delivered to " + repoSink.String(),
		"sealed the replacement to the operator's age recipient", "revoked the leaked key " + ik.KeyID,
		"respond show " + in.ID, "config/app.env",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("incident file lacks %q:\n%s", want, text)
		}
	}
	if !strings.Contains(out.String(), "warning: no GitHub issue was opened") {
		t.Errorf("no warning in the output:\n%s", out)
	}
	for _, k := range []string{leaked, replacement.Reveal()} {
		if bytes.Contains(w.everything(t, out.String()+text, jpath), []byte(k)) {
			t.Fatal("a whole key in the output, incident file or journal")
		}
	}

	// A rerun changes nothing: same journal entry, same file, no other file.
	before, _ := os.Stat(wantFile)
	sum, err = w.offline(t, j, out, withRecipient).Run(context.Background(), []finding.Finding{f})
	if err != nil || sum.Count(responder.StateUnchanged) != 1 {
		t.Fatalf("rerun: %+v %v", sum, err)
	}
	again, _, _ := j.Get(f.Fingerprint)
	after, _ := os.Stat(wantFile)
	if !again.UpdatedAt.Equal(in.UpdatedAt) || !after.ModTime().Equal(before.ModTime()) || checkIncidentFile(t, wantFile) != text {
		t.Fatal("a rerun changed the journal or the incident file")
	}
	if ents, _ := os.ReadDir(filepath.Dir(wantFile)); len(ents) != 1 {
		t.Fatalf("%d files in the incident directory, want 1", len(ents))
	}

	// A run that finds the key elsewhere updates the same file.
	g := f
	g.Locations = append(g.Locations, finding.Location{Source: finding.SourceGit, Kind: finding.KindBlob, Path: "deploy/more.env", Line: 1,
		Commit: "fedcba9876543210fedcba9876543210fedcba98"})
	sum, err = w.offline(t, j, out, withRecipient).Run(context.Background(), []finding.Finding{g})
	if err != nil || sum.Count(responder.StateUpdated) != 1 || !strings.Contains(checkIncidentFile(t, wantFile), "deploy/more.env") {
		t.Fatalf("new location: %+v %v", sum, err)
	}

	// A later run with a token opens the issue once, even without finding
	// the key again, and then leaves it.
	for range 2 {
		if _, err := w.responder(t, j, out, withRecipient).Run(context.Background(), nil); err != nil {
			t.Fatal(err)
		}
	}
	open, closed := w.leakIssues(f.Fingerprint)
	if len(open) != 1 || len(closed) != 0 || !strings.Contains(open[0].Body, "deploy/more.env") {
		t.Fatalf("issues after a run with a token: %d open, %d closed", len(open), len(closed))
	}
	final, _, _ := j.Get(f.Fingerprint)
	if final.Issue == nil || final.ReportedAt.IsZero() || final.IssuePending() {
		t.Fatalf("journal after the issue: %+v", final)
	}
	if n := w.replacements(t, ik.KeyID); n != 1 {
		t.Fatalf("%d replacements, want 1", n)
	}
}

// TestWithoutGitHubOrRecipientRevokes: with nowhere to put a replacement,
// rotate degrades to revoke, as it does with no sink and no recipient.
func TestWithoutGitHubOrRecipientRevokes(t *testing.T) {
	w := newWorld(t, server.Faults{})
	leaked, ik, f := w.leak(t, patterns.Production)
	jpath := filepath.Join(t.TempDir(), "journal.db")
	j := openJournal(t, jpath)
	out := &testkit.Buffer{}
	incidents := filepath.Join(t.TempDir(), "elsewhere")
	sum, err := w.offline(t, j, out, func(c *responder.Config) { c.IncidentDir = incidents }).Run(context.Background(), []finding.Finding{f})
	if err != nil || sum.Count(responder.StateDone) != 1 {
		t.Fatalf("run: %+v %v", sum, err)
	}
	in, _, _ := j.Get(f.Fingerprint)
	if w.status(t, leaked) != vault.StatusRevoked || in.Action != journal.Revoke || in.Planned != journal.Rotate || in.Reissued != nil {
		t.Fatalf("want a revocation without replacement: %+v", in)
	}
	if n := w.replacements(t, ik.KeyID); n != 0 {
		t.Fatalf("%d replacements made with nowhere to put them", n)
	}
	text := checkIncidentFile(t, filepath.Join(incidents, in.ID+".md"))
	if !strings.Contains(text, "revoked without a replacement") || strings.Contains(text, leaked) {
		t.Fatalf("incident file:\n%s", text)
	}
}

// TestPendingDeliveryWaitsForGitHub: a rotation planned with a token and
// interrupted before delivery does not revoke the old key without one:
// the replacement waits, sealed in the journal, and the run says why.
func TestPendingDeliveryWaitsForGitHub(t *testing.T) {
	w := newWorld(t, server.Faults{})
	leaked, _, f := w.leak(t, patterns.Production)
	jpath := filepath.Join(t.TempDir(), "journal.db")
	j := openJournal(t, jpath)
	out := &testkit.Buffer{}
	// A private repository and a grace: the reissue leaves the old key
	// working until the responder revokes it, after delivery.
	grace := func(c *responder.Config) { c.Policy = rotateTo("15m", repoSink); c.Visibility = "private" }
	stop := w.responder(t, j, out, grace)
	j.OnCommit = func(_ string, step journal.Step) {
		if step == journal.Reissued {
			panic("stop")
		}
	}
	func() {
		defer func() { recover() }()
		stop.Run(context.Background(), []finding.Finding{f})
	}()
	j.OnCommit = nil
	_, err := w.offline(t, j, out, grace).Run(context.Background(), nil)
	if err == nil || !strings.Contains(err.Error(), "GITHUB_TOKEN") || w.status(t, leaked) != vault.StatusActive {
		t.Fatalf("want the run to wait for a token, the old key active: %v", err)
	}
	if _, err := w.responder(t, j, out, grace).Run(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	if _, ok := w.GH.SecretValue(repoSink); !ok || w.status(t, leaked) != vault.StatusRevoked {
		t.Fatal("the resumed run with a token did not finish")
	}
}

// checkIncidentFile returns the file's text after checking its and its
// directory's modes.
func checkIncidentFile(t *testing.T, path string) string {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	dst, err := os.Stat(filepath.Dir(path))
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 || dst.Mode().Perm() != 0o700 {
		t.Fatalf("modes: file %v, directory %v; want 0600 and 0700", st.Mode().Perm(), dst.Mode().Perm())
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}
