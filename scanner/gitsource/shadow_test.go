package gitsource

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

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
	dir, _, err := r.newShadow(false)
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
	dir2, warns, err := r2.newShadow(false)
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
