package hook

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/atomyx/atomyx-guard/patterns"
)

// Names of the files the hook lives in, inside the hooks directory.
const (
	Name        = "pre-commit"
	ChainedName = "pre-commit.atomyx-guard-chained"
	// Marker is the line that tells our hook from anyone else's.
	Marker = "# atomyx-guard-managed-hook v1"
)

// Options shape Install.
type Options struct {
	// Force replaces a pre-commit hook that is not ours instead of
	// chaining it. A hook already chained stays chained.
	Force bool
	// Binary is recorded in the hook as the fallback when atomyx-guard is
	// not on PATH at commit time. Empty means the running executable.
	Binary string
}

// Result says what Install or Uninstall did.
type Result struct {
	// Hook is the pre-commit hook's path.
	Hook string
	// Chained is the path of the existing hook that ours runs first (after
	// Install), or that was put back (after Uninstall); empty when none.
	Chained string
	// Replaced is set when --force overwrote a foreign hook.
	Replaced bool
	// Updated is set when our own hook was already there and was rewritten.
	Updated bool
}

// ErrForeignHook is returned by Uninstall when the pre-commit hook is not
// atomyx-guard's, and by Install when a chained hook is already in the way.
var ErrForeignHook = errors.New("pre-commit hook is not atomyx-guard's")

// HooksDir returns the absolute directory git runs repo's hooks from:
// core.hooksPath when set, else the repository's (common) hooks directory.
// repo is any directory inside the work tree. Running git is fine here:
// this is the user's own repository, not a scanned one.
func HooksDir(ctx context.Context, repo string) (string, error) {
	out, err := git(ctx, repo, "rev-parse", "--path-format=absolute", "--git-path", "hooks")
	if err != nil {
		// git before 2.31 has no --path-format; the plain answer is
		// relative to the directory git ran in.
		out, err = git(ctx, repo, "rev-parse", "--git-path", "hooks")
		if err != nil {
			return "", err
		}
	}
	if !filepath.IsAbs(out) {
		abs, err := filepath.Abs(filepath.Join(repo, out))
		if err != nil {
			return "", fmt.Errorf("hooks directory: %w", err)
		}
		out = abs
	}
	return filepath.Clean(out), nil
}

// gitTimeout bounds the hook's git children: they read a few files, and a
// repository's config must not make them hang (include.path naming a
// FIFO).
var gitTimeout = 30 * time.Second

// git runs in the user's repository, whose config it must read
// (core.hooksPath), but it never reaches the network nor prompts (no
// transport allowed, no lazy fetch), reads stdin from /dev/null and is
// killed at gitTimeout; its error is masked like every other output.
func git(ctx context.Context, dir string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, gitTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "git", append([]string{"-C", dir}, args...)...)
	cmd.Env = append(os.Environ(),
		"GIT_ALLOW_PROTOCOL=none", "GIT_NO_LAZY_FETCH=1", "GIT_TERMINAL_PROMPT=0",
		"GIT_SSH_COMMAND=false", "GIT_ASKPASS=false", "SSH_ASKPASS=false",
		"GIT_OPTIONAL_LOCKS=0")
	cmd.WaitDelay = 5 * time.Second
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		msg := strings.TrimSpace(stderr.String())
		if ctx.Err() != nil {
			msg = fmt.Sprintf("did not finish within %s", gitTimeout)
		}
		if msg == "" {
			msg = err.Error()
		}
		if len(msg) > 2048 {
			msg = msg[len(msg)-2048:]
		}
		return "", errors.New(patterns.RedactRuns(fmt.Sprintf("git %s in %s: %s", strings.Join(args, " "), dir, msg)))
	}
	return strings.TrimSpace(string(out)), nil
}

// IsOurs reports whether the hook script content is atomyx-guard's.
func IsOurs(content []byte) bool {
	return bytes.Contains(content, []byte("\n"+Marker+"\n"))
}

// Install writes atomyx-guard's pre-commit hook into repo's hooks
// directory. A foreign hook is renamed to ChainedName and run first, unless
// o.Force; our own hook is rewritten in place (the binary path refreshed).
func Install(ctx context.Context, repo string, o Options) (Result, error) {
	dir, err := HooksDir(ctx, repo)
	if err != nil {
		return Result{}, err
	}
	bin := o.Binary
	if bin == "" {
		if bin, err = os.Executable(); err != nil {
			return Result{}, fmt.Errorf("find own executable: %w", err)
		}
	}
	if abs, err := filepath.Abs(bin); err == nil {
		bin = abs
	}
	if real, err := filepath.EvalSymlinks(bin); err == nil {
		bin = real
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return Result{}, fmt.Errorf("create hooks directory: %w", err)
	}
	res := Result{Hook: filepath.Join(dir, Name)}
	chained := filepath.Join(dir, ChainedName)

	old, err := os.ReadFile(res.Hook)
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return res, fmt.Errorf("read existing hook: %w", err)
	case IsOurs(old):
		res.Updated = true
	case o.Force:
		res.Replaced = true
	default:
		if exists(chained) {
			return res, fmt.Errorf("%w: %s exists and so does %s; move one away or use --force to replace %s",
				ErrForeignHook, res.Hook, chained, Name)
		}
		if err := os.Rename(res.Hook, chained); err != nil {
			return res, fmt.Errorf("chain existing hook: %w", err)
		}
	}
	if exists(chained) {
		res.Chained = chained
	}
	if err := writeFileAtomic(res.Hook, Script(bin), 0o755); err != nil {
		return res, err
	}
	return res, nil
}

// Uninstall removes atomyx-guard's pre-commit hook and puts a chained hook
// back in its place. A hook that is not ours is left alone (ErrForeignHook).
func Uninstall(ctx context.Context, repo string) (Result, error) {
	dir, err := HooksDir(ctx, repo)
	if err != nil {
		return Result{}, err
	}
	res := Result{Hook: filepath.Join(dir, Name)}
	chained := filepath.Join(dir, ChainedName)
	cur, err := os.ReadFile(res.Hook)
	switch {
	case errors.Is(err, os.ErrNotExist):
		if exists(chained) {
			// Someone removed our hook by hand: still restore theirs.
			if err := os.Rename(chained, res.Hook); err != nil {
				return res, fmt.Errorf("restore chained hook: %w", err)
			}
			res.Chained = res.Hook
			return res, nil
		}
		return res, fmt.Errorf("no pre-commit hook at %s", res.Hook)
	case err != nil:
		return res, fmt.Errorf("read hook: %w", err)
	case !IsOurs(cur):
		return res, fmt.Errorf("%w: leaving %s as it is", ErrForeignHook, res.Hook)
	}
	if exists(chained) {
		// Rename over ours in one step: there is never a moment without
		// the user's hook.
		if err := os.Rename(chained, res.Hook); err != nil {
			return res, fmt.Errorf("restore chained hook: %w", err)
		}
		res.Chained = res.Hook
		return res, nil
	}
	if err := os.Remove(res.Hook); err != nil {
		return res, fmt.Errorf("remove hook: %w", err)
	}
	return res, nil
}

func exists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}

func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("write hook: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write hook: %w", err)
	}
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return fmt.Errorf("write hook: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write hook: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write hook: %w", err)
	}
	return nil
}

// Script returns the pre-commit hook, with bin as the fallback binary.
func Script(bin string) []byte {
	q := shellQuote(bin)
	return []byte(`#!/bin/sh
` + Marker + `
# Installed by 'atomyx-guard hook install': blocks a commit whose staged
# changes hold an Atomyx API key. 'atomyx-guard hook uninstall' removes it and
# puts back any hook it chained. Skip it once with 'git commit --no-verify'.

# A hook that was here before runs first, so that the scan sees what it staged.
case $0 in */*) hookdir=${0%/*} ;; *) hookdir=. ;; esac
chained="$hookdir/` + ChainedName + `"
if [ -x "$chained" ]; then
	"$chained" "$@" || exit $?
fi

guard=$(command -v atomyx-guard 2>/dev/null)
if [ -z "$guard" ] && [ -x ` + q + ` ]; then
	guard=` + q + `
fi
if [ -z "$guard" ]; then
	echo "atomyx-guard: not on PATH and not at "` + q + `"; the commit is blocked so that it does not go in unchecked." >&2
	echo "Install atomyx-guard, or run 'atomyx-guard hook uninstall', or skip once with 'git commit --no-verify'." >&2
	exit 1
fi
exec "$guard" git --staged
`)
}

// shellQuote quotes s for a POSIX shell: single quotes, with each embedded
// single quote closed, escaped and reopened.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
