package gitsource

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FileAt reads a file as a commit has it, not as the work tree has it, and
// refuses what is not a small regular file.
func TestFileAt(t *testing.T) {
	dir := initRepo(t)
	base := commit(t, dir, "base", "policy.toml", "old\n", "sub/x.txt", "in a subdirectory\n", "big", strings.Repeat("x", 100))
	if err := os.Symlink("/proc/self/environ", filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	head := commit(t, dir, "head", "policy.toml", "new\n")
	write(t, dir, "policy.toml", "work tree\n")

	ctx := context.Background()
	r, err := Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ rev, path, want string }{
		{base, "policy.toml", "old\n"},
		{head, "policy.toml", "new\n"},
		{"HEAD~1", "policy.toml", "old\n"},
		{"main", "sub/x.txt", "in a subdirectory\n"},
	} {
		b, err := r.FileAt(ctx, tt.rev, tt.path, 1<<20)
		if err != nil || string(b) != tt.want {
			t.Errorf("FileAt(%s, %s) = %q, %v; want %q", tt.rev, tt.path, b, err, tt.want)
		}
	}
	if _, err := r.FileAt(ctx, base, "nope.toml", 1<<20); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %v, want fs.ErrNotExist", err)
	}
	if _, err := r.FileAt(ctx, head, "link", 1<<20); err == nil || errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a symbolic link was read: %v", err)
	}
	if _, err := r.FileAt(ctx, head, "sub", 1<<20); err == nil {
		t.Error("a tree was read as a file")
	}
	if _, err := r.FileAt(ctx, head, "big", 99); !errors.Is(err, ErrTooLarge) {
		t.Errorf("over the limit: %v, want ErrTooLarge", err)
	}
	if _, err := r.FileAt(ctx, "no-such-rev", "policy.toml", 1<<20); err == nil {
		t.Error("unknown revision read")
	}
}
