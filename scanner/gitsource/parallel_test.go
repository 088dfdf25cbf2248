package gitsource

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/atomyx/atomyx-guard/internal/testkit"
	"github.com/atomyx/atomyx-guard/patterns"
	"github.com/go-git/go-git/v5/plumbing"
)

func hashN(n int) plumbing.Hash {
	var h plumbing.Hash
	h[0], h[1], h[19] = byte(n>>8), byte(n), 1
	return h
}

// Delta families stay with one reader, each reader keeps pack order,
// trees are never dealt, and the load is shared.
func TestSplitKeepsDeltaFamilies(t *testing.T) {
	l := &objectList{}
	// 40 objects; object i deltas against i-4 (four families: i%4), and
	// every fifth is a tree.
	for i := range 40 {
		l.ids = append(l.ids, hashN(i))
		l.sizes = append(l.sizes, 100)
		l.trees = append(l.trees, i%5 == 4)
		l.family = append(l.family, int32(i))
	}
	for i := 4; i < 40; i++ {
		if ra, rb := l.root(int32(i)), l.root(int32(i-4)); ra != rb {
			l.family[ra] = rb
		}
	}
	parts := l.split(2, 1)
	if len(parts) != 2 {
		t.Fatalf("%d parts, want 2", len(parts))
	}
	pos := map[plumbing.Hash]int{}
	for i, id := range l.ids {
		pos[id] = i
	}
	owner := map[int]int{} // family → part
	n := 0
	for k, p := range parts {
		if len(p) < 10 {
			t.Errorf("part %d has %d objects: unbalanced", k, len(p))
		}
		if !slices.IsSortedFunc(p, func(a, b plumbing.Hash) int { return pos[a] - pos[b] }) {
			t.Errorf("part %d out of pack order", k)
		}
		for _, id := range p {
			i := pos[id]
			if l.trees[i] {
				t.Errorf("tree %d dealt", i)
			}
			if o, ok := owner[i%4]; ok && o != k {
				t.Errorf("family %d split across parts", i%4)
			}
			owner[i%4] = k
			n++
		}
	}
	if n != 32 {
		t.Errorf("%d objects dealt, want 32", n)
	}
	if got := l.split(2, 1<<20); len(got) != 1 || len(got[0]) != 32 {
		t.Errorf("small content: %d parts, want one of 32", len(got))
	}
}

func TestParseCheckLine(t *testing.T) {
	id, base := strings.Repeat("a", 40), strings.Repeat("b", 40)
	for _, tc := range []struct {
		line string
		ok   bool
	}{
		{id + " blob 12 " + base, true},
		{id + " tree 0 " + strings.Repeat("0", 40), true},
		{id + " blob 12", false},
		{id + " missing", false},
		{id + " blob -1 " + base, false},
		{"", false},
	} {
		gid, _, _, gbase, ok := parseCheckLine([]byte(tc.line))
		if ok != tc.ok {
			t.Errorf("%q: ok %v", tc.line, ok)
		}
		if ok && (gid.String() != id[:40] || (strings.HasPrefix(tc.line[41:], "blob") && gbase.String() != base)) {
			t.Errorf("%q: id %s base %s", tc.line, gid, gbase)
		}
	}
}

func FuzzParseCheckLine(f *testing.F) {
	f.Add([]byte(strings.Repeat("a", 40) + " blob 12 " + strings.Repeat("b", 40)))
	f.Fuzz(func(t *testing.T, b []byte) {
		parseCheckLine(b)
	})
}

func FuzzParseDiffIndex(f *testing.F) {
	z := strings.Repeat("0", 40)
	f.Add([]byte(":000000 100644 " + z + " " + strings.Repeat("c", 40) + " A\x00a b\x00"))
	f.Add([]byte(":100644 100644 " + z + " " + z + " U\x00x\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		es, ok := parseDiffIndex(b)
		if !ok && es != nil {
			t.Fatal("entries with a failed parse")
		}
		for _, e := range es {
			if e.path == "" || e.blob.IsZero() {
				t.Fatalf("bad entry %+v", e)
			}
		}
	})
}

// A full scan with several cat-file readers (packs not read in-process)
// reads every object once and finds what one reader finds: keys in blobs
// of every reader's share, in commit messages, in files rewritten across
// commits (long delta chains).
func TestParallelReadersFindEverything(t *testing.T) {
	d := initRepo(t)
	var keys []string
	for i := range 6 {
		k := testkit.NewKey(t, patterns.Production)
		keys = append(keys, k)
		var b strings.Builder
		for j := range 40 {
			fmt.Fprintf(&b, "file %d line %d of some text that deltas well\n", i, j)
		}
		for r := range 8 {
			body := b.String() + fmt.Sprintf("revision %d\n", r)
			if r == 3 {
				body += "KEY=" + k + "\n"
			}
			commit(t, d, fmt.Sprintf("rev %d of %d", r, i), fmt.Sprintf("f%d.txt", i), body)
		}
	}
	msgKey := testkit.NewKey(t, patterns.Production)
	commit(t, d, "message with "+msgKey, "z.txt", "z\n")
	tgit(t, d, "repack", "-adq", "--depth=50")
	var cats atomic.Int32 // readers start git concurrently
	par := scanRepo(t, d, Options{}, func(r *Repo) {
		r.noPacks = true
		r.minPart = 1
		r.onGit = func(sub string) {
			if sub == "cat-file" {
				cats.Add(1)
			}
		}
	})
	if cats := cats.Load(); cats < 3 {
		t.Errorf("%d cat-file processes, want the listing and at least two readers", cats)
	}
	one := scanRepo(t, d, Options{}, func(r *Repo) { r.noPacks = true })
	if a, b := summary(par), summary(one); a != b {
		t.Errorf("parallel readers disagree with one:\n%s\n---\n%s", a, b)
	}
	for _, k := range append(keys, msgKey) {
		if _, ok := par.byFP[patterns.Fingerprint([]byte(k))]; !ok {
			t.Errorf("key %s not found", patterns.Redact([]byte(k)))
		}
	}
}

// A loose object too corrupt for the listing to type ("<id> missing") is
// still asked for, so the scan reports it skipped instead of leaving it
// out unsaid.
func TestListedButUnreadableIsSkipped(t *testing.T) {
	d := initRepo(t)
	commit(t, d, "two files", "good.txt", "fine\n", "bad.txt", strings.Repeat("filler ", 2000)+"\n")
	bad := strings.TrimSpace(tgit(t, d, "rev-parse", "HEAD:bad.txt"))
	p := filepath.Join(d, ".git", "objects", bad[:2], bad[2:])
	if err := os.Chmod(p, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(p, 10); err != nil {
		t.Fatal(err)
	}
	got := scanRepo(t, d, Options{})
	skipped := false
	for _, s := range got.res.Skipped {
		skipped = skipped || strings.Contains(s.Where, bad)
	}
	if !got.res.Partial || !skipped {
		t.Errorf("corrupt blob not reported: %s", summary(got))
	}
}
