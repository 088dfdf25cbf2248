// Package testkit holds the helpers that tests across packages share: a
// fresh key from crypto/rand (never a key written into a test), and a real
// git repository made with the git CLI in a clean environment (no user or
// system configuration, fixed identities and dates, so that commit ids
// depend only on content), a buffer a running server and its test share,
// and a settable clock. Test code only; package vaulttest starts a local
// Vault.
package testkit

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/atomyx/atomyx-guard/patterns"
)

// NewKey returns a fresh key of env, from crypto/rand.
func NewKey(t testing.TB, env patterns.Environment) string {
	t.Helper()
	k, err := patterns.Generate(env)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// Sleeps records the waits a client asks for instead of waiting: its
// Sleep is what the Vault and GitHub clients take as their SleepFunc.
type Sleeps struct {
	mu    sync.Mutex
	waits []time.Duration
}

// Sleep records d and returns at once (with ctx's error, if any).
func (s *Sleeps) Sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	s.waits = append(s.waits, d)
	s.mu.Unlock()
	return ctx.Err()
}

// Waits returns the waits so far.
func (s *Sleeps) Waits() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.waits)
}

// Buffer is a bytes.Buffer that a running server (its log, its output)
// and the test reading it can share.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// Clock is a settable clock, for the Now of what a test runs (a Vault, a
// rotator), so that a grace period ends when the test says.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock starts at the current second.
func NewClock() *Clock { return &Clock{t: time.Now().UTC().Truncate(time.Second)} }

func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Add moves the clock on by d.
func (c *Clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// GitDate is the author and committer date of every GitRepo commit.
const GitDate = "2026-01-02T03:04:05Z"

// GitEnv is the environment GitRepo runs git in: the process's, without
// the user's or the system's git configuration, with fixed identities and
// dates. home is the HOME git sees.
func GitEnv(home string) []string {
	return append(os.Environ(),
		"HOME="+home,
		"GIT_AUTHOR_NAME=Dana Dev", "GIT_AUTHOR_EMAIL=dana@example.com", "GIT_AUTHOR_DATE="+GitDate,
		"GIT_COMMITTER_NAME=Dana Dev", "GIT_COMMITTER_EMAIL=dana@example.com", "GIT_COMMITTER_DATE="+GitDate,
		"GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL="+os.DevNull)
}

// Git runs git in dir, in GitEnv with a HOME of its own, and returns its
// trimmed output; a failure fails the test.
func Git(t testing.TB, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = GitEnv(t.TempDir())
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// GitRepo is a real repository made with the git CLI.
type GitRepo struct {
	t testing.TB
	// Dir is the work tree.
	Dir string
}

// NewGitRepo initialises a repository (branch main) in a temporary
// directory; the test is skipped where git is not installed.
func NewGitRepo(t testing.TB) *GitRepo {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git not installed")
	}
	r := &GitRepo{t: t, Dir: t.TempDir()}
	r.Git("init", "-q", "-b", "main")
	return r
}

// Git runs git in the repository and returns its trimmed output; a
// failure fails the test.
func (r *GitRepo) Git(args ...string) string {
	r.t.Helper()
	return Git(r.t, r.Dir, args...)
}

// Write writes a file of the work tree, making its directories.
func (r *GitRepo) Write(path, content string) {
	r.t.Helper()
	p := filepath.Join(r.Dir, path)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		r.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		r.t.Fatal(err)
	}
}

// Commit stages everything and commits (empty commits too); it returns
// the commit id.
func (r *GitRepo) Commit(msg string) string {
	r.t.Helper()
	r.Git("add", "-A")
	r.Git("commit", "-q", "--allow-empty", "-m", msg)
	return r.Git("rev-parse", "HEAD")
}
