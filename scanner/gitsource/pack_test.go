package gitsource

import (
	"bytes"
	"context"
	"crypto/sha1"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"
)

// synSeed is a small pack with every object kind, for the fuzz seeds.
func synSeed() (pack, idx []byte) {
	base := repeat("seed line\n", 20)
	pack, idx, _ = synPack([]synObj{
		{typ: packBlob, data: base},
		{typ: packOfsDelta, base: 0, data: synDelta(len(base), 50, []byte("more\n"))},
		{typ: packRefDelta, base: 1, data: synDelta(55, 20, []byte("less\n"))},
		{typ: packCommit, data: []byte("tree x\n\nmsg\n")},
		{typ: packTree, data: []byte("100644 a\x00" + string(make([]byte, 20)))},
	})
	return pack, idx
}

func FuzzParseIdx(f *testing.F) {
	pack, idx := synSeed()
	f.Add(idx, int64(len(pack)))
	f.Fuzz(func(t *testing.T, b []byte, packSize int64) {
		x, err := parseIdx(b, packSize)
		if err != nil {
			return
		}
		for i := range x.n {
			off, ok := x.offset(i)
			if !ok || off < packHeader || off >= packSize-packSum {
				t.Fatalf("offset %d of %d accepted", off, packSize)
			}
			if x.find(x.names[20*i:20*i+20]) != i {
				t.Fatalf("id %d not found where it is", i)
			}
		}
	})
}

func FuzzParseEntryHeader(f *testing.F) {
	f.Add([]byte{0x3a, 0x78, 0x9c}, int64(12))
	f.Add([]byte{0xe5, 0x02, 0x91, 0x0e}, int64(5000))
	f.Add(append([]byte{0x7f}, make([]byte, 20)...), int64(30))
	f.Fuzz(func(t *testing.T, p []byte, off int64) {
		h, err := parseEntryHeader(p, off)
		if err != nil {
			return
		}
		if h.hdrLen > len(p) || h.size < 0 {
			t.Fatalf("header %+v of %d bytes", h, len(p))
		}
		if h.typ == packOfsDelta && (h.baseOff < packHeader || h.baseOff >= off) {
			t.Fatalf("base offset %d for an object at %d", h.baseOff, off)
		}
	})
}

func FuzzApplyDelta(f *testing.F) {
	f.Add([]byte("some base text"), synDelta(14, 4, []byte(" more")))
	f.Add([]byte(""), synDelta(0, 0, []byte("x")))
	f.Fuzz(func(t *testing.T, base, delta []byte) {
		src, dst, ops, err := deltaSizes(delta)
		if err != nil || src != int64(len(base)) || dst > 1<<20 {
			return
		}
		out := make([]byte, dst)
		if err := applyDelta(base, ops, out); err != nil {
			return
		}
		if int64(len(out)) != dst {
			t.Fatalf("result of %d bytes, declared %d", len(out), dst)
		}
	})
}

// FuzzPackRead reads an arbitrary pack body (its checksum recomputed, so
// that the reader gets past the check) with the seed's index: whatever
// the bytes, the reader returns, each object read has its declared size
// or less than the limit, and nothing is read twice.
func FuzzPackRead(f *testing.F) {
	seed, idx := synSeed()
	f.Add(seed[:len(seed)-packSum])
	f.Fuzz(func(t *testing.T, body []byte) {
		sum := sha1.Sum(body)
		p := append(bytes.Clone(body), sum[:]...)
		x := bytes.Clone(idx)
		copy(x[len(x)-idxTrailer:], sum[:])
		pk := &pack{name: "pack-f", data: p}
		if err := pk.list(x); err != nil {
			return
		}
		pr := &packReader{packs: []*pack{pk}}
		pr.plan()
		seen := map[plumbing.Hash]bool{}
		const large = 1 << 16
		_, err := pr.read(context.Background(), 1, large, func(o storedObject) error {
			if seen[o.id] {
				t.Fatalf("%s read twice", o.id)
			}
			seen[o.id] = true
			if int64(len(o.data)) != o.size || o.size > large {
				t.Fatalf("object of %d bytes, size %d", len(o.data), o.size)
			}
			o.release()
			return nil
		}, func(plumbing.Hash, string) {})
		if err != nil {
			t.Fatal(err)
		}
	})
}
