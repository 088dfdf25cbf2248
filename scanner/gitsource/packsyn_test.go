package gitsource

import (
	"bytes"
	"compress/zlib"
	"context"
	"crypto/sha1"
	"encoding/binary"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
)

// synObj is one object of a pack made by synPack: content for a whole
// object, delta instructions for a delta (base names the base's position
// in the list; an offset delta's base must come first).
type synObj struct {
	typ  int
	data []byte
	base int
	// extBase, for a reference delta, names a base that is not in the
	// pack.
	extBase plumbing.Hash
	// id names the object; zero: a hash of its position.
	id plumbing.Hash
}

func synID(i int) plumbing.Hash {
	return plumbing.Hash(sha1.Sum([]byte{byte(i >> 8), byte(i), 's', 'y', 'n'}))
}

// synPack writes a version-2 pack and index of objs, in list order.
func synPack(objs []synObj) (pack, idx []byte, ids []plumbing.Hash) {
	var b bytes.Buffer
	b.WriteString("PACK")
	binary.Write(&b, binary.BigEndian, uint32(2))
	binary.Write(&b, binary.BigEndian, uint32(len(objs)))
	offs := make([]int64, len(objs))
	ids = make([]plumbing.Hash, len(objs))
	for i, o := range objs {
		ids[i] = o.id
		if ids[i].IsZero() {
			ids[i] = synID(i)
		}
	}
	for i, o := range objs {
		offs[i] = int64(b.Len())
		size := uint64(len(o.data))
		c := byte(o.typ<<4) | byte(size&15)
		size >>= 4
		for size > 0 {
			b.WriteByte(c | 0x80)
			c = byte(size & 0x7f)
			size >>= 7
		}
		b.WriteByte(c)
		switch o.typ {
		case packOfsDelta:
			ofs := offs[i] - offs[o.base]
			var enc []byte
			enc = append(enc, byte(ofs&0x7f))
			for ofs >>= 7; ofs > 0; ofs >>= 7 {
				ofs--
				enc = append(enc, byte(0x80|ofs&0x7f))
			}
			slices.Reverse(enc)
			b.Write(enc)
		case packRefDelta:
			base := o.extBase
			if base.IsZero() {
				base = ids[o.base]
			}
			b.Write(base[:])
		}
		zw := zlib.NewWriter(&b)
		zw.Write(o.data)
		zw.Close()
	}
	sum := sha1.Sum(b.Bytes())
	b.Write(sum[:])
	pack = b.Bytes()

	order := make([]int, len(objs))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, c int) int { return bytes.Compare(ids[a][:], ids[c][:]) })
	var x bytes.Buffer
	x.Write([]byte{0xff, 't', 'O', 'c', 0, 0, 0, 2})
	var fan [256]uint32
	for _, id := range ids {
		for k := int(id[0]); k < 256; k++ {
			fan[k]++
		}
	}
	binary.Write(&x, binary.BigEndian, fan)
	for _, i := range order {
		x.Write(ids[i][:])
	}
	x.Write(make([]byte, 4*len(objs))) // CRCs, unread
	for _, i := range order {
		binary.Write(&x, binary.BigEndian, uint32(offs[i]))
	}
	x.Write(sum[:])
	x.Write(make([]byte, 20))
	return pack, x.Bytes(), ids
}

// synHead is a delta's header: its base's size and its result's.
func synHead(src, dst int) []byte {
	var d []byte
	for _, v := range []int{src, dst} {
		for v >= 0x80 {
			d = append(d, byte(v)|0x80)
			v >>= 7
		}
		d = append(d, byte(v))
	}
	return d
}

// synDelta is a delta that copies base[:keep] and inserts add.
func synDelta(baseLen, keep int, add []byte) []byte {
	d := synHead(baseLen, keep+len(add))
	if keep > 0 {
		d = append(d, 0x80|0x01|0x02|0x10|0x20, 0, 0, byte(keep), byte(keep>>8))
	}
	for len(add) > 0 {
		n := min(len(add), 127)
		d = append(d, byte(n))
		d = append(d, add[:n]...)
		add = add[n:]
	}
	return d
}

// synRead is what the in-process reader made of a pack.
type synRead struct {
	objs  map[plumbing.Hash]string // content by id
	types map[plumbing.Hash]plumbing.ObjectType
	git   []plumbing.Hash // left to git, planned or not
	skips map[plumbing.Hash]string
}

// writePacks writes packs (pack, idx) into a fresh objects directory,
// the first given the newest, and returns the directory.
func writePacks(t *testing.T, packs ...[2][]byte) string {
	t.Helper()
	objDir := filepath.Join(t.TempDir(), "objects")
	if err := os.MkdirAll(filepath.Join(objDir, "pack"), 0o755); err != nil {
		t.Fatal(err)
	}
	for i, p := range packs {
		base := filepath.Join(objDir, "pack", "pack-"+string(rune('a'+i)))
		if err := os.WriteFile(base+".pack", p[0], 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(base+".idx", p[1], 0o644); err != nil {
			t.Fatal(err)
		}
		// The first pack given is the newest.
		mt := time.Now().Add(-time.Duration(i) * time.Hour)
		if err := os.Chtimes(base+".pack", mt, mt); err != nil {
			t.Fatal(err)
		}
	}
	return objDir
}

// readSyn writes the packs into a temporary objects directory and reads
// them as a full scan would.
func readSyn(t *testing.T, large int64, packs ...[2][]byte) (synRead, error) {
	t.Helper()
	objDir := writePacks(t, packs...)
	pr, err := openPacks(objDir, nil)
	if err != nil {
		return synRead{}, err
	}
	defer pr.close()
	got := synRead{objs: map[plumbing.Hash]string{}, types: map[plumbing.Hash]plumbing.ObjectType{}, skips: map[plumbing.Hash]string{}}
	var mu sync.Mutex
	for _, id := range pr.cycles {
		got.skips[id] = "cycle"
	}
	got.git = append(got.git, pr.git...)
	left, err := pr.read(context.Background(), 2, large, func(o storedObject) error {
		mu.Lock()
		defer mu.Unlock()
		if _, dup := got.objs[o.id]; dup {
			t.Errorf("object %s read twice", o.id)
		}
		got.objs[o.id] = string(o.data)
		got.types[o.id] = o.typ
		o.release()
		return nil
	}, func(id plumbing.Hash, reason string) {
		mu.Lock()
		defer mu.Unlock()
		got.skips[id] = reason
	})
	got.git = append(got.git, left...)
	return got, err
}
