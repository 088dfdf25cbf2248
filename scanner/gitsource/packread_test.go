package gitsource

import (
	"bytes"
	"crypto/sha1"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
)

func repeat(s string, n int) []byte { return []byte(strings.Repeat(s, n)) }

// The in-process reader on packs built byte by byte: every object read
// once with the right content, and every kind of bad input either read
// by git instead or skipped with a reason, never silently lost.
func TestPackReaderSynthetic(t *testing.T) {
	base := repeat("base line\n", 30) // 300 bytes
	d1 := synDelta(len(base), 200, []byte("first change\n"))
	want1 := string(base[:200]) + "first change\n"
	d2 := synDelta(len(want1), 100, []byte("second\n"))
	want2 := want1[:100] + "second\n"
	for _, tc := range []struct {
		name  string
		objs  []synObj
		large int64
		// want: content by position; git: positions left to git; skip:
		// positions skipped.
		want map[int]string
		git  []int
		skip []int
	}{
		{
			name: "offset and reference deltas, commit and tag",
			objs: []synObj{
				{typ: packBlob, data: base},
				{typ: packOfsDelta, base: 0, data: d1},
				{typ: packRefDelta, base: 1, data: d2},
				{typ: packCommit, data: []byte("tree x\n\nmessage\n")},
				{typ: packTag, data: []byte("object y\n\ntag message\n")},
			},
			want: map[int]string{0: string(base), 1: want1, 2: want2, 3: "tree x\n\nmessage\n", 4: "object y\n\ntag message\n"},
		},
		{
			name: "a reference delta before its base",
			objs: []synObj{
				{typ: packRefDelta, base: 1, data: d1},
				{typ: packBlob, data: base},
			},
			want: map[int]string{0: want1, 1: string(base)},
		},
		{
			name: "trees are not read, nor what deltas against them",
			objs: []synObj{
				{typ: packTree, data: base},
				{typ: packOfsDelta, base: 0, data: d1},
				{typ: packBlob, data: []byte("x")},
			},
			want: map[int]string{2: "x"},
		},
		{
			name: "a delta cycle is skipped",
			objs: []synObj{
				{typ: packRefDelta, base: 1, data: d1},
				{typ: packRefDelta, base: 0, data: d1},
				{typ: packOfsDelta, base: 1, data: d2},
				{typ: packBlob, data: base},
			},
			want: map[int]string{3: string(base)},
			skip: []int{0, 1, 2},
		},
		{
			name: "a base in another pack is left to git",
			objs: []synObj{
				{typ: packRefDelta, extBase: synID(999), data: d1},
				{typ: packOfsDelta, base: 0, data: d2},
				{typ: packBlob, data: base},
			},
			want: map[int]string{2: string(base)},
			git:  []int{0, 1},
		},
		{
			name: "a copy outside its base",
			objs: []synObj{
				{typ: packBlob, data: base},
				{typ: packOfsDelta, base: 0, data: synDelta(len(base), len(base)+1, nil)},
				{typ: packOfsDelta, base: 1, data: d2},
			},
			want: map[int]string{0: string(base)},
			skip: []int{1, 2},
		},
		{
			name: "a delta for a base of another size",
			objs: []synObj{
				{typ: packBlob, data: base},
				{typ: packOfsDelta, base: 0, data: synDelta(len(base)+1, 10, nil)},
			},
			want: map[int]string{0: string(base)},
			skip: []int{1},
		},
		{
			name: "a delta that does not fill its result",
			objs: []synObj{
				{typ: packBlob, data: base},
				{typ: packOfsDelta, base: 0, data: append(synHead(len(base), 20), 0x91, 0, 10)},
			},
			want: map[int]string{0: string(base)},
			skip: []int{1},
		},
		{
			name: "an object of no known type, and its deltas",
			objs: []synObj{
				{typ: 5, data: base},
				{typ: packOfsDelta, base: 0, data: d1},
				{typ: packBlob, data: []byte("x")},
			},
			want: map[int]string{2: "x"},
			skip: []int{0, 1},
		},
		{
			name:  "large objects and their deltas are left to git",
			large: 250,
			objs: []synObj{
				{typ: packBlob, data: base},
				{typ: packOfsDelta, base: 0, data: d1},
				{typ: packBlob, data: []byte("small")},
				{typ: packOfsDelta, base: 2, data: synDelta(5, 5, repeat("x", 300))},
			},
			want: map[int]string{2: "small"},
			git:  []int{0, 1, 3},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pack, idx, ids := synPack(tc.objs)
			large := tc.large
			if large == 0 {
				large = 1 << 20
			}
			got, err := readSyn(t, large, [2][]byte{pack, idx})
			if err != nil {
				t.Fatal(err)
			}
			checkSyn(t, got, ids, tc.want, tc.git, tc.skip)
		})
	}
}

func checkSyn(t *testing.T, got synRead, ids []plumbing.Hash, want map[int]string, git, skip []int) {
	t.Helper()
	for i, id := range ids {
		w, ok := want[i]
		g, read := got.objs[id]
		switch {
		case ok && !read:
			t.Errorf("object %d not read", i)
		case !ok && read:
			t.Errorf("object %d read, want not", i)
		case ok && g != w:
			t.Errorf("object %d = %q, want %q", i, g, w)
		}
		if inGit := slices.Contains(got.git, id); inGit != slices.Contains(git, i) {
			t.Errorf("object %d left to git: %v, want %v", i, inGit, !inGit)
		}
		if r, skipped := got.skips[id]; skipped != slices.Contains(skip, i) {
			t.Errorf("object %d skipped: %v (%s), want %v", i, skipped, r, !skipped)
		}
	}
}

// An id in several packs is read once; when the copy the reader picks is
// corrupt and another pack holds one, git reads it instead of a skip.
func TestPackReaderSeveralPacks(t *testing.T) {
	base := repeat("base line\n", 30)
	shared := synObj{typ: packBlob, data: base, id: synID(500)}
	p1, x1, _ := synPack([]synObj{shared, {typ: packBlob, data: []byte("only in one")}})
	p2, x2, ids2 := synPack([]synObj{shared, {typ: packOfsDelta, base: 0, data: synDelta(len(base), 10, []byte("z")), id: synID(501)}})
	got, err := readSyn(t, 1<<20, [2][]byte{p1, x1}, [2][]byte{p2, x2})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.objs) != 3 || got.objs[synID(500)] != string(base) || got.objs[ids2[1]] != string(base[:10])+"z" {
		t.Errorf("read %d objects: %q", len(got.objs), got.objs)
	}

	// The first (newest) pack's copy is corrupt: git reads it.
	bad := bytes.Clone(p1)
	corruptObject(t, bad, 12)
	resum(bad, x1)
	got, err = readSyn(t, 1<<20, [2][]byte{bad, x1}, [2][]byte{p2, x2})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(got.git, synID(500)) || len(got.skips) != 0 {
		t.Errorf("corrupt copy with another in a pack: git %v, skips %v", got.git, got.skips)
	}
	// Alone, it is skipped.
	got, err = readSyn(t, 1<<20, [2][]byte{bad, x1})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := got.skips[synID(500)]; !ok || len(got.git) != 0 {
		t.Errorf("corrupt object: git %v, skips %v", got.git, got.skips)
	}
}

// corruptObject flips bits in the zlib stream of the object at off.
func corruptObject(t *testing.T, pack []byte, off int) {
	t.Helper()
	h, err := parseEntryHeader(pack[off:], int64(off))
	if err != nil {
		t.Fatal(err)
	}
	z := off + h.hdrLen
	pack[z+4] ^= 0xff
	pack[z+5] ^= 0x55
}

// resum rewrites a pack's checksum after an edit, and its index's copy.
func resum(pack, idx []byte) {
	n := len(pack) - packSum
	sum := sha1.Sum(pack[:n])
	copy(pack[n:], sum[:])
	copy(idx[len(idx)-idxTrailer:], pack[n:])
}

// A pack or index that is malformed as a whole is not read in-process:
// git reads it, or says why it cannot.
func TestPackReaderRefusesMalformedPacks(t *testing.T) {
	pack, idx, _ := synPack([]synObj{{typ: packBlob, data: []byte("a")}, {typ: packBlob, data: []byte("b")}})
	for _, tc := range []struct {
		name string
		edit func(p, x []byte) ([]byte, []byte)
	}{
		{"truncated pack", func(p, x []byte) ([]byte, []byte) { return p[:len(p)-8], x }},
		{"truncated index", func(p, x []byte) ([]byte, []byte) { return p, x[:len(x)-7] }},
		{"object count", func(p, x []byte) ([]byte, []byte) { p[11]++; return p, x }},
		{"pack version", func(p, x []byte) ([]byte, []byte) { p[7] = 9; return p, x }},
		{"index version", func(p, x []byte) ([]byte, []byte) { x[7] = 1; return p, x }},
		{"checksum", func(p, x []byte) ([]byte, []byte) { p[len(p)-1]++; return p, x }},
		{"offset past the end", func(p, x []byte) ([]byte, []byte) {
			binary.BigEndian.PutUint32(x[idxHeader+24*2:], uint32(len(p)))
			return p, x
		}},
		{"offset in the header", func(p, x []byte) ([]byte, []byte) {
			binary.BigEndian.PutUint32(x[idxHeader+24*2:], 4)
			return p, x
		}},
		{"two ids at one offset", func(p, x []byte) ([]byte, []byte) {
			copy(x[idxHeader+24*2+4:], x[idxHeader+24*2:idxHeader+24*2+4])
			return p, x
		}},
		{"large offset table", func(p, x []byte) ([]byte, []byte) {
			binary.BigEndian.PutUint32(x[idxHeader+24*2:], 0x80000000)
			return p, x
		}},
		{"ids out of order", func(p, x []byte) ([]byte, []byte) {
			a := slices.Clone(x[idxHeader : idxHeader+20])
			copy(x[idxHeader:], x[idxHeader+20:idxHeader+40])
			copy(x[idxHeader+20:], a)
			return p, x
		}},
		{"fan-out", func(p, x []byte) ([]byte, []byte) { x[8+3] = 1; return p, x }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, x := tc.edit(bytes.Clone(pack), bytes.Clone(idx))
			_, err := readSyn(t, 1<<20, [2][]byte{p, x})
			var np errNoPackReader
			if !errors.As(err, &np) {
				t.Errorf("err = %v, want the pack left to git", err)
			}
		})
	}
}

// Repositories the reader leaves to git wholly: a promisor pack (a
// partial clone), alternates.
func TestPackReaderLeavesUnusualRepositories(t *testing.T) {
	pack, idx, _ := synPack([]synObj{{typ: packBlob, data: []byte("a")}})
	for _, extra := range []string{"pack/pack-a.promisor", "info/alternates"} {
		objDir := filepath.Join(t.TempDir(), "objects")
		for name, b := range map[string][]byte{"pack/pack-a.pack": pack, "pack/pack-a.idx": idx, extra: nil} {
			p := filepath.Join(objDir, name)
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if pr, err := openPacks(objDir, nil); err == nil {
			pr.close()
			t.Errorf("%s: packs read in-process", extra)
		}
	}
}

// Pack order on disk: the newest pack first, as git looks ids up.
func TestPackReaderNewestFirst(t *testing.T) {
	objDir := filepath.Join(t.TempDir(), "objects")
	if err := os.MkdirAll(filepath.Join(objDir, "pack"), 0o755); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	for i, name := range []string{"pack-a", "pack-b"} {
		p, x, _ := synPack([]synObj{{typ: packBlob, data: []byte(name)}})
		for ext, b := range map[string][]byte{".pack": p, ".idx": x} {
			f := filepath.Join(objDir, "pack", name+ext)
			if err := os.WriteFile(f, b, 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.Chtimes(f, now, now.Add(time.Duration(i)*time.Hour)); err != nil {
				t.Fatal(err)
			}
		}
	}
	pr, err := openPacks(objDir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer pr.close()
	if len(pr.packs) != 2 || pr.packs[0].name != "pack-b" {
		t.Errorf("pack order %v", []string{pr.packs[0].name, pr.packs[1].name})
	}
}

// Pages of the mapping given back while a pack is read are mapped again
// when read again: the content does not change.
func TestPackReaderDropsMappedPages(t *testing.T) {
	defer func(b int64) { mappedBudget = b }(mappedBudget)
	mappedBudget = 1
	base := repeat("base line\n", 3000)
	objs := []synObj{{typ: packBlob, data: base}}
	want := map[int]string{0: string(base)}
	prev := string(base)
	for i := 1; i < 40; i++ {
		add := []byte(strings.Repeat("revision ", i) + "\n")
		objs = append(objs, synObj{typ: packOfsDelta, base: i - 1, data: synDelta(len(prev), len(prev)/2, add)})
		prev = prev[:len(prev)/2] + string(add)
		want[i] = prev
	}
	pack, idx, ids := synPack(objs)
	got, err := readSyn(t, 1<<20, [2][]byte{pack, idx})
	if err != nil {
		t.Fatal(err)
	}
	checkSyn(t, got, ids, want, nil, nil)
}
