package gitsource

import (
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/atomyx/atomyx-guard/internal/testkit"
	"github.com/atomyx/atomyx-guard/patterns"
)

// keyHistory commits six files over eight revisions each (long delta
// chains), a key in a revision of each, a key in a commit message and one
// in an annotated tag; after each file, between(i) may pack.
func keyHistory(t *testing.T, d string, between func(i int)) []string {
	t.Helper()
	var keys []string
	for i := range 6 {
		k := testkit.NewKey(t, patterns.Production)
		keys = append(keys, k)
		var b strings.Builder
		for j := range 40 + 100*(i%2) {
			fmt.Fprintf(&b, "file %d line %d of some text that deltas well\n", i, j)
		}
		for r := range 8 {
			body := b.String() + fmt.Sprintf("revision %d\n", r)
			if r == 3+i%3 {
				body += "KEY=" + k + "\n"
			}
			commit(t, d, fmt.Sprintf("rev %d of %d", r, i), fmt.Sprintf("f%d.txt", i), body)
		}
		if between != nil {
			between(i)
		}
	}
	msgKey := testkit.NewKey(t, patterns.Production)
	commit(t, d, "message with "+msgKey, "z.txt", "z\n")
	tagKey := testkit.NewKey(t, patterns.Production)
	tgit(t, d, "tag", "-a", "v1", "-m", "tag with "+tagKey)
	return append(keys, msgKey, tagKey)
}

// packKinds counts the offset and reference deltas in a repository's packs.
func packKinds(t *testing.T, d string) (packs, ofs, ref int) {
	t.Helper()
	pr, err := openPacks(filepath.Join(d, ".git", "objects"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer pr.close()
	for _, p := range pr.packs {
		for _, o := range p.objs {
			switch o.typ {
			case packOfsDelta:
				ofs++
			case packRefDelta:
				ref++
			}
		}
	}
	return len(pr.packs), ofs, ref
}

// Real repositories packed by git in every way a clone or a gc leaves
// them: the in-process reader finds what git cat-file and go-git find,
// reads every object once, and runs git only for what it leaves to it.
func TestPackReaderMatchesGit(t *testing.T) {
	for _, tc := range []struct {
		name    string
		between func(t *testing.T, d string, i int)
		final   []string // git arguments after the history
		large   int64
		// packs, ofs, ref: how many packs, and whether offset and
		// reference deltas must be there; cats: whether cat-file runs.
		packs    int
		ofs, ref bool
		cats     bool
	}{
		{name: "offset deltas", final: []string{"repack", "-adq", "--depth=50"}, packs: 1, ofs: true},
		{name: "reference deltas", final: []string{"-c", "repack.useDeltaBaseOffset=false", "repack", "-adfq"}, packs: 1, ref: true},
		{
			name: "several packs holding the same objects",
			between: func(t *testing.T, d string, i int) {
				if i%2 == 1 {
					tgit(t, d, "repack", "-dq")
				}
			},
			final: []string{"repack", "-aq"}, // a full pack beside the old ones
			packs: 4, ofs: true,
		},
		{
			name: "loose and packed",
			between: func(t *testing.T, d string, i int) {
				if i == 2 {
					tgit(t, d, "repack", "-adq")
				}
			},
			packs: 1, ofs: true, cats: true,
		},
		{name: "large blobs left to git", final: []string{"repack", "-adq"}, large: 4000, packs: 1, ofs: true, cats: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := initRepo(t)
			var between func(int)
			if tc.between != nil {
				between = func(i int) { tc.between(t, d, i) }
			}
			keys := keyHistory(t, d, between)
			if len(tc.final) > 0 {
				tgit(t, d, tc.final...)
			}
			packs, ofs, ref := packKinds(t, d)
			if packs != tc.packs || (ofs > 0) != tc.ofs || (ref > 0) != tc.ref {
				t.Fatalf("%d packs, %d offset deltas, %d reference deltas: not the repository wanted", packs, ofs, ref)
			}
			var cats atomic.Int32
			tweak := func(r *Repo) {
				if tc.large > 0 {
					r.large = tc.large
				}
				r.onGit = func(sub string) {
					if sub == "cat-file" {
						cats.Add(1)
					}
				}
			}
			got := both(t, d, Options{}, tweak)
			if n := cats.Load(); (n > 0) != tc.cats {
				t.Errorf("%d cat-file processes", n)
			}
			// Several cat-file readers, as on a large repository.
			byGit := scanRepo(t, d, Options{}, tweak, func(r *Repo) { r.noPacks, r.minPart = true, 1 })
			if a, b := summary(got), summary(byGit); a != b {
				t.Errorf("in-process and cat-file readers disagree:\n%s\n---\n%s", a, b)
			}
			for _, k := range keys {
				if _, ok := got.byFP[patterns.Fingerprint([]byte(k))]; !ok {
					t.Errorf("key %s not found", patterns.Redact([]byte(k)))
				}
			}
			if got.res.Partial || len(got.res.Skipped) > 0 {
				t.Errorf("partial: %+v", got.res.Skipped)
			}
		})
	}
}

// An object corrupt in the pack is skipped, with every delta built on it,
// and the scan says it is partial; the rest is still read.
func TestCorruptPackedObjectIsLoud(t *testing.T) {
	d := initRepo(t)
	bad, good := testkit.NewKey(t, patterns.Production), testkit.NewKey(t, patterns.Production)
	var b strings.Builder
	for j := range 200 {
		fmt.Fprintf(&b, "line %d of a file that deltas well\n", j)
	}
	for r := range 5 {
		commit(t, d, "rev "+strconv.Itoa(r), "a.txt", b.String()+"rev "+strconv.Itoa(r)+"\n", "b.txt", "KEY="+good+"\n")
	}
	// The newest revision, the one git stores whole, holds the key.
	commit(t, d, "key", "a.txt", b.String()+"KEY="+bad+"\n")
	tgit(t, d, "repack", "-adq")
	blob := tgit(t, d, "rev-parse", "HEAD:a.txt")
	idx, _ := filepath.Glob(filepath.Join(d, ".git", "objects", "pack", "*.idx"))
	var off int
	deltas := 0
	for _, l := range strings.Split(tgit(t, d, "verify-pack", "-v", idx[0]), "\n") {
		f := strings.Fields(l)
		if len(f) >= 5 && f[0] == blob {
			off, _ = strconv.Atoi(f[4])
		}
		if len(f) == 7 && f[6] == blob {
			deltas++
		}
	}
	if off == 0 || deltas == 0 {
		t.Fatalf("blob at %d with %d deltas: not the pack wanted", off, deltas)
	}
	pack := strings.TrimSuffix(idx[0], ".idx") + ".pack"
	data, err := os.ReadFile(pack)
	if err != nil {
		t.Fatal(err)
	}
	corruptObject(t, data, off)
	// A pack whose checksum fails goes to git whole
	// (TestCorruptStoredBlobIsLoud); with the checksum made to match, the
	// in-process reader meets the corrupt object itself.
	xdata, err := os.ReadFile(idx[0])
	if err != nil {
		t.Fatal(err)
	}
	resum(data, xdata)
	for f, b := range map[string][]byte{pack: data, idx[0]: xdata} {
		if err := os.Chmod(f, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(f, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got := scanRepo(t, d, Options{})
	if _, ok := got.byFP[patterns.Fingerprint([]byte(good))]; !ok {
		t.Error("the key in the intact blob is not found")
	}
	if _, ok := got.byFP[patterns.Fingerprint([]byte(bad))]; ok {
		t.Error("a key found in a corrupt object")
	}
	skipped := 0
	for _, s := range got.res.Skipped {
		if strings.Contains(s.Where, blob) || strings.Contains(s.Reason, blob) {
			skipped++
		}
	}
	if !got.res.Partial || skipped < 1+deltas {
		t.Errorf("corrupt object and its %d deltas: partial=%v, skipped %+v", deltas, got.res.Partial, got.res.Skipped)
	}
}

// A blob git stored in deflate's stored blocks (incompressible content)
// inflates to its full size whatever its bytes are: corrupting them
// breaks no length, only the checksums. The scan must not read it as
// intact: the pack's checksum sends the pack to git, which names the
// object.
func TestCorruptStoredBlobIsLoud(t *testing.T) {
	d := initRepo(t)
	key := testkit.NewKey(t, patterns.Production)
	noise := make([]byte, 64<<10)
	if _, err := rand.Read(noise); err != nil {
		t.Fatal(err)
	}
	commit(t, d, "add", "noise.bin", string(noise), "b.txt", "KEY="+key+"\n")
	tgit(t, d, "repack", "-adq")
	blob := tgit(t, d, "rev-parse", "HEAD:noise.bin")
	idx, _ := filepath.Glob(filepath.Join(d, ".git", "objects", "pack", "*.idx"))
	off := 0
	for _, l := range strings.Split(tgit(t, d, "verify-pack", "-v", idx[0]), "\n") {
		if f := strings.Fields(l); len(f) >= 5 && f[0] == blob {
			off, _ = strconv.Atoi(f[4])
		}
	}
	if off == 0 {
		t.Fatal("blob not found in the pack")
	}
	pack := strings.TrimSuffix(idx[0], ".idx") + ".pack"
	data, err := os.ReadFile(pack)
	if err != nil {
		t.Fatal(err)
	}
	for i := off + 1000; i < off+1016; i++ { // inside the stored block's bytes
		data[i] ^= 0x5a
	}
	if err := os.Chmod(pack, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(pack, data, 0o644); err != nil {
		t.Fatal(err)
	}
	got := scanRepo(t, d, Options{})
	if _, ok := got.byFP[patterns.Fingerprint([]byte(key))]; !ok {
		t.Error("the key in the intact blob is not found")
	}
	named := false
	for _, s := range got.res.Skipped {
		named = named || strings.Contains(s.Where, blob) || strings.Contains(s.Reason, blob)
	}
	if !got.res.Partial || !named {
		t.Errorf("a corrupt stored blob read as intact: partial=%v, skipped %+v", got.res.Partial, got.res.Skipped)
	}
}
