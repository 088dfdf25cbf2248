// Package orgtest serves real git repositories over smart HTTP on loopback
// (git http-backend under net/http/cgi), so that org scans are tested
// against real fetches: package org's tests and the CLI's share it.
package orgtest

import (
	"io"
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/atomyx/atomyx-guard/patterns"
)

// GitServer serves the bare repositories under Root at /OWNER/NAME.git.
type GitServer struct {
	*httptest.Server
	Root string
	// Token, when set, is required as basic auth x-access-token:Token.
	Token string
	// Authed and Anonymous count the requests that came with and without
	// credentials.
	Authed, Anonymous atomic.Int64
	home              string
}

// NewGitServer starts a server; it closes with the test.
func NewGitServer(tb testing.TB) *GitServer {
	tb.Helper()
	gitPath, err := exec.LookPath("git")
	if err != nil {
		tb.Skip("no git binary")
	}
	g := &GitServer{Root: tb.TempDir(), home: tb.TempDir()}
	backend := &cgi.Handler{
		Path: gitPath,
		Args: []string{"http-backend"},
		Env: []string{"GIT_PROJECT_ROOT=" + g.Root, "GIT_HTTP_EXPORT_ALL=1",
			"HOME=" + g.home, "GIT_CONFIG_NOSYSTEM=1"},
		Stderr: io.Discard, // "Not a git repository", corrupt objects: the tests expect them
	}
	g.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, pass, ok := r.BasicAuth()
		if ok {
			g.Authed.Add(1)
		} else {
			g.Anonymous.Add(1)
		}
		if g.Token != "" && (!ok || user != "x-access-token" || pass != g.Token) {
			w.Header().Set("WWW-Authenticate", `Basic realm="git"`)
			http.Error(w, "authentication required", http.StatusUnauthorized)
			return
		}
		backend.ServeHTTP(w, r)
	}))
	tb.Cleanup(g.Close)
	return g
}

// CloneURL is the URL of the repository "OWNER/NAME".
func (g *GitServer) CloneURL(fullName string) string { return g.URL + "/" + fullName + ".git" }

// Bare is the path of a repository's bare copy on the server.
func (g *GitServer) Bare(fullName string) string {
	return filepath.Join(g.Root, filepath.FromSlash(fullName)+".git")
}

// Work is a work tree whose refs are pushed to a served bare repository.
type Work struct {
	tb   testing.TB
	Dir  string
	bare string
}

// NewRepo creates the served repository fullName and a work tree for it.
func (g *GitServer) NewRepo(tb testing.TB, fullName string) *Work {
	tb.Helper()
	bare := g.Bare(fullName)
	if err := os.MkdirAll(bare, 0o755); err != nil {
		tb.Fatal(err)
	}
	Git(tb, bare, "init", "-q", "--bare")
	dir := filepath.Join(tb.TempDir(), "work")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		tb.Fatal(err)
	}
	Git(tb, dir, "init", "-q")
	return &Work{tb: tb, Dir: dir, bare: bare}
}

// Commit writes files (name, content pairs), commits everything and
// pushes every branch and tag; it returns the commit id.
func (w *Work) Commit(msg string, files ...string) string {
	w.tb.Helper()
	for i := 0; i+1 < len(files); i += 2 {
		p := filepath.Join(w.Dir, files[i])
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			w.tb.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(files[i+1]), 0o644); err != nil {
			w.tb.Fatal(err)
		}
	}
	Git(w.tb, w.Dir, "add", "-A")
	Git(w.tb, w.Dir, "commit", "-q", "--allow-empty", "-m", msg)
	w.Push()
	return Git(w.tb, w.Dir, "rev-parse", "HEAD")
}

// Git runs git in the work tree.
func (w *Work) Git(args ...string) string {
	w.tb.Helper()
	return Git(w.tb, w.Dir, args...)
}

// Push mirrors the work tree's branches and tags to the served repository.
func (w *Work) Push() {
	w.tb.Helper()
	Git(w.tb, w.Dir, "push", "-q", "-f", "--prune", w.bare, "refs/heads/*:refs/heads/*", "refs/tags/*:refs/tags/*")
}

// Git runs git in dir with no user or system configuration and returns
// its trimmed output; a failure fails the test with the output scrubbed of
// keys.
func Git(tb testing.TB, dir string, args ...string) string {
	tb.Helper()
	full := append([]string{"-c", "init.defaultBranch=main", "-c", "commit.gpgsign=false",
		"-c", "tag.gpgsign=false", "-c", "gc.auto=0", "-c", "core.autocrlf=false"}, args...)
	cmd := exec.Command("git", full...)
	cmd.Dir = dir
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GIT_") && !strings.HasPrefix(kv, "HOME=") {
			env = append(env, kv)
		}
	}
	cmd.Env = append(env, "HOME="+filepath.Dir(dir), "GIT_CONFIG_NOSYSTEM=1",
		"GIT_AUTHOR_NAME=A U Thor", "GIT_AUTHOR_EMAIL=author@example.com",
		"GIT_COMMITTER_NAME=C O Mitter", "GIT_COMMITTER_EMAIL=committer@example.com")
	out, err := cmd.CombinedOutput()
	if err != nil {
		tb.Fatalf("git %s in %s: %v\n%s", args[0], dir, err, patterns.Scrub(string(out)))
	}
	return strings.TrimSpace(string(out))
}
