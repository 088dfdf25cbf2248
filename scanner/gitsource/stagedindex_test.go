package gitsource

import (
	"bytes"
	"crypto/sha1"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/atomyx/atomyx-guard/internal/testkit"
	"github.com/atomyx/atomyx-guard/patterns"
	"github.com/go-git/go-git/v5/plumbing/format/index"
)

// indexRepo is a repository with nested directories, odd names, an
// executable, a symlink and an intent-to-add entry, one change staged.
func indexRepo(t testing.TB) string {
	d := initRepo(t)
	for i := range 4 {
		for j := range 3 {
			write(t, d, fmt.Sprintf("d%d/s%d/f%d.txt", i, j, j), fmt.Sprintf("%d %d\n", i, j))
		}
	}
	write(t, d, "top.txt", "top\n")
	write(t, d, "dir with space/ünï \"q\".txt", "odd\n")
	write(t, d, "a-b", "sorts before a/\n")
	write(t, d, "a/x", "in a\n")
	write(t, d, "a0", "sorts after a/\n")
	write(t, d, "run.sh", "#!/bin/sh\n")
	if err := os.Chmod(filepath.Join(d, "run.sh"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("top.txt", filepath.Join(d, "link")); err != nil {
		t.Fatal(err)
	}
	ageFiles(t, d)
	tgit(t, d, "add", "-A")
	tgit(t, d, "commit", "-q", "-m", "tree")
	write(t, d, "d2/s1/f1.txt", "changed\n")
	write(t, d, "later.txt", "intent\n")
	tgit(t, d, "add", "d2/s1/f1.txt")
	tgit(t, d, "add", "-N", "later.txt")
	return d
}

// ageFiles dates the work tree's files an hour back. Files written in the
// second the index is then written are racily clean to git, and git add
// -A after that can write the index without its cache-tree; a hook's
// files were most often committed long before.
func ageFiles(t testing.TB, dir string) {
	t.Helper()
	old := time.Now().Add(-time.Hour)
	err := filepath.WalkDir(dir, func(p string, de fs.DirEntry, err error) error {
		if err != nil || de.IsDir() || de.Type()&fs.ModeSymlink != 0 {
			return err
		}
		return os.Chtimes(p, old, old)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// readGoGit decodes an index with go-git, as parseIndex's reference.
func readGoGit(b []byte) ([]ixEntry, error) {
	var idx index.Index
	if err := index.NewDecoder(bytes.NewReader(b)).Decode(&idx); err != nil {
		return nil, err
	}
	var es []ixEntry
	for _, e := range idx.Entries {
		es = append(es, ixEntry{name: e.Name, mode: e.Mode, hash: e.Hash, ita: e.IntentToAdd, unmerged: e.Stage != 0, size: e.Size})
	}
	return es, nil
}

// parseIndex reads what go-git reads, in every index version, and its
// cache-tree holds the directories git add left valid, each with HEAD's
// tree id there and the count of entries under it.
func TestParseIndex(t *testing.T) {
	d := indexRepo(t)
	for _, v := range []string{"2", "3", "4"} {
		t.Run("v"+v, func(t *testing.T) {
			tgit(t, d, "update-index", "--index-version", v)
			b, err := os.ReadFile(filepath.Join(d, ".git", "index"))
			if err != nil {
				t.Fatal(err)
			}
			es, ct, err := parseIndex(string(b))
			if err != nil {
				t.Fatal(err)
			}
			want, err := readGoGit(b)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(es, want) {
				t.Errorf("entries differ from go-git's:\n%v\n%v", es, want)
			}
			if !slices.ContainsFunc(es, func(e ixEntry) bool { return e.name == "later.txt" && e.ita }) {
				t.Error("intent-to-add entry not read as such")
			}
			for _, invalid := range []string{"", "d2", "d2/s1"} {
				if _, ok := ct[invalid]; ok {
					t.Errorf("cache-tree entry %q valid after git add under it", invalid)
				}
			}
			for _, dir := range []string{"d0", "d0/s2", "d2/s0", "d3/s1", "a", "dir with space"} {
				c, ok := ct[dir]
				if !ok {
					t.Errorf("cache-tree entry %q missing", dir)
					continue
				}
				n := 0
				for _, e := range es {
					if strings.HasPrefix(e.name, dir+"/") {
						n++
					}
				}
				if id := tgit(t, d, "rev-parse", "HEAD:"+dir); c.hash.String() != id || c.entries != n {
					t.Errorf("cache-tree %q: %s, %d entries; want %s, %d", dir, c.hash, c.entries, id, n)
				}
			}
		})
	}
	// A checksum that does not hold is not checked, as git does not
	// (git diff-index and git commit read the index as it is).
	b, _ := os.ReadFile(filepath.Join(d, ".git", "index"))
	want, _, err := parseIndex(string(b))
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)-1] ^= 1
	if got, _, err := parseIndex(string(b)); err != nil || !slices.Equal(got, want) {
		t.Errorf("index with a bad checksum: %v (%d entries, want %d)", err, len(got), len(want))
	}
	// What that rests on: git lists such an index's entries (it fails
	// this command if it checks the sum).
	if err := os.WriteFile(filepath.Join(d, ".git", "index"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	if out := tgit(t, d, "ls-files", "--stage"); strings.Count(out, "\n")+1 < len(want) {
		t.Errorf("git lists %d entries of an index with a bad checksum, want %d", strings.Count(out, "\n")+1, len(want))
	}
}

// The go-git fallback of a staged scan reads HEAD's trees along the
// change only: the cache-tree vouches for the other directories.
func TestStagedFallbackReadsTreesAlongTheChange(t *testing.T) {
	d := initRepo(t)
	for i := range 12 {
		for j := range 20 {
			write(t, d, fmt.Sprintf("d%02d/sub/f%02d.txt", i, j), fmt.Sprintf("file %d %d\n", i, j))
		}
	}
	ageFiles(t, d)
	tgit(t, d, "add", "-A")
	tgit(t, d, "commit", "-q", "-m", "tree")
	key := testkit.NewKey(t, patterns.Production)
	write(t, d, "d03/sub/f01.txt", "K="+key+"\n")
	tgit(t, d, "add", "-A")
	var trees []string
	got := scanRepo(t, d, Options{Staged: true, NoGitBinary: true}, func(r *Repo) { r.onTree = func(dir string) { trees = append(trees, dir) } })
	slices.Sort(trees)
	if want := []string{"d03", "d03/sub"}; !slices.Equal(trees, want) {
		t.Errorf("trees read %q, want %q", trees, want)
	}
	if l := got.byFP[patterns.Fingerprint([]byte(key))].Locations; len(got.findings) != 1 || len(l) != 1 || l[0].Path != "d03/sub/f01.txt" {
		t.Errorf("%s", summary(got))
	}
}

// When git reset --hard leaves the cache-tree invalid along an earlier,
// larger change, the directories' trees are computed from the index (as
// git write-tree would), and HEAD's trees are still read along the
// staged change only.
func TestStagedTreesComputedAfterReset(t *testing.T) {
	d := initRepo(t)
	for i := range 12 {
		for j := range 5 {
			write(t, d, fmt.Sprintf("d%02d/sub/f%02d.txt", i, j), fmt.Sprintf("file %d %d\n", i, j))
		}
	}
	ageFiles(t, d)
	commit(t, d, "tree")
	for i := range 12 {
		write(t, d, fmt.Sprintf("d%02d/sub/f00.txt", i), "changed, then reset\n")
	}
	tgit(t, d, "add", "-A")
	tgit(t, d, "reset", "-q", "--hard")
	key := testkit.NewKey(t, patterns.Production)
	write(t, d, "d03/sub/f01.txt", "K="+key+"\n")
	tgit(t, d, "add", "-A")
	b, err := os.ReadFile(filepath.Join(d, ".git", "index"))
	if err != nil {
		t.Fatal(err)
	}
	if _, ct, err := parseIndex(string(b)); err != nil || len(ct) > 12 {
		t.Fatalf("the cache-tree was not left invalid (%d entries, %v): the test tests nothing", len(ct), err)
	}
	for _, noBin := range []bool{false, true} {
		var trees []string
		got := scanRepo(t, d, Options{Staged: true, NoGitBinary: noBin}, func(r *Repo) { r.onTree = func(dir string) { trees = append(trees, dir) } })
		slices.Sort(trees)
		if want := []string{"d03", "d03/sub"}; !slices.Equal(trees, want) {
			t.Errorf("no-git-binary=%v: trees read %q, want %q", noBin, trees, want)
		}
		if l := got.byFP[patterns.Fingerprint([]byte(key))].Locations; len(got.findings) != 1 || len(l) != 1 || l[0].Path != "d03/sub/f01.txt" {
			t.Errorf("no-git-binary=%v: %s", noBin, summary(got))
		}
	}
}

// A cache-tree entry whose count runs past its directory's entries is
// not trusted: the staged key in the directory after it is still found.
func TestStagedFallbackDistrustsCacheTree(t *testing.T) {
	d := initRepo(t)
	write(t, d, "a/x.txt", "x\n")
	write(t, d, "b.txt", "b\n")
	ageFiles(t, d)
	commit(t, d, "one")
	key := testkit.NewKey(t, patterns.Production)
	write(t, d, "b.txt", "K="+key+"\n")
	tgit(t, d, "add", "b.txt")
	p := filepath.Join(d, ".git", "index")
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	// The TREE extension says "a", HEAD's a, holds two entries: a/x.txt
	// and b.txt.
	headA, err := hexID(tgit(t, d, "rev-parse", "HEAD:a"))
	if err != nil {
		t.Fatal(err)
	}
	b = rewriteTree(t, b, append([]byte("\x00-1 1\na\x002 0\n"), headA...))
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, ct, err := parseIndex(string(b)); err != nil || ct["a"].entries != 2 {
		t.Fatalf("forged index: %v %+v", err, ct)
	}
	got := scanRepo(t, d, Options{Staged: true, NoGitBinary: true})
	if len(got.findings) != 1 {
		t.Errorf("key after a cache-tree entry too long: %s", summary(got))
	}
}

func hexID(s string) ([]byte, error) {
	out := make([]byte, 20)
	for i := range out {
		v, err := strconv.ParseUint(s[2*i:2*i+2], 16, 8)
		if err != nil {
			return nil, err
		}
		out[i] = byte(v)
	}
	return out, nil
}

// rewriteTree replaces an index's extensions with one TREE extension and
// leaves zeros for the checksum (git's skipHash).
func rewriteTree(t *testing.T, b, tree []byte) []byte {
	t.Helper()
	es, _, err := parseIndex(string(b))
	if err != nil {
		t.Fatal(err)
	}
	// Entries end where the first extension starts: find "TREE" after the
	// last entry's name.
	last := es[len(es)-1].name
	at := bytes.LastIndex(b, []byte(last))
	ext := bytes.Index(b[at:], []byte("TREE"))
	if ext < 0 {
		t.Fatal("no TREE extension")
	}
	out := append([]byte{}, b[:at+ext]...)
	out = append(out, "TREE"...)
	out = append(out, byte(len(tree)>>24), byte(len(tree)>>16), byte(len(tree)>>8), byte(len(tree)))
	out = append(out, tree...)
	return append(out, make([]byte, 20)...)
}

// FuzzParseIndex: whatever the bytes, parseIndex returns or refuses
// without panicking, and what it reads go-git reads alike. Seeds: the
// indexes of indexRepo in versions 2 to 4, under testdata/fuzz (made
// once; building a repository in each fuzz worker stalls them).
func FuzzParseIndex(f *testing.F) {
	f.Add([]byte("DIRC\x00\x00\x00\x02\x00\x00\x00\x00" + strings.Repeat("\x00", 20)))
	f.Fuzz(func(t *testing.T, b []byte) {
		b = slices.Clone(b)
		if len(b) > 20 { // a checksum that holds: go-git reads it too
			sum := sha1.Sum(b[:len(b)-20])
			copy(b[len(b)-20:], sum[:])
		}
		es, _, err := parseIndex(string(b))
		if err != nil {
			return
		}
		if want, err := readGoGit(b); err == nil && !slices.Equal(es, want) {
			t.Errorf("entries differ from go-git's:\n%v\n%v", es, want)
		}
	})
}
