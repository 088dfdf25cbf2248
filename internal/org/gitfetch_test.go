package org

import (
	"encoding/base64"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// gitSpy is a git that logs its arguments and the names of its GIT_*
// environment to a file, then runs the real one.
func gitSpy(t *testing.T) (path, log string) {
	t.Helper()
	real, err := exec.LookPath("git")
	if err != nil {
		t.Skip("no git binary")
	}
	dir := t.TempDir()
	log = filepath.Join(dir, "calls.log")
	path = filepath.Join(dir, "git")
	script := "#!/bin/sh\nprintf '%s\\n' \"$*\" >>" + log + "\nenv | grep '^GIT_' | sed 's/=.*//' >>" + log + "\nexec " + real + " \"$@\"\n"
	if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return path, log
}

// TestGitBinaryFetch: with a git binary, mirrors are fetched with it, the
// token reaches the server, and it is in no argument, no config file of
// the mirror and nothing git was given besides the environment; without
// one (NoGitBinary), go-git fetches the same.
func TestGitBinaryFetch(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	k := f.key(t)
	f.repo(t, "private").Commit("leak", "k.txt", k+"\n")
	const token = "ghs_spy-token"
	f.git.Token = token
	spy, log := gitSpy(t)
	res := f.run(t, func(s *Scanner) {
		s.Mirror.Token, s.Mirror.TokenHosts = token, TokenHosts(f.gh.URL())
		s.Mirror.gitPath = spy
	})
	if res.Scanned != 1 || len(byKey(res, k)) != 1 || f.git.Authed.Load() == 0 {
		t.Fatalf("with the git binary\n%s", dump(res))
	}
	calls, err := os.ReadFile(log)
	if err != nil || !strings.Contains(string(calls), "fetch") || !strings.Contains(string(calls), "GIT_CONFIG_VALUE_0") {
		t.Fatalf("git not used for the fetch, or no header given: %v\n%s", err, calls)
	}
	b64 := base64.StdEncoding.EncodeToString([]byte("x-access-token:" + token))
	for _, secret := range []string{token, b64} {
		if strings.Contains(string(calls), secret) {
			t.Errorf("token in git's arguments:\n%s", calls)
		}
	}
	mirror := filepath.Join(f.cache, "repos", "acme", "private.git")
	filepath.WalkDir(mirror, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.Contains(p, string(filepath.Separator)+"objects"+string(filepath.Separator)) {
			return err
		}
		b, _ := os.ReadFile(p)
		if strings.Contains(string(b), token) || strings.Contains(string(b), b64) {
			t.Errorf("token in the mirror's %s", p)
		}
		return nil
	})
	if cfg, _ := os.ReadFile(filepath.Join(mirror, "config")); strings.Contains(string(cfg), "[remote") {
		t.Errorf("mirror config names a remote:\n%s", cfg)
	}

	// A new commit arrives with an incremental git fetch, which runs no
	// hook, not even one planted in the mirror.
	ran := filepath.Join(t.TempDir(), "hook-ran")
	hook := "#!/bin/sh\ntouch " + ran + "\n"
	if err := os.WriteFile(filepath.Join(mirror, "hooks", "reference-transaction"), []byte(hook), 0o755); err != nil {
		t.Fatal(err)
	}
	k2 := f.key(t)
	f.repo(t, "private").Commit("leak 2", "k2.txt", k2+"\n")
	res = f.run(t, func(s *Scanner) {
		s.Mirror.Token, s.Mirror.TokenHosts = token, TokenHosts(f.gh.URL())
		s.Mirror.gitPath = spy
	})
	if len(byKey(res, k2)) != 1 {
		t.Fatalf("incremental git fetch\n%s", dump(res))
	}
	if _, err := os.Stat(ran); err == nil {
		t.Error("a hook in the mirror ran during the fetch")
	}

	// go-git, forced, fetches into a mirror git made.
	k3 := f.key(t)
	f.repo(t, "private").Commit("leak 3", "k3.txt", k3+"\n")
	res = f.run(t, func(s *Scanner) {
		s.Mirror.Token, s.Mirror.TokenHosts = token, TokenHosts(f.gh.URL())
		s.Mirror.NoGitBinary = true
		s.Mirror.gitPath = spy
	})
	if len(byKey(res, k3)) != 1 {
		t.Fatalf("go-git fallback\n%s", dump(res))
	}
}

// TestGitEnvProtocols: the git child allows only https
// (and http to a loopback host, which the URL check already demands).
func TestGitEnvProtocols(t *testing.T) {
	env := strings.Join(gitEnv("https", ""), "\n")
	for _, want := range []string{"GIT_ALLOW_PROTOCOL=https", "GIT_TERMINAL_PROMPT=0", "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_COUNT=0"} {
		if !strings.Contains(env, want) {
			t.Errorf("environment lacks %s", want)
		}
	}
	t.Setenv("GIT_CONFIG_PARAMETERS", "'core.hooksPath'='/tmp/evil'")
	t.Setenv("GIT_DIR", "/tmp/elsewhere")
	if env := strings.Join(gitEnv("https", ""), "\n"); strings.Contains(env, "evil") || strings.Contains(env, "elsewhere") {
		t.Errorf("inherited GIT_* variables reach git:\n%s", env)
	}
}
