package hook

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/atomyx/atomyx-guard/patterns"
)

// TestHooksDirBoundedAndMasked: a repository config that makes git read
// forever (include.path naming the stderr pipe) cannot hang the hook's git,
// and git's error never carries a whole key.
func TestHooksDirBoundedAndMasked(t *testing.T) {
	old := gitTimeout
	gitTimeout = 2 * time.Second
	defer func() { gitTimeout = old }()

	dir := newRepo(t)
	cfg := filepath.Join(dir, ".git", "config")
	clean, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	// Written by hand: the test's own git would hang on it too.
	if err := os.WriteFile(cfg, append(append([]byte{}, clean...), "[include]\n\tpath = /proc/self/fd/2\n"...), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := HooksDir(ctx, dir); err == nil || ctx.Err() != nil {
		t.Fatalf("want the hung git stopped at its deadline, got %v (ctx %v)", err, ctx.Err())
	}

	if err := os.WriteFile(cfg, clean, 0o644); err != nil {
		t.Fatal(err)
	}
	key, err := patterns.Generate(patterns.Production)
	if err != nil {
		t.Fatal(err)
	}
	_, err = git(ctx, dir, "rev-parse", "--verify", "refs/heads/"+key)
	if err == nil || strings.Contains(err.Error(), key) {
		t.Errorf("git error carries the whole key: %v", err != nil)
	}
}
