package gitsource

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/atomyx/atomyx-guard/internal/finding"
	"github.com/atomyx/atomyx-guard/patterns"
	"github.com/atomyx/atomyx-guard/scanner"
)

// gitEnv is a clean environment for the git commands that build test
// repositories: no user or system config, fixed identities.
func gitEnv(home string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GIT_") && !strings.HasPrefix(kv, "HOME=") {
			env = append(env, kv)
		}
	}
	return append(env, "HOME="+home, "GIT_CONFIG_NOSYSTEM=1",
		"GIT_AUTHOR_NAME=A U Thor", "GIT_AUTHOR_EMAIL=author@example.com",
		"GIT_COMMITTER_NAME=C O Mitter", "GIT_COMMITTER_EMAIL=committer@example.com")
}

// tgit runs git in dir and returns its trimmed output.
func tgit(t testing.TB, dir string, args ...string) string {
	t.Helper()
	return tgitEnv(t, dir, nil, args...)
}

func tgitEnv(t testing.TB, dir string, extra []string, args ...string) string {
	t.Helper()
	cmd := tgitCmd(dir, args...)
	cmd.Env = append(cmd.Env, extra...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, redactAll(string(out)))
	}
	return strings.TrimSpace(string(out))
}

// tgitCmd is the git command tgit runs.
func tgitCmd(dir string, args ...string) *exec.Cmd {
	full := append([]string{"-c", "init.defaultBranch=main", "-c", "commit.gpgsign=false", "-c", "tag.gpgsign=false", "-c", "gc.auto=0", "-c", "core.autocrlf=false"}, args...)
	cmd := exec.Command("git", full...)
	cmd.Dir = dir
	cmd.Env = gitEnv(filepath.Dir(dir))
	return cmd
}

// tgitMay runs git and ignores failure (a merge that conflicts).
func tgitMay(t testing.TB, dir string, args ...string) {
	t.Helper()
	cmd := exec.Command("git", append([]string{"-c", "commit.gpgsign=false"}, args...)...)
	cmd.Dir = dir
	cmd.Env = gitEnv(filepath.Dir(dir))
	_ = cmd.Run()
}

// redactAll keeps whole keys out of test failure output.
func redactAll(s string) string {
	b := []byte(s)
	var out strings.Builder
	last := 0
	patterns.Find(b, 0, true, func(c patterns.Candidate) {
		out.Write(b[last:c.Start])
		out.WriteString(patterns.Redact(b[c.Start:c.End]))
		last = c.End
	})
	out.Write(b[last:])
	return out.String()
}

func write(t testing.TB, dir, name, content string) {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// commit writes files, stages everything and commits; it returns the id.
func commit(t testing.TB, dir, msg string, files ...string) string {
	t.Helper()
	for i := 0; i+1 < len(files); i += 2 {
		write(t, dir, files[i], files[i+1])
	}
	tgit(t, dir, "add", "-A")
	tgit(t, dir, "commit", "-q", "--allow-empty", "-m", msg)
	return tgit(t, dir, "rev-parse", "HEAD")
}

func initRepo(t testing.TB) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "work")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	tgit(t, dir, "init", "-q")
	return dir
}

// scanned is one scan's outcome.
type scanned struct {
	res      Result
	findings []finding.Finding
	byFP     map[string]finding.Finding
}

type setSink struct{ *finding.Set }

func (s setSink) Hit(h finding.Hit)           { s.Add(h) }
func (s setSink) NearMiss(n finding.NearMiss) { s.AddNearMiss(n) }

func scanRepo(t testing.TB, path string, opts Options, tweak ...func(*Repo)) scanned {
	t.Helper()
	r, err := Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for _, f := range tweak {
		f(r)
	}
	set := finding.NewSet()
	eng := &scanner.Engine{Detector: &scanner.Detector{}, Workers: 2}
	res, err := r.Scan(context.Background(), eng, opts, setSink{set})
	if err != nil {
		t.Fatalf("scan (%+v): %v", opts, err)
	}
	s := scanned{res: res, findings: set.Findings(), byFP: map[string]finding.Finding{}}
	for _, f := range s.findings {
		s.byFP[f.Fingerprint] = f
	}
	return s
}

// both runs a scan through the git binary and through go-git and checks
// that they agree on everything.
func both(t *testing.T, path string, opts Options, tweak ...func(*Repo)) scanned {
	t.Helper()
	bin := scanRepo(t, path, opts, tweak...)
	opts.NoGitBinary = true
	pure := scanRepo(t, path, opts, tweak...)
	if a, b := summary(bin), summary(pure); a != b {
		t.Errorf("git binary and go-git disagree:\n--- binary\n%s\n--- go-git\n%s", a, b)
	}
	return bin
}

func summary(s scanned) string {
	var b strings.Builder
	r := s.res
	b.WriteString(strings.Join([]string{"commits", itoa(r.Commits), "blobs", itoa(r.Blobs), "bytes", itoa(r.Bytes)}, " "))
	b.WriteString("\n")
	for _, f := range s.findings {
		b.WriteString(f.Redacted + "\n")
		for _, l := range f.Locations {
			b.WriteString("  " + locString(l) + "\n")
		}
	}
	for _, sk := range r.Skipped {
		b.WriteString("skip " + sk.Where + "\n")
	}
	return b.String()
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func locString(l finding.Location) string {
	s := l.Kind + " " + l.Path
	if l.Commit != "" {
		s += " @" + l.Commit[:10]
	}
	if l.Tag != "" {
		s += " tag=" + l.Tag
	}
	if l.Unreachable {
		s += " unreachable blob=" + l.Blob
	}
	s += " line=" + itoa(int64(l.Line)) + " col=" + itoa(int64(l.Column))
	s += " by=" + l.Author + " at=" + l.Date
	return s
}

func newEngine() *scanner.Engine {
	return &scanner.Engine{Detector: &scanner.Detector{}, Workers: 2}
}
