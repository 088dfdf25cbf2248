package gitsource

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"github.com/go-git/go-git/v5/plumbing"
)

// The pack format, read in-process (packread.go): a pack's .idx (version
// 2) names its objects and their offsets; each object in the .pack is a
// header (type, size, and for a delta its base) and a zlib stream; a
// delta is a list of copy and insert instructions against its base.
// Everything here comes from the scanned repository and is untrusted:
// every size, offset and reference is checked before it is used.

// Pack object types, as the pack format numbers them.
const (
	packCommit   = 1
	packTree     = 2
	packBlob     = 3
	packTag      = 4
	packOfsDelta = 6
	packRefDelta = 7
)

const (
	idxHeader  = 8 + 256*4 // magic, version, fan-out table
	idxTrailer = 2 * 20    // the pack's checksum, the index's own
	packHeader = 12        // "PACK", version, object count
	packSum    = 20        // the pack's trailing checksum
	maxObjects = math.MaxInt32 - 1
)

var errPackFormat = errors.New("malformed pack")

// packIndex is a parsed version-2 pack index.
type packIndex struct {
	n     int
	names []byte // n sorted 20-byte object ids
	offs  []byte // n 4-byte offsets; the high bit points into large
	large []byte // 8-byte offsets
	// packSum is the checksum the index says its pack ends with.
	packSum []byte
}

// openIdx reads a version-2 index's shape for lookups: its fan-out is
// sorted and its size agrees with its count. Unlike parseIdx it does not
// walk the tables: entries are checked as they are used.
func openIdx(b []byte, packSize int64) (*packIndex, error) {
	if len(b) < idxHeader+idxTrailer || !bytes.Equal(b[:4], []byte{0xff, 't', 'O', 'c'}) {
		return nil, fmt.Errorf("%w: not a version 2 index", errPackFormat)
	}
	if v := binary.BigEndian.Uint32(b[4:]); v != 2 {
		return nil, fmt.Errorf("%w: index version %d", errPackFormat, v)
	}
	var prev uint32
	for i := range 256 {
		f := binary.BigEndian.Uint32(b[8+4*i:])
		if f < prev {
			return nil, fmt.Errorf("%w: index fan-out not sorted", errPackFormat)
		}
		prev = f
	}
	n := int64(prev)
	if n > maxObjects || idxHeader+28*n+idxTrailer > int64(len(b)) {
		return nil, fmt.Errorf("%w: index too short for %d objects", errPackFormat, n)
	}
	rest := int64(len(b)) - (idxHeader + 28*n + idxTrailer)
	if rest%8 != 0 {
		return nil, fmt.Errorf("%w: index size", errPackFormat)
	}
	if packSize < packHeader+packSum {
		return nil, fmt.Errorf("%w: truncated pack", errPackFormat)
	}
	return &packIndex{
		n:       int(n),
		names:   b[idxHeader : idxHeader+20*n],
		offs:    b[idxHeader+24*n : idxHeader+28*n],
		large:   b[idxHeader+28*n : idxHeader+28*n+rest],
		packSum: b[len(b)-idxTrailer : len(b)-20],
	}, nil
}

// parseIdx parses a version-2 .idx of a pack of packSize bytes. Beyond
// openIdx's shape it checks the whole table (sorted unique ids, a fan-out
// that agrees with them, offsets inside the pack's object area), so that
// the reader may trust it afterwards.
func parseIdx(b []byte, packSize int64) (*packIndex, error) {
	x, err := openIdx(b, packSize)
	if err != nil {
		return nil, err
	}
	fan := b[8:idxHeader]
	// Ids strictly increasing, each counted in its fan-out bucket.
	k := 0
	for i := range x.n {
		id := x.names[20*i : 20*i+20]
		if i > 0 && bytes.Compare(x.names[20*(i-1):20*i], id) >= 0 {
			return nil, fmt.Errorf("%w: index ids not sorted", errPackFormat)
		}
		for k < int(id[0]) {
			if int(binary.BigEndian.Uint32(fan[4*k:])) != i {
				return nil, fmt.Errorf("%w: index fan-out disagrees with its ids", errPackFormat)
			}
			k++
		}
	}
	for ; k < 256; k++ {
		if int(binary.BigEndian.Uint32(fan[4*k:])) != x.n {
			return nil, fmt.Errorf("%w: index fan-out disagrees with its ids", errPackFormat)
		}
	}
	for i := range x.n {
		off, ok := x.offset(i)
		if !ok || off < packHeader || off >= packSize-packSum {
			return nil, fmt.Errorf("%w: object offset outside the pack", errPackFormat)
		}
	}
	return x, nil
}

// offset is the pack offset of the i-th id; false when it points past
// the large-offset table.
func (x *packIndex) offset(i int) (int64, bool) {
	o := binary.BigEndian.Uint32(x.offs[4*i:])
	if o&0x80000000 == 0 {
		return int64(o), true
	}
	k := int(o & 0x7fffffff)
	if k >= len(x.large)/8 {
		return 0, false
	}
	v := binary.BigEndian.Uint64(x.large[8*k:])
	if v > math.MaxInt64 {
		return 0, false
	}
	return int64(v), true
}

// id is the i-th object id.
func (x *packIndex) id(i int) (h plumbing.Hash) {
	copy(h[:], x.names[20*i:20*i+20])
	return h
}

// find is the position of id, or -1.
func (x *packIndex) find(id []byte) int {
	lo, hi := 0, x.n
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if bytes.Compare(x.names[20*m:20*m+20], id) < 0 {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo < x.n && bytes.Equal(x.names[20*lo:20*lo+20], id) {
		return lo
	}
	return -1
}

// checkPackHeader checks a pack's header against its index: the pack
// format's signature and version, and the index's object count.
func checkPackHeader(p []byte, x *packIndex) error {
	if len(p) < packHeader+packSum || !bytes.Equal(p[:4], []byte("PACK")) {
		return fmt.Errorf("%w: no pack signature", errPackFormat)
	}
	if v := binary.BigEndian.Uint32(p[4:]); v != 2 && v != 3 {
		return fmt.Errorf("%w: pack version %d", errPackFormat, v)
	}
	if n := binary.BigEndian.Uint32(p[8:]); int64(n) != int64(x.n) {
		return fmt.Errorf("%w: pack holds %d objects, its index %d", errPackFormat, n, x.n)
	}
	if !bytes.Equal(p[len(p)-packSum:], x.packSum) {
		return fmt.Errorf("%w: pack does not match its index", errPackFormat)
	}
	return nil
}

// entryHeader is a pack object's header.
type entryHeader struct {
	typ  int
	size int64 // the object's size, or a delta's instruction size
	// hdrLen is where the zlib stream starts, from the object's offset.
	hdrLen int
	// baseOff is an offset delta's base, as an offset in the pack.
	baseOff int64
	// baseID is a reference delta's base.
	baseID []byte
}

// parseEntryHeader parses the header of the object at offset off, whose
// bytes (up to the next object) are p.
func parseEntryHeader(p []byte, off int64) (entryHeader, error) {
	var h entryHeader
	if len(p) == 0 {
		return h, fmt.Errorf("%w: empty object", errPackFormat)
	}
	c := p[0]
	h.typ = int(c>>4) & 7
	size := uint64(c & 15)
	shift := uint(4)
	i := 1
	for c&0x80 != 0 {
		if i >= len(p) || shift > 56 {
			return h, fmt.Errorf("%w: object size", errPackFormat)
		}
		c = p[i]
		i++
		size |= uint64(c&0x7f) << shift
		shift += 7
	}
	if size > math.MaxInt64 {
		return h, fmt.Errorf("%w: object size", errPackFormat)
	}
	h.size = int64(size)
	switch h.typ {
	case packCommit, packTree, packBlob, packTag:
	case packOfsDelta:
		if i >= len(p) {
			return h, fmt.Errorf("%w: delta base offset", errPackFormat)
		}
		c = p[i]
		i++
		ofs := int64(c & 0x7f)
		for c&0x80 != 0 {
			if i >= len(p) || ofs >= math.MaxInt64>>7-1 {
				return h, fmt.Errorf("%w: delta base offset", errPackFormat)
			}
			c = p[i]
			i++
			ofs = (ofs+1)<<7 | int64(c&0x7f)
		}
		// A base comes before its delta, so offset chains cannot cycle.
		if ofs <= 0 || ofs > off-packHeader {
			return h, fmt.Errorf("%w: delta base offset", errPackFormat)
		}
		h.baseOff = off - ofs
	case packRefDelta:
		if len(p)-i < 20 {
			return h, fmt.Errorf("%w: delta base id", errPackFormat)
		}
		h.baseID = p[i : i+20]
		i += 20
	default:
		return h, fmt.Errorf("%w: object type %d", errPackFormat, h.typ)
	}
	h.hdrLen = i
	return h, nil
}

// deltaSizes reads the base and result sizes a delta starts with, and
// returns the instructions after them.
func deltaSizes(d []byte) (src, dst int64, ops []byte, err error) {
	src, d, err = deltaVarint(d)
	if err != nil {
		return 0, 0, nil, err
	}
	dst, d, err = deltaVarint(d)
	return src, dst, d, err
}

func deltaVarint(d []byte) (int64, []byte, error) {
	var v uint64
	for i, shift := 0, uint(0); i < len(d) && shift <= 56; i, shift = i+1, shift+7 {
		v |= uint64(d[i]&0x7f) << shift
		if d[i]&0x80 == 0 {
			if v > math.MaxInt64 {
				break
			}
			return int64(v), d[i+1:], nil
		}
	}
	return 0, nil, fmt.Errorf("%w: delta size", errPackFormat)
}

// applyDelta writes into out (exactly the delta's result size) the result
// of the instructions ops against base. Every copy must lie inside base,
// every insert inside ops, and together they must fill out exactly.
func applyDelta(base, ops, out []byte) error {
	w := 0
	for len(ops) > 0 {
		op := ops[0]
		ops = ops[1:]
		switch {
		case op&0x80 != 0:
			var off, n uint64
			for k := range 4 {
				if op&(1<<k) != 0 {
					if len(ops) == 0 {
						return fmt.Errorf("%w: delta copy", errPackFormat)
					}
					off |= uint64(ops[0]) << (8 * k)
					ops = ops[1:]
				}
			}
			for k := range 3 {
				if op&(0x10<<k) != 0 {
					if len(ops) == 0 {
						return fmt.Errorf("%w: delta copy", errPackFormat)
					}
					n |= uint64(ops[0]) << (8 * k)
					ops = ops[1:]
				}
			}
			if n == 0 {
				n = 0x10000
			}
			if off+n > uint64(len(base)) || n > uint64(len(out)-w) {
				return fmt.Errorf("%w: delta copy out of bounds", errPackFormat)
			}
			w += copy(out[w:], base[off:off+n])
		case op != 0:
			n := int(op)
			if n > len(ops) || n > len(out)-w {
				return fmt.Errorf("%w: delta insert out of bounds", errPackFormat)
			}
			w += copy(out[w:], ops[:n])
			ops = ops[n:]
		default:
			return fmt.Errorf("%w: delta instruction 0", errPackFormat)
		}
	}
	if w != len(out) {
		return fmt.Errorf("%w: delta result is %d bytes, not %d", errPackFormat, w, len(out))
	}
	return nil
}
