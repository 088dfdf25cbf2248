package org

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// The git binary fetches a mirror at git's own speed and memory (go-git
// holds about ten times a pack's size while it indexes it, and takes three
// times as long). It runs hardened, as the scanner's git children do:
//
//   - no hooks (core.hooksPath=/dev/null: fetch runs reference-transaction
//     hooks), no system or global config, no credential helper, no
//     prompts, no askpass, no fsmonitor, no automatic gc or maintenance;
//   - no protocol but https, and http only when the clone URL is a
//     loopback one (GIT_ALLOW_PROTOCOL, protocol.allow), no redirects
//     (the token must not follow one);
//   - the remote is given as a URL on each fetch, never written in the
//     mirror's config, so the mirror holds no remote of its own;
//   - the token goes in an http.extraHeader set through GIT_CONFIG_COUNT,
//     GIT_CONFIG_KEY_0 and GIT_CONFIG_VALUE_0: it is in no argument (which
//     any local user can read in the process list), in no config file, and
//     in no error (git does not print request headers without GIT_TRACE_*,
//     which the child's environment does not have).

// gitArgs are the settings of every git child of a mirror.
var gitArgs = []string{
	"-c", "core.hooksPath=/dev/null",
	"-c", "core.fsmonitor=",
	"-c", "core.askPass=",
	"-c", "core.sshCommand=false",
	"-c", "credential.helper=",
	"-c", "protocol.allow=never",
	"-c", "http.followRedirects=false",
	"-c", "gc.auto=0",
	"-c", "maintenance.auto=false",
	"-c", "fetch.recurseSubmodules=false",
	"-c", "fetch.writeCommitGraph=false",
	"-c", "transfer.bundleURI=false",
}

// gitEnv is the environment of a mirror's git child: the process's
// without any GIT_* variable, and the settings that keep git from reading
// config, prompting or using another protocol. The token, if any, comes
// as the config entries of GIT_CONFIG_COUNT.
func gitEnv(protocols string, header string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "GIT_") || strings.HasPrefix(kv, "SSH_ASKPASS=") {
			continue
		}
		env = append(env, kv)
	}
	env = append(env,
		"GIT_CONFIG_NOSYSTEM=1",
		"GIT_CONFIG_GLOBAL="+os.DevNull,
		"GIT_TERMINAL_PROMPT=0",
		"GIT_ASKPASS=false", "SSH_ASKPASS=false",
		"GIT_SSH_COMMAND=false",
		"GIT_PROTOCOL_FROM_USER=0",
		"GIT_ALLOW_PROTOCOL="+protocols,
		"LC_ALL=C",
	)
	if header == "" {
		return append(env, "GIT_CONFIG_COUNT=0")
	}
	return append(env, "GIT_CONFIG_COUNT=1", "GIT_CONFIG_KEY_0=http.extraHeader", "GIT_CONFIG_VALUE_0="+header)
}

// gitFetch fetches every ref of u into the bare repository dir, creating
// it if needed, with the git binary at gitPath.
func (m *Mirror) gitFetch(ctx context.Context, gitPath, dir string, u *url.URL) error {
	if _, err := os.Stat(filepath.Join(dir, "HEAD")); err != nil {
		// A first fetch, or a mirror that lost its HEAD: start afresh.
		if err := os.RemoveAll(dir); err != nil {
			return fmt.Errorf("reset mirror: %w", err)
		}
		if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
			return fmt.Errorf("create mirror: %w", err)
		}
		if err := m.runGit(ctx, gitPath, "init", "", "", "init", "--bare", "-q", dir); err != nil {
			return fmt.Errorf("create mirror: %w", err)
		}
	}
	protocols := "https"
	if u.Scheme == "http" { // checkCloneURL let it through: a loopback host
		protocols = "http"
	}
	header := ""
	if m.auth(u) != nil {
		header = "Authorization: Basic " + base64.StdEncoding.EncodeToString([]byte("x-access-token:"+m.Token))
	}
	err := m.runGit(ctx, gitPath, "fetch", protocols, header, "--git-dir="+dir,
		"-c", "protocol."+protocols+".allow=always",
		"fetch", "--quiet", "--prune", "--force", "--no-tags", "--no-write-fetch-head", "--no-auto-gc",
		u.String(), fetchRefSpec)
	return err
}

// runGit runs one git child and returns its error with the tail of what
// it wrote to stderr (never the token: see the comment at the top).
func (m *Mirror) runGit(ctx context.Context, gitPath, what, protocols, header string, args ...string) error {
	if protocols == "" {
		protocols = "none"
	}
	cmd := exec.CommandContext(ctx, gitPath, append(append([]string{}, gitArgs...), args...)...)
	cmd.Env = gitEnv(protocols, header)
	cmd.Dir = os.TempDir()
	var stderr bytes.Buffer
	cmd.Stderr = &limitedBuffer{b: &stderr, max: 4096}
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		msg := strings.TrimSpace(stderr.String())
		if header != "" {
			msg = strings.ReplaceAll(msg, m.Token, "[token]")
		}
		if msg == "" {
			return fmt.Errorf("git %s: %w", what, err)
		}
		return fmt.Errorf("git %s: %s: %w", what, lastLine(msg), err)
	}
	return nil
}

func lastLine(s string) string {
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}

// limitedBuffer keeps the last max bytes written to it.
type limitedBuffer struct {
	b   *bytes.Buffer
	max int
}

func (l *limitedBuffer) Write(p []byte) (int, error) {
	n := len(p)
	l.b.Write(p)
	if over := l.b.Len() - l.max; over > 0 {
		rest := append([]byte(nil), l.b.Bytes()[over:]...)
		l.b.Reset()
		l.b.Write(rest)
	}
	return n, nil
}

// errNoGit says the git binary is not to be used.
var errNoGit = errors.New("no git binary")

// gitBinary returns the git executable to fetch with, or errNoGit.
func (m *Mirror) gitBinary() (string, error) {
	if m.NoGitBinary {
		return "", errNoGit
	}
	if m.gitPath != "" {
		return m.gitPath, nil
	}
	p, err := exec.LookPath("git")
	if err != nil {
		return "", errNoGit
	}
	return p, nil
}
