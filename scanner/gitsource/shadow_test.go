package gitsource

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/atomyx/atomyx-guard/internal/testkit"
	"github.com/atomyx/atomyx-guard/patterns"
)

// A plain objects directory is linked whole into the shadow; one that
// names alternates, or holds a loose-object directory that is a symlink,
// is linked entry by entry, leaving those out.
func TestShadowObjects(t *testing.T) {
	plain := initRepo(t)
	commit(t, plain, "one", "a.txt", "a\n")
	r, err := Open(t.Context(), plain)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	dir, _, err := r.newShadow(false, noSkips(t))
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	if fi, err := os.Lstat(filepath.Join(dir, "objects")); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("plain objects directory: shadow's objects is not one link (%v)", err)
	}

	// Alternates: the per-entry shadow, which reads no other store.
	shared := filepath.Join(t.TempDir(), "shared")
	tgit(t, filepath.Dir(plain), "clone", "-q", "--shared", plain, shared)
	r2, err := Open(t.Context(), shared)
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Close()
	dir2, warns, err := r2.newShadow(false, noSkips(t))
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir2)
	if fi, err := os.Lstat(filepath.Join(dir2, "objects")); err != nil || !fi.IsDir() {
		t.Errorf("objects with alternates: shadow's objects is not a directory of its own (%v)", err)
	}
	if _, err := os.Stat(filepath.Join(dir2, "objects", "info", "alternates")); err == nil {
		t.Error("alternates carried into the shadow without --alternates")
	}
	if len(warns) != 1 || !strings.Contains(warns[0], "alternates") {
		t.Errorf("warnings %q", warns)
	}
}

// noSkips fails the test on a skip: a repository git made has nothing
// the shadow leaves out.
func noSkips(t *testing.T) func(string, string) {
	return func(where, reason string) { t.Errorf("skip %s: %s", where, reason) }
}

// A FIFO, a socket-like special file or a symlink among a pack
// directory's or a loose-object directory's entries is left out of the
// shadow, with a skip naming it, and the rest is still linked: git would
// otherwise open it (a FIFO held each git child that lists or reads
// objects until its deadline).
func TestShadowLeavesOutIrregularObjects(t *testing.T) {
	d := initRepo(t)
	commit(t, d, "one", "a.txt", "a\n")
	tgit(t, d, "repack", "-adq")
	commit(t, d, "two", "b.txt", "b\n") // loose objects beside the pack
	objs := filepath.Join(d, ".git", "objects")
	fakePack := "pack-" + strings.Repeat("ab", 20)
	fifoID := strings.Repeat("cd", 20)
	if err := syscall.Mkfifo(filepath.Join(objs, "pack", fakePack+".idx"), 0o644); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	if err := os.MkdirAll(filepath.Join(objs, fifoID[:2]), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(filepath.Join(objs, fifoID[:2], fifoID[2:]), 0o644); err != nil {
		t.Fatal(err)
	}
	linkID := strings.Repeat("ef", 20)
	if err := os.MkdirAll(filepath.Join(objs, linkID[:2]), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/dev/zero", filepath.Join(objs, linkID[:2], linkID[2:])); err != nil {
		t.Fatal(err)
	}
	r, err := Open(t.Context(), d)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var skips []string
	dir, _, err := r.newShadow(false, func(where, reason string) { skips = append(skips, where+": "+reason) })
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	want := []string{"pack " + strings.Repeat("ab", 20), "object " + fifoID, "object " + linkID}
	if len(skips) != len(want) {
		t.Fatalf("skips %q, want one each for %q", skips, want)
	}
	for _, w := range want {
		if !slices.ContainsFunc(skips, func(s string) bool { return strings.HasPrefix(s, w+": ") }) {
			t.Errorf("no skip for %s in %q", w, skips)
		}
	}
	for _, left := range []string{filepath.Join("pack", fakePack+".idx"), filepath.Join(fifoID[:2], fifoID[2:]), filepath.Join(linkID[:2], linkID[2:])} {
		if _, err := os.Lstat(filepath.Join(dir, "objects", left)); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("objects/%s is in the shadow (%v)", left, err)
		}
	}
	// What git needs is all there: every object still reads.
	// A deadline, so that a FIFO let through fails the test, not hangs it.
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	cmd := tgitCmd(dir, "--git-dir", dir, "cat-file", "--batch-all-objects", "--batch-check")
	cmd = exec.CommandContext(ctx, cmd.Path, cmd.Args[1:]...)
	cmd.Dir, cmd.Env = dir, gitEnv(filepath.Dir(dir))
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("git cat-file through the shadow: %v", err)
	}
	if n := strings.Count(string(out), "\n"); n != 6 {
		t.Errorf("git lists %d objects through the shadow, want the 6 of the two commits:\n%s", n, out)
	}
}

// A staged blob whose loose-object directory is a symlink to another
// repository's is not read, by the git binary or by go-git: it is
// reported as a skip, not scanned from outside the repository.
func TestStagedLooseDirLinkedOutside(t *testing.T) {
	other := initRepo(t)
	key := testkit.NewKey(t, patterns.Production)
	write(t, other, "k.txt", "KEY="+key+"\n")
	id := tgit(t, other, "hash-object", "-w", "k.txt")

	d := initRepo(t)
	commit(t, d, "one", "a.txt", "a\n")
	loose := filepath.Join(d, ".git", "objects", id[:2])
	if err := os.RemoveAll(loose); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(other, ".git", "objects", id[:2]), loose); err != nil {
		t.Fatal(err)
	}
	tgit(t, d, "update-index", "--add", "--cacheinfo", "100644,"+id+",k.txt")
	write(t, d, "b.txt", "b\n") // something readable: the scan is partial, not empty
	tgit(t, d, "add", "b.txt")
	for _, noBin := range []bool{false, true} {
		got := scanRepo(t, d, Options{Staged: true, NoGitBinary: noBin})
		if len(got.findings) != 0 {
			t.Errorf("no-git-binary=%v: a blob outside the repository was scanned: %s", noBin, summary(got))
		}
		if !got.res.Partial || len(got.res.Skipped) == 0 {
			t.Errorf("no-git-binary=%v: the unreadable staged blob is not a skip: %+v", noBin, got.res)
		}
	}
}
