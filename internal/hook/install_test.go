package hook

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/atomyx/atomyx-guard/internal/testkit"
)

func newRepo(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	testkit.Git(t, dir, "init", "-q", "-b", "main")
	return dir
}

const foreign = "#!/bin/sh\necho foreign-hook-ran\n"

func TestInstallUninstall(t *testing.T) {
	ctx := context.Background()
	const bin = "/opt/atomyx guard's/bin/atomyx-guard" // a space and a quote, to exercise quoting
	tests := []struct {
		name     string
		setup    func(t *testing.T, repo string) (hooksDir string)
		force    bool
		wantErr  error
		chained  bool // the foreign hook is chained after install
		replaced bool
		restored bool // uninstall puts the foreign hook back
	}{
		{
			name: "plain",
			setup: func(t *testing.T, repo string) string {
				return filepath.Join(repo, ".git", "hooks")
			},
		},
		{
			name: "core.hooksPath relative (Husky style)",
			setup: func(t *testing.T, repo string) string {
				testkit.Git(t, repo, "config", "core.hooksPath", ".husky/_")
				return filepath.Join(repo, ".husky", "_")
			},
		},
		{
			name: "core.hooksPath absolute",
			setup: func(t *testing.T, repo string) string {
				d := filepath.Join(t.TempDir(), "shared-hooks")
				testkit.Git(t, repo, "config", "core.hooksPath", d)
				return d
			},
		},
		{
			name: "existing hook is chained",
			setup: func(t *testing.T, repo string) string {
				d := filepath.Join(repo, ".git", "hooks")
				writeHook(t, filepath.Join(d, Name), foreign)
				return d
			},
			chained:  true,
			restored: true,
		},
		{
			name: "force replaces an existing hook",
			setup: func(t *testing.T, repo string) string {
				d := filepath.Join(repo, ".git", "hooks")
				writeHook(t, filepath.Join(d, Name), foreign)
				return d
			},
			force:    true,
			replaced: true,
		},
		{
			name: "chained slot taken",
			setup: func(t *testing.T, repo string) string {
				d := filepath.Join(repo, ".git", "hooks")
				writeHook(t, filepath.Join(d, Name), foreign)
				writeHook(t, filepath.Join(d, ChainedName), foreign)
				return d
			},
			wantErr: ErrForeignHook,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			repo := newRepo(t)
			dir := tt.setup(t, repo)
			res, err := Install(ctx, repo, Options{Force: tt.force, Binary: bin})
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("Install error = %v, want %v", err, tt.wantErr)
				}
				if got := readFile(t, filepath.Join(dir, Name)); got != foreign {
					t.Fatalf("foreign hook changed on a refused install:\n%s", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			hookPath := filepath.Join(dir, Name)
			if res.Hook != hookPath {
				t.Errorf("Hook = %q, want %q", res.Hook, hookPath)
			}
			got := readFile(t, hookPath)
			if !IsOurs([]byte(got)) || !strings.Contains(got, `'/opt/atomyx guard'\''s/bin/atomyx-guard'`) {
				t.Errorf("hook does not hold our marker and the quoted binary:\n%s", got)
			}
			if fi, err := os.Stat(hookPath); err != nil || fi.Mode()&0o111 == 0 {
				t.Errorf("hook not executable: %v %v", fi.Mode(), err)
			}
			if (res.Chained != "") != tt.chained {
				t.Errorf("Chained = %q, want chained=%v", res.Chained, tt.chained)
			}
			if tt.chained && readFile(t, filepath.Join(dir, ChainedName)) != foreign {
				t.Errorf("chained hook content changed")
			}
			if res.Replaced != tt.replaced {
				t.Errorf("Replaced = %v, want %v", res.Replaced, tt.replaced)
			}

			// Installing again refreshes ours and keeps the chain.
			again, err := Install(ctx, repo, Options{Binary: "/other/atomyx-guard"})
			if err != nil || !again.Updated || (again.Chained != "") != tt.chained {
				t.Fatalf("reinstall = %+v, %v", again, err)
			}
			if !strings.Contains(readFile(t, hookPath), "'/other/atomyx-guard'") {
				t.Errorf("reinstall did not record the new binary")
			}

			un, err := Uninstall(ctx, repo)
			if err != nil {
				t.Fatal(err)
			}
			if tt.restored {
				if readFile(t, hookPath) != foreign || un.Chained == "" {
					t.Errorf("uninstall did not restore the chained hook (%+v)", un)
				}
				if _, err := os.Stat(filepath.Join(dir, ChainedName)); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("chained file left behind: %v", err)
				}
			} else if _, err := os.Stat(hookPath); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("uninstall left the hook: %v", err)
			}
		})
	}
}

func TestUninstallLeavesForeignHook(t *testing.T) {
	repo := newRepo(t)
	p := filepath.Join(repo, ".git", "hooks", Name)
	writeHook(t, p, foreign)
	if _, err := Uninstall(context.Background(), repo); !errors.Is(err, ErrForeignHook) {
		t.Fatalf("err = %v, want ErrForeignHook", err)
	}
	if readFile(t, p) != foreign {
		t.Fatal("foreign hook changed")
	}
	os.Remove(p)
	if _, err := Uninstall(context.Background(), repo); err == nil {
		t.Fatal("uninstall with no hook: no error")
	}
}

func TestHooksDirFromSubdirectory(t *testing.T) {
	repo := newRepo(t)
	sub := filepath.Join(repo, "a", "b")
	if err := os.MkdirAll(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	testkit.Git(t, repo, "config", "core.hooksPath", "hooks-here")
	got, err := HooksDir(context.Background(), sub)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := filepath.EvalSymlinks(repo)
	if got != filepath.Join(want, "hooks-here") && got != filepath.Join(repo, "hooks-here") {
		t.Fatalf("HooksDir = %q, want %q", got, filepath.Join(repo, "hooks-here"))
	}
	if _, err := HooksDir(context.Background(), t.TempDir()); err == nil {
		t.Fatal("HooksDir outside a repository: no error")
	}
}

// The script is valid sh and refuses (exit 1, with a way on) when no
// binary can be found.
func TestScriptWithoutBinary(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, Name)
	writeHook(t, p, string(Script(filepath.Join(dir, "missing", "atomyx-guard"))))
	cmd := exec.Command(p)
	cmd.Env = []string{"PATH=" + dir} // no atomyx-guard on it
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("exit = %v, want 1; stderr:\n%s", err, stderr.String())
	}
	if !strings.Contains(stderr.String(), "--no-verify") {
		t.Errorf("no way on in:\n%s", stderr.String())
	}
}

func writeHook(t *testing.T, p, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o755); err != nil {
		t.Fatal(err)
	}
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
