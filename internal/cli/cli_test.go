package cli

import (
	"bytes"
	"context"
	"flag"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/atomyx/atomyx-guard/patterns"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata/")

// result is what one command line did.
type result struct {
	code        int
	out, errOut string
}

// runCLI runs one command line in-process, with env as the only
// environment.
func runCLI(t *testing.T, env map[string]string, args ...string) result {
	t.Helper()
	var out, errOut bytes.Buffer
	sys := &IO{
		In: strings.NewReader(""), Out: &out, Err: &errOut,
		Getenv:     func(k string) string { return env[k] },
		IsTerminal: func(io.Writer) bool { return false },
		// Retries happen, but wait no real time.
		Sleep: func(ctx context.Context, _ time.Duration) error { return ctx.Err() },
	}
	code := Run(context.Background(), args, sys)
	return result{code, out.String(), errOut.String()}
}

// newKey returns a fresh key from crypto/rand.
func newKey(t *testing.T, env patterns.Environment) string {
	t.Helper()
	k, err := patterns.Generate(env)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// gitRepo is a real repository made with the git CLI, with fixed
// identities and dates so that commit ids depend only on content.
type gitRepo struct {
	t    *testing.T
	dir  string
	tick int
}

func newGitRepo(t *testing.T) *gitRepo {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git not installed")
	}
	r := &gitRepo{t: t, dir: t.TempDir()}
	r.git("init", "-q", "-b", "main")
	return r
}

func (r *gitRepo) git(args ...string) string {
	r.t.Helper()
	r.tick++
	date := "2026-01-02T03:04:05Z"
	cmd := exec.Command("git", args...)
	cmd.Dir = r.dir
	cmd.Env = append(os.Environ(),
		"GIT_AUTHOR_NAME=Dana Dev", "GIT_AUTHOR_EMAIL=dana@example.com", "GIT_AUTHOR_DATE="+date,
		"GIT_COMMITTER_NAME=Dana Dev", "GIT_COMMITTER_EMAIL=dana@example.com", "GIT_COMMITTER_DATE="+date,
		"GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null")
	out, err := cmd.CombinedOutput()
	if err != nil {
		r.t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

func (r *gitRepo) write(path, content string) {
	r.t.Helper()
	p := filepath.Join(r.dir, path)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		r.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		r.t.Fatal(err)
	}
}

func (r *gitRepo) commit(msg string) string {
	r.t.Helper()
	r.git("add", "-A")
	r.git("commit", "-q", "--allow-empty", "-m", msg)
	return r.git("rev-parse", "HEAD")
}

// noWholeKey fails when any of keys appears in any of outputs.
func noWholeKey(t *testing.T, keys []string, outputs ...string) {
	t.Helper()
	for _, k := range keys {
		if len(k) != patterns.KeyLen {
			continue
		}
		for _, o := range outputs {
			if strings.Contains(o, k) || strings.Contains(o, k[patterns.RedactedLen:]) {
				t.Fatalf("a whole key (or its secret tail) reached the output %q…", patterns.Redact([]byte(k)))
			}
		}
	}
}
