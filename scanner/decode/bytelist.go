package decode

import (
	"math/bits"

	"github.com/atomyx/atomyx-guard/patterns"
)

// Encoding names of the byte-list decoders.
const (
	// KindHex is a hex string, either case, its byte pairs written
	// together ("61746d78…") or apart ("61 74 6d 78", "61:74:…").
	KindHex = "hex"
	// KindByteArray is a byte-array literal in hex or decimal: Go's
	// []byte{0x61, 0x74, …}, JS's new Uint8Array([97, 116, …]), Python's
	// bytes([97, …]), C's and Java's {97,116,…}.
	KindByteArray = "byte-array"
)

// minListRun is the fewest characters a key written as a byte list can
// take (hex, byte pairs together: two per byte): shorter runs are skipped.
const minListRun = 2 * patterns.KeyLen

// maxListSep bounds the separator between two bytes of a list (", ",
// a line break and indentation).
const maxListSep = 16

// listSep marks the separators of byte lists.
var listSep = func() (t [256]bool) {
	for _, c := range []byte(" \t\r\n,:;-") {
		t[c] = true
	}
	return t
}()

// listChar marks the characters a byte list is made of: hex digits, the
// 'x' of 0x, and separators. A key written as a list is a run of them at
// least minListRun long.
var listChar = func() (t [256]bool) {
	t = listSep
	for _, c := range []byte("0123456789abcdefABCDEFxX") {
		t[c] = true
	}
	return t
}()

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// The list anchors are the byte 'm' of "atmx" as a hex pair (either case)
// or in decimal: "6d", "6D", "109" (marked by listAnchor and the vector
// code). The 'a' and 't' before it are found by walking back two bytes in
// each syntax; the checksum decides the rest.

// listMode is one syntax of byte lists.
type listMode uint8

const (
	listHex     listMode = iota // hex pairs, separators optional between pairs
	listHex0x                   // 0x61, 0x74: "0x" before each byte
	listDecimal                 // 97, 116: decimal, separators required
)

// byteLists decodes, around every anchor inside a long enough run of list
// characters, the 47 bytes a key written as a byte list would take, and
// looks for a key in them. The anchors are marked in s.marks[depth] (one
// vectorised pass with the other marks), so text without them costs a
// look at each word of marks; the run around an anchor is measured once
// for all the anchors in it.
func (s *Scanner) byteLists(l *level, depth int) {
	b := l.data
	ra, re := 0, 0 // the list run measured last
	anc := s.marks[depth].anc
	for k := 0; k < len(anc); k++ {
		if k = nextMarked(anc, k); k == len(anc) {
			break
		}
		for w := anc[k]; w != 0; w &= w - 1 {
			p := 64*k + bits.TrailingZeros64(w)
			if p >= re {
				ra, re = p, p+1
				for ra > 0 && listChar[b[ra-1]] {
					ra--
				}
				for re < len(b) && listChar[b[re]] {
					re++
				}
			}
			if re-ra >= minListRun && !s.listAnchor(l, depth, ra, re, p) {
				return
			}
		}
	}
}

// listAnchor tries the anchor at p, inside the run of list characters
// b[a:e]; false when the budget ran out.
func (s *Scanner) listAnchor(l *level, depth, a, e, p int) bool {
	b := l.data[:e]
	modes := [...]listMode{listHex, listHex0x}
	n := 2
	if b[p] == '1' {
		modes[0], n = listDecimal, 1
	}
	for _, m := range modes[:n] {
		start, ok := listBack(b, a, p, m)
		if !ok {
			continue
		}
		// A key's head first, unspent (an anchor costs a few bytes'
		// parse): only a whole "atmx_<env>_" is worth a key's decoding,
		// so runs of anchors cost no budget.
		s.leafB, s.pos[depth+1] = decodeList(s.leafB[:0], s.pos[depth+1][:0], b, start, 0, keyHeadLen, m)
		if !keyHead(s.leafB) {
			continue
		}
		if !s.spendLeaf(depth, start) {
			return false
		}
		s.listLeaf(l, depth, start, m)
	}
	return true
}

// listBack returns where the byte two before the one at p starts (its
// "0x" included), in mode m, not before a.
func listBack(b []byte, a, p int, m listMode) (int, bool) {
	switch m {
	case listHex0x:
		if p-2 < a || b[p-2] != '0' || b[p-1]|0x20 != 'x' || p+2 < len(b) && HexDigit(b[p+2]) >= 0 {
			return 0, false
		}
		p -= 2
	case listDecimal:
		if p > a && isDigit(b[p-1]) || p+3 < len(b) && isDigit(b[p+3]) {
			return 0, false
		}
	}
	for range 2 {
		q := p
		for q > a && p-q < maxListSep && listSep[b[q-1]] {
			q--
		}
		if m == listDecimal && q == p {
			return 0, false // decimal bytes need a separator
		}
		switch m {
		case listHex:
			if q-2 < a || HexDigit(b[q-1]) < 0 || HexDigit(b[q-2]) < 0 {
				return 0, false
			}
			p = q - 2
		case listHex0x:
			if q-4 < a || HexDigit(b[q-1]) < 0 || HexDigit(b[q-2]) < 0 || b[q-4] != '0' || b[q-3]|0x20 != 'x' {
				return 0, false
			}
			p = q - 4
		case listDecimal:
			d := q
			for d > a && q-d < 3 && isDigit(b[d-1]) {
				d--
			}
			if d == q || d > a && isDigit(b[d-1]) {
				return 0, false
			}
			p = d
		}
	}
	return p, true
}

// parseListByte parses one byte in mode m at b[i] and returns its value
// and length.
func parseListByte(b []byte, i int, m listMode) (byte, int, bool) {
	switch m {
	case listHex:
		if i+2 > len(b) || HexDigit(b[i]) < 0 || HexDigit(b[i+1]) < 0 {
			return 0, 0, false
		}
		return byte(HexDigit(b[i])<<4 | HexDigit(b[i+1])), 2, true
	case listHex0x:
		if i+3 > len(b) || b[i] != '0' || b[i+1]|0x20 != 'x' || HexDigit(b[i+2]) < 0 {
			return 0, 0, false
		}
		v, n := HexDigit(b[i+2]), 3
		if i+3 < len(b) && HexDigit(b[i+3]) >= 0 {
			v, n = v<<4|HexDigit(b[i+3]), 4
		}
		if i+n < len(b) && HexDigit(b[i+n]) >= 0 {
			return 0, 0, false // more than two digits: not a byte
		}
		return byte(v), n, true
	default:
		v, n := 0, 0
		for i+n < len(b) && n < 3 && isDigit(b[i+n]) {
			v = v*10 + int(b[i+n]-'0')
			n++
		}
		if n == 0 || v > 255 || i+n < len(b) && isDigit(b[i+n]) {
			return 0, 0, false
		}
		return byte(v), n, true
	}
}

// decodeList appends to dst up to max bytes of the list in mode m starting
// at b[i], and to pos the offset (plus base) where each starts; it stops at
// the first thing that is not the list's next byte.
func decodeList(dst []byte, pos []int32, b []byte, i, base, max int, m listMode) ([]byte, []int32) {
	for n := 0; n < max; n++ {
		if n > 0 {
			q := i
			for q < len(b) && q-i < maxListSep && listSep[b[q]] {
				q++
			}
			if m == listDecimal && q == i {
				break
			}
			i = q
		}
		v, w, ok := parseListByte(b, i, m)
		if !ok {
			break
		}
		dst = append(dst, v)
		pos = append(pos, int32(base+i))
		i += w
	}
	return dst, pos
}

// listLeaf decodes a key's worth of bytes of the list starting at b[start]
// and reports a key in them. The positions go in s.pos[depth+1], free
// while level depth runs its own decoders.
func (s *Scanner) listLeaf(l *level, depth, start int, m listMode) {
	s.leafB, s.pos[depth+1] = decodeList(s.leafB[:0], s.pos[depth+1][:0], l.data, start, 0, patterns.KeyLen, m)
	kind := KindByteArray
	if m == listHex {
		kind = KindHex
	}
	s.findLeaf(l, kind, s.pos[depth+1])
}

// keyHeadLen is the length of a key's head: "atmx_", an environment code
// and '_'.
const keyHeadLen = 9

// keyHead says whether d starts with a key's head.
func keyHead(d []byte) bool {
	return len(d) >= keyHeadLen && string(d[:5]) == patterns.Prefix && d[8] == '_' && patterns.EnvironmentOf(d) != ""
}

// findLeaf reports the candidates in s.leafB, a short decoding of a region
// of l whose bytes map to l's offsets through pos.
func (s *Scanner) findLeaf(l *level, kind string, pos []int32) {
	if len(pos) == 0 {
		return
	}
	leaf := &s.leaf
	*leaf = level{data: s.leafB, atEOF: true, kind: kind, parent: l, m: mapping{how: mapTable, pos: pos}}
	patterns.Find(leaf.data, 0, true, func(c patterns.Candidate) { s.emit(leaf, c) })
}
