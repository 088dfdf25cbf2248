package gitsource

import (
	"fmt"
	"strings"
	"testing"

	"github.com/atomyx/atomyx-guard/internal/testkit"
	"github.com/atomyx/atomyx-guard/patterns"
)

// A key already committed stays out of a staged scan, whatever its path
// looks like (ls-tree -z paths with spaces, quotes, newlines and
// non-ASCII), while a key staged at a path of the same kind is found.
func TestStagedComparesHeadByPath(t *testing.T) {
	d := initRepo(t)
	old, fresh := testkit.NewKey(t, patterns.Production), testkit.NewKey(t, patterns.Production)
	odd := []string{"dir with space/a b.env", "q\"uote'.txt", "new\nline.txt", "ünï/cødé.txt"}
	for _, p := range odd {
		write(t, d, p, "K="+old+"\n")
	}
	tgit(t, d, "add", "-A")
	tgit(t, d, "commit", "-q", "-m", "old keys")
	write(t, d, odd[0]+".staged", "K="+fresh+"\n")
	write(t, d, odd[2], "changed\nK="+fresh+"\n")
	tgit(t, d, "add", "-A")
	got := both(t, d, Options{Staged: true})
	if _, ok := got.byFP[patterns.Fingerprint([]byte(old))]; ok || len(got.findings) != 1 {
		t.Fatalf("staged scan: %s", summary(got))
	}
	locs := got.byFP[patterns.Fingerprint([]byte(fresh))].Locations
	if len(locs) != 2 || locs[0].Path != odd[0]+".staged" || locs[1].Path != odd[2] {
		t.Errorf("locations: %+v", locs)
	}
}

// stagedRepo commits dirs directories of files files each, then stages a
// key in one of them, and returns the repository and the key.
func stagedRepo(t *testing.T, dirs, files int) (string, string) {
	t.Helper()
	d := initRepo(t)
	for i := range dirs {
		for j := range files {
			write(t, d, fmt.Sprintf("d%02d/sub/f%02d.txt", i, j), fmt.Sprintf("file %d %d\n", i, j))
		}
	}
	tgit(t, d, "add", "-A")
	tgit(t, d, "commit", "-q", "-m", "tree")
	key := testkit.NewKey(t, patterns.Production)
	write(t, d, "d03/sub/f01.txt", "K="+key+"\n")
	tgit(t, d, "add", "-A")
	return d, key
}

// A staged scan reads the index, HEAD's trees and the changed blob
// in-process, loose (as git add leaves them) or packed: no git child at
// all, no listing of HEAD's whole tree, no reading of blobs that did not
// change.
func TestStagedWorkFollowsTheChange(t *testing.T) {
	d, key := stagedRepo(t, 12, 20)
	for _, tc := range []struct {
		name, want string
	}{
		{"loose", ""},
		{"packed", ""},
	} {
		if tc.name == "packed" {
			tgit(t, d, "repack", "-adq")
			tgit(t, d, "prune-packed")
		}
		var ran []string
		got := scanRepo(t, d, Options{Staged: true}, func(r *Repo) { r.onGit = func(sub string) { ran = append(ran, sub) } })
		if strings.Join(ran, " ") != tc.want {
			t.Errorf("%s: git children %q, want %q", tc.name, ran, tc.want)
		}
		if got.res.Blobs != 1 || len(got.findings) != 1 {
			t.Fatalf("%s: %s", tc.name, summary(got))
		}
		if l := got.byFP[patterns.Fingerprint([]byte(key))].Locations; len(l) != 1 || l[0].Path != "d03/sub/f01.txt" {
			t.Errorf("%s: locations %+v", tc.name, l)
		}
	}
}

// A large staged change is read on two goroutines; every blob is
// scanned once, those too large for the in-process reader by the store,
// with or without the git binary.
func TestStagedManyBlobs(t *testing.T) {
	d := initRepo(t)
	commit(t, d, "one", "base.txt", "base\n")
	keys := map[string]string{}
	for i := range 3 * parallelBlobs {
		body := fmt.Sprintf("file %d\n", i)
		if i%10 == 3 {
			k := testkit.NewKey(t, patterns.Production)
			keys[patterns.Fingerprint([]byte(k))] = fmt.Sprintf("f%02d.txt", i)
			body += "K=" + k + "\n"
		}
		if i%7 == 0 {
			body += strings.Repeat("padding past the large limit\n", 20)
		}
		write(t, d, fmt.Sprintf("f%02d.txt", i), body)
	}
	tgit(t, d, "add", "-A")
	for _, noBin := range []bool{false, true} {
		got := scanRepo(t, d, Options{Staged: true, NoGitBinary: noBin}, func(r *Repo) { r.large = 400 })
		if got.res.Blobs != 3*parallelBlobs || len(got.findings) != len(keys) || got.res.Partial {
			t.Errorf("no-git-binary=%v: %s", noBin, summary(got))
		}
		for fp, path := range keys {
			if l := got.byFP[fp].Locations; len(l) != 1 || l[0].Path != path {
				t.Errorf("no-git-binary=%v: key of %s at %+v", noBin, path, l)
			}
		}
	}
}
