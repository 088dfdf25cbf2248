package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"

	"github.com/atomyx/atomyx-guard/internal/vault"
	"github.com/atomyx/atomyx-guard/patterns"
	"github.com/atomyx/atomyx-guard/responder/journal"
)

// TestDirRespondWithoutGitHub: a laptop or a GitLab shop, the Vault's
// credentials only. `dir --respond` still reissues and revokes a live
// production key, seals the replacement (meant for a GitHub secret it
// cannot reach) to the operator's recipient, writes the incident file
// beside the journal, exits 1 for the leak, and a rerun changes nothing.
func TestDirRespondWithoutGitHub(t *testing.T) {
	w := newRespondWorld(t, "")
	delete(w.env, "GITHUB_TOKEN")
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	idFile := filepath.Join(w.dir, "operator.age")
	if err := os.WriteFile(idFile, []byte(id.String()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	src := t.TempDir()
	if err := os.WriteFile(filepath.Join(src, "app.env"), []byte("ATOMYX_API_KEY="+w.leaked+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, ".atomyx-guard.toml"), []byte(`
[respond]
recipient = "`+id.Recipient().String()+`"
[respond.environments.production]
action = "rotate"
deliver = ["github-secret:acme/app:ATOMYX_API_KEY"]
`), 0o600); err != nil {
		t.Fatal(err)
	}
	jpath := filepath.Join(w.dir, "state", "journal.db")
	inc := journal.IDFor(patterns.Fingerprint([]byte(w.leaked)))
	file := filepath.Join(w.dir, "state", "incidents", inc+".md")

	res := runCLI(t, w.env, "dir", src, "--respond", "--journal", jpath)
	if res.code != ExitLeaks {
		t.Fatalf("exit %d, want %d (the leak happened):\n%s", res.code, ExitLeaks, res.errOut)
	}
	if st := w.status(t, w.leaked); st != vault.StatusRevoked {
		t.Fatalf("the leaked key is %s, want revoked", st)
	}
	if !strings.Contains(res.errOut, "warning: GITHUB_TOKEN is not set") || !strings.Contains(res.errOut, "warning: no GitHub issue was opened") {
		t.Errorf("no warning that no issue was opened:\n%s", res.errOut)
	}
	if n := len(w.gh.Requests()); n != 0 {
		t.Fatalf("%d GitHub requests without a token", n)
	}

	shown := runCLI(t, w.env, "respond", "show", inc, "--journal", jpath, "--identity", idFile)
	lines := strings.Split(strings.TrimSpace(shown.out), "\n")
	replacement := lines[len(lines)-1]
	if shown.code != ExitClean || !patterns.Valid([]byte(replacement)) || w.status(t, replacement) != vault.StatusActive {
		t.Fatalf("respond show: exit %d: %s", shown.code, shown.errOut)
	}
	if !strings.Contains(shown.out, file) || !strings.Contains(shown.out, "incident file only") {
		t.Errorf("respond show does not name the incident file:\n%s", strings.Join(lines[:len(lines)-1], "\n"))
	}

	st, err := os.Stat(file)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("incident file: %v %v", st, err)
	}
	if dst, _ := os.Stat(filepath.Dir(file)); dst.Mode().Perm() != 0o700 {
		t.Fatalf("incident directory mode %v", dst.Mode().Perm())
	}
	data, _ := os.ReadFile(file)
	text := string(data)
	for _, want := range []string{
		"# Leaked Atomyx production key " + patterns.Redact([]byte(w.leaked)),
		"No GitHub issue was opened", "GITHUB_TOKEN is not set",
		"cannot be delivered to github-secret:acme/app:ATOMYX_API_KEY",
		"sealed the replacement to the operator's age recipient",
		"revoked the leaked key", "`app.env`", "respond show " + inc,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("incident file lacks %q:\n%s", want, text)
		}
	}

	hidden := runCLI(t, w.env, "respond", "show", inc, "--journal", jpath)
	again := runCLI(t, w.env, "dir", src, "--respond", "--journal", jpath)
	if again.code != ExitClean {
		t.Fatalf("rerun: exit %d: %s", again.code, again.errOut)
	}
	st2, _ := os.Stat(file)
	data2, _ := os.ReadFile(file)
	shown2 := runCLI(t, w.env, "respond", "show", inc, "--journal", jpath)
	ents, _ := os.ReadDir(filepath.Dir(file))
	if string(data2) != text || !st2.ModTime().Equal(st.ModTime()) || len(ents) != 1 || !strings.Contains(again.errOut, "unchanged") {
		t.Fatalf("the rerun changed the incident file or wrote another (%d files):\n%s", len(ents), again.errOut)
	}
	if hidden.out != shown2.out {
		t.Fatalf("the rerun changed the journal:\n%s\n---\n%s", hidden.out, shown2.out)
	}
	noWholeKey(t, []string{w.leaked, replacement}, res.out, res.errOut, again.out, again.errOut, text, shown2.out)
}
