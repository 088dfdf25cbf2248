package commitfile

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/atomyx/atomyx-guard/internal/finding"
)

func git(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", append([]string{"-C", dir}, args...)...)
	cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null",
		"GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.invalid", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.invalid")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

func commit(t *testing.T, dir, msg string, files map[string]string, remove ...string) string {
	t.Helper()
	for name, body := range files {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range remove {
		git(t, dir, "rm", "-q", name)
	}
	git(t, dir, "add", "-A")
	git(t, dir, "commit", "-q", "--allow-empty", "-m", msg)
	return git(t, dir, "rev-parse", "HEAD")
}

// TestResolver: a message finding goes on a file its commit changed,
// preferring one HEAD still has; nothing for a commit that changed
// nothing, is not there, or is not a commit id.
func TestResolver(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git not installed")
	}
	dir := t.TempDir()
	git(t, dir, "init", "-q", "-b", "main")
	root := commit(t, dir, "root", map[string]string{"README.md": "hi\n"})
	both := commit(t, dir, "two files", map[string]string{"a/gone.txt": "x\n", "b/kept.txt": "y\n"})
	empty := commit(t, dir, "nothing", nil)
	commit(t, dir, "remove one", nil, "a/gone.txt")

	file := Resolver(context.Background(), dir)
	for _, tt := range []struct {
		name, commit, want string
	}{
		{"root commit", root, "README.md"},
		{"prefers a file HEAD has", both, "b/kept.txt"},
		{"changed nothing", empty, ""},
		{"not in the repository", strings.Repeat("e", 40), ""},
		{"not a commit id", "--output=/tmp/x", ""},
		{"short id", root[:12], ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			l := finding.Location{Source: finding.SourceGit, Kind: finding.KindCommitMessage, Commit: tt.commit}
			if got := file(l); got != tt.want {
				t.Errorf("file(%s) = %q, want %q", tt.commit, got, tt.want)
			}
		})
	}
	// A commit whose files are all gone still names one.
	only := commit(t, dir, "temp", map[string]string{"tmp.txt": "z\n"})
	commit(t, dir, "drop", nil, "tmp.txt")
	if got := Resolver(context.Background(), dir)(finding.Location{Commit: only}); got != "tmp.txt" {
		t.Errorf("gone file: %q", got)
	}
}
