package filesource_test

import (
	"context"
	"github.com/atomyx/atomyx-guard/internal/testkit"
	"github.com/atomyx/atomyx-guard/patterns"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/atomyx/atomyx-guard/scanner"
	"github.com/atomyx/atomyx-guard/scanner/filesource"
)

func hasReason(res *result, sub string) bool {
	for _, r := range res.reasons() {
		if strings.Contains(r, sub) {
			return true
		}
	}
	return false
}

func needProc(t *testing.T) {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip("needs Linux /proc")
	}
	if _, err := os.Stat("/proc/self/environ"); err != nil {
		t.Skipf("no /proc here: %v", err)
	}
}

// TestOwnEnvironmentIsNeverRead is issue 9's case: a symlink to
// /proc/self/environ made dir report the scanner's own ATOMYX_API_KEY.
func TestOwnEnvironmentIsNeverRead(t *testing.T) {
	needProc(t)
	t.Setenv("ATOMYX_API_KEY", testkit.NewKey(t, patterns.Production))
	dir := t.TempDir()
	symlink(t, "/proc/self/environ", filepath.Join(dir, "env"))
	symlink(t, "/proc/self", filepath.Join(dir, "self"))
	symlink(t, "/sys/kernel", filepath.Join(dir, "kernel"))
	for _, tt := range []struct {
		name   string
		src    *filesource.Source
		reason string
	}{
		{"default: not followed out of the root", &filesource.Source{Roots: []string{dir}}, "/proc"},
		{"--follow-symlinks: still never read", &filesource.Source{Roots: []string{dir}, FollowSymlinks: true}, "/proc"},
		{"named as a root", &filesource.Source{Roots: []string{"/proc/self/environ"}}, "/proc"},
		{"a root through a symlink", &filesource.Source{Roots: []string{filepath.Join(dir, "env")}}, "/proc"},
		{"a directory root under /proc", &filesource.Source{Roots: []string{"/proc/self"}}, "/proc"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			res, _ := run(t, tt.src)
			if len(res.hits) != 0 {
				t.Fatalf("read the scanner's own environment: %d hits at %q", len(res.hits), res.found())
			}
			if !hasReason(res, tt.reason) {
				t.Errorf("no skip saying %q: %q", tt.reason, res.reasons())
			}
		})
	}
}

func TestSymlinkOutOfTheRoot(t *testing.T) {
	outside := t.TempDir()
	k := testkit.NewKey(t, patterns.Production)
	write(t, filepath.Join(outside, "secret.env"), []byte("K="+k+"\n"))
	write(t, filepath.Join(outside, "sub", "deep.env"), []byte("K="+k+"\n"))
	dir := t.TempDir()
	write(t, filepath.Join(dir, "inside.env"), []byte("K="+k+"\n"))
	symlink(t, filepath.Join(outside, "secret.env"), filepath.Join(dir, "out.env"))
	symlink(t, filepath.Join(outside, "secret.env"), filepath.Join(dir, "out-again.env"))
	symlink(t, "inside.env", filepath.Join(dir, "alias.env"))
	symlink(t, filepath.Join(outside, "sub"), filepath.Join(dir, "outdir"))

	src := &filesource.Source{Roots: []string{dir}}
	res, _ := run(t, src)
	if got := strings.Join(res.found(), ","); got != "alias.env,inside.env" {
		t.Errorf("default walk found %s, want only the files inside the root", got)
	}
	if !hasReason(res, "out.env: symlink to outside the scanned directory") {
		t.Errorf("skips %q", res.reasons())
	}

	src = &filesource.Source{Roots: []string{dir}, FollowSymlinks: true}
	res, _ = run(t, src)
	if got := strings.Join(res.found(), ","); got != "alias.env,inside.env,out-again.env,outdir/deep.env" {
		t.Errorf("--follow-symlinks found %s", got)
	}
	if st := src.Stats(); st.Revisits != 1 {
		t.Errorf("the second link to one file outside was read again: %+v", st)
	}
}

// TestLinkSwappedAfterListing: the walk checks a link's target when it
// lists it; a worker opens it later. A link pointed elsewhere in between
// is refused, not read.
func TestLinkSwappedAfterListing(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "a.env"), []byte("a"))
	write(t, filepath.Join(dir, "b.env"), []byte("b"))
	link := filepath.Join(dir, "link")
	symlink(t, "a.env", link)
	var item scanner.Item
	err := (&filesource.Source{Roots: []string{dir}}).Items(context.Background(), func(it scanner.Item) error {
		if it.Loc.Path == "link" {
			item = it
		}
		return nil
	})
	if err != nil || item.Open == nil {
		t.Fatalf("no item for the link: %v", err)
	}
	os.Remove(link)
	symlink(t, "b.env", link)
	if rc, err := item.Open(); err == nil {
		rc.Close()
		t.Fatal("opened a link that was pointed elsewhere after the walk checked it")
	}
}

// TestFollowSymlinksToRootStaysBounded: --follow-symlinks with a link to /
// ends within its byte and time budgets, enters each directory once, and
// says what it stopped.
func TestFollowSymlinksToRootStaysBounded(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("unix layout")
	}
	dir := t.TempDir()
	write(t, filepath.Join(dir, "a.txt"), []byte("hello"))
	symlink(t, "/", filepath.Join(dir, "root"))
	symlink(t, ".", filepath.Join(dir, "loop"))
	symlink(t, dir, filepath.Join(dir, "loop-abs"))

	src := &filesource.Source{Roots: []string{dir}, FollowSymlinks: true, MaxBytes: 64 << 10}
	res, _ := run(t, src)
	if !hasReason(res, "byte budget") {
		t.Errorf("no skip for the spent byte budget: %q", res.reasons())
	}
	st := src.Stats()
	if st.Revisits < 2 {
		t.Errorf("loops not caught by the visited set: %+v", st)
	}
	if hasReason(res, "/proc/") && !hasReason(res, "kernel file system") {
		t.Errorf("proc reached without the kernel-file-system skip: %q", res.reasons())
	}

	src = &filesource.Source{Roots: []string{dir}, FollowSymlinks: true, MaxTime: 1}
	res, _ = run(t, src)
	if !hasReason(res, "time budget") {
		t.Errorf("no skip for the spent time budget: %q", res.reasons())
	}
}
