package responder_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/atomyx/atomyx-guard/internal/finding"
	"github.com/atomyx/atomyx-guard/internal/ghapi"
	"github.com/atomyx/atomyx-guard/internal/ghapi/ghfake"
	"github.com/atomyx/atomyx-guard/internal/testkit"
	"github.com/atomyx/atomyx-guard/internal/vault"
	"github.com/atomyx/atomyx-guard/internal/vault/server"
	"github.com/atomyx/atomyx-guard/internal/vault/vaulttest"
	"github.com/atomyx/atomyx-guard/patterns"
	"github.com/atomyx/atomyx-guard/responder"
	"github.com/atomyx/atomyx-guard/responder/journal"
	bolt "go.etcd.io/bbolt"
)

// world is a local Vault and a fake GitHub, with the usual repositories.
type world struct {
	t        testing.TB
	vlt      *vaulttest.Vault
	VaultURL string
	Admin    string
	GH       *ghfake.Server
	closed   bool
}

var (
	repoSink = ghapi.SecretTarget{Kind: ghapi.KindRepoSecret, Owner: "acme", Repo: "app", Name: "ATOMYX_API_KEY"}
	envSink  = ghapi.SecretTarget{Kind: ghapi.KindEnvSecret, Owner: "acme", Repo: "app", Env: "production", Name: "ATOMYX_API_KEY"}
	orgSink  = ghapi.SecretTarget{Kind: ghapi.KindOrgSecret, Org: "acme", Name: "ATOMYX_API_KEY"}
)

const issueRepo = "acme/security"

func newWorld(t testing.TB, faults server.Faults) *world {
	t.Helper()
	v := vaulttest.Start(t, server.Options{Faults: faults})
	w := &world{t: t, vlt: v, VaultURL: v.URL, Admin: v.Admin}
	w.GH = ghfake.New()
	w.GH.Token = "gh-token"
	w.GH.AddRepo("acme", "app", false)
	w.GH.AddRepo("acme", "security", true)
	w.GH.AddRepo("acme", "internal", true)
	w.GH.AddEnv("acme", "app", "production")
	w.GH.AddOrg("acme")
	t.Cleanup(w.close)
	return w
}

func (w *world) close() {
	if w.closed {
		return
	}
	w.closed = true
	w.GH.Close()
	w.vlt.Close()
}

func (w *world) vault(t testing.TB) *vault.Client { return w.vlt.Client(t) }

func (w *world) github(t testing.TB) *ghapi.Client {
	t.Helper()
	c, err := ghapi.New(ghapi.Config{Token: "gh-token", BaseURL: w.GH.URL(), MutationSpacing: -1,
		Sleep: func(ctx context.Context, d time.Duration) error { return ctx.Err() }})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// leak issues a key in env and returns it with a finding in acme/app.
func (w *world) leak(t testing.TB, env patterns.Environment) (string, vault.IssuedKey, finding.Finding) {
	t.Helper()
	ik, err := w.vault(t).Issue(context.Background(), vault.IssueRequest{Environment: string(env), Products: []string{"manage", "submit"},
		Owner: &finding.Owner{Org: "acme", Team: "payments", Contact: "payments@acme.example"}}, "")
	if err != nil {
		t.Fatal(err)
	}
	key := ik.Key.Reveal()
	f := finding.Finding{
		Fingerprint: patterns.Fingerprint([]byte(key)), Redacted: patterns.Redact([]byte(key)),
		Environment: string(env), Status: finding.Unverified,
		Locations: []finding.Location{{Source: finding.SourceGit, Kind: finding.KindBlob, Path: "config/app.env", Line: 3, Column: 9,
			Commit: "0123456789abcdef0123456789abcdef01234567", Author: "dev", Date: "2026-11-20T10:00:00Z"}},
	}
	return key, ik, f
}

// status asks a fresh client (no cache) for a key's status.
func (w *world) status(t testing.TB, key string) string {
	t.Helper()
	fp := patterns.Fingerprint([]byte(key))
	res, err := w.vault(t).Verify(context.Background(), []string{fp})
	if err != nil {
		t.Fatal(err)
	}
	return res[fp].Status
}

// replacements counts the keys that replace id; it stops the Vault to
// read its database.
func (w *world) replacements(t testing.TB, id string) int {
	t.Helper()
	w.close()
	db, err := bolt.Open(filepath.Join(w.vlt.Dir, server.DBFile), 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	n := 0
	db.View(func(tx *bolt.Tx) error {
		return tx.Bucket([]byte("keys")).ForEach(func(_, v []byte) error {
			if bytes.Contains(v, []byte(`"replaces":"`+id+`"`)) {
				n++
			}
			return nil
		})
	})
	return n
}

// rotateTo is a policy that rotates every environment to sinks.
func rotateTo(grace vault.RevokeOld, sinks ...ghapi.SecretTarget) func(string) responder.Policy {
	return func(string) responder.Policy {
		return responder.Policy{Action: journal.Rotate, RevokeOld: grace, Deliver: sinks}
	}
}

func openJournal(t testing.TB, path string) *journal.Journal {
	t.Helper()
	j, err := journal.Open(path, journal.Options{Timeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return j
}

// newResponder wires a responder to the world; cfg fields set by the
// caller win.
func (w *world) responder(t testing.TB, j *journal.Journal, out *testkit.Buffer, mod func(*responder.Config)) *responder.Responder {
	t.Helper()
	cfg := responder.Config{
		Vault: w.vault(t), GitHub: w.github(t), Journal: j,
		Policy:    rotateTo("immediately", repoSink, envSink),
		IssueRepo: issueRepo, Labels: []string{"security"}, Repo: "acme/app", Out: out,
	}
	if mod != nil {
		mod(&cfg)
	}
	r, err := responder.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// leakIssues returns the issues of the issue repository marked with fp.
func (w *world) leakIssues(fp string) (open, closed []ghfake.Issue) {
	for _, is := range w.GH.Issues(issueRepo) {
		if !strings.Contains(is.Body, responder.Marker(fp)) {
			continue
		}
		if is.State == "open" {
			open = append(open, is)
		} else {
			closed = append(closed, is)
		}
	}
	return open, closed
}

// everything gathers every byte the responder may have written somewhere:
// output, issues, comments, journal and its key file, the sealed secrets.
func (w *world) everything(t testing.TB, out string, journalPaths ...string) []byte {
	t.Helper()
	var b bytes.Buffer
	b.WriteString(out)
	for _, is := range w.GH.Issues(issueRepo) {
		b.WriteString(is.Title + is.Body + strings.Join(is.Comments, ""))
	}
	for _, s := range w.GH.SealedSecrets() {
		b.WriteString(s)
	}
	for _, p := range journalPaths {
		for _, f := range []string{p, p + ".key"} {
			data, err := os.ReadFile(f)
			if err == nil {
				b.Write(data)
			}
		}
	}
	return b.Bytes()
}

func writeFindings(t testing.TB, path string, fs []finding.Finding) {
	t.Helper()
	data, err := json.Marshal(fs)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}
