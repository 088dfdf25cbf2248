package cli

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/atomyx/atomyx-guard/internal/hook"
)

func TestHookCommand(t *testing.T) {
	repo := t.TempDir()
	if out, err := exec.Command("git", "init", "-q", repo).CombinedOutput(); err != nil {
		t.Fatalf("git init: %v\n%s", err, out)
	}
	hooks := filepath.Join(repo, ".git", "hooks")
	if err := os.WriteFile(filepath.Join(hooks, hook.Name), []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) (int, string) {
		var out, errb bytes.Buffer
		code := Run(context.Background(), args, &IO{Out: &out, Err: &errb, Getwd: repo, Getenv: func(string) string { return "" }})
		return code, out.String() + errb.String()
	}
	tests := []struct {
		args     []string
		wantCode int
		wantOut  string
	}{
		{[]string{"hook", "install"}, ExitClean, "runs first"},
		{[]string{"hook", "install", repo}, ExitClean, "Updated"},
		{[]string{"hook", "uninstall", "."}, ExitClean, "restored the chained one"},
		{[]string{"hook", "uninstall"}, ExitError, "not atomyx-guard's"},
		{[]string{"hook", "install", "--force"}, ExitClean, "Replaced"},
		{[]string{"hook", "uninstall"}, ExitClean, "Removed"},
		{[]string{"hook", "install", t.TempDir()}, ExitError, "git rev-parse"},
	}
	for _, tt := range tests {
		code, out := run(tt.args...)
		if code != tt.wantCode || !strings.Contains(out, tt.wantOut) {
			t.Errorf("%v: exit %d, output %q; want exit %d and %q", tt.args, code, out, tt.wantCode, tt.wantOut)
		}
	}
}
