package hook

import (
	"context"
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
	runGit(t, dir, "config", "--add", "include.path", "/proc/self/fd/2")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := HooksDir(ctx, dir); err == nil || ctx.Err() != nil {
		t.Fatalf("want the hung git stopped at its deadline, got %v (ctx %v)", err, ctx.Err())
	}

	runGit(t, dir, "config", "--unset-all", "include.path")
	key, err := patterns.Generate(patterns.Production)
	if err != nil {
		t.Fatal(err)
	}
	_, err = git(ctx, dir, "rev-parse", "--verify", "refs/heads/"+key)
	if err == nil || strings.Contains(err.Error(), key) {
		t.Errorf("git error carries the whole key: %v", err != nil)
	}
}
