package decode

import (
	"bytes"
	"math/bits"
)

// marks locates, in one pass over a level, where its searches start:
//
//   - x: the ends of the vendor prefix "atmx" (patterns.FindFragmentsMarked);
//   - esc[k]: the introducers of escape kind k that can start a relevant
//     escape: followed by a byte that quickSkip does not rule out, or by
//     any byte and then 'a' (an escape right before a key prefix);
//   - b64: the base64 characters (isB64), for the bounds of base64 runs;
//   - anc: the byte-list anchors ("6d", "6D", "109": the 'm' of "atmx"
//     in hex or decimal), where byteLists looks.
//
// Bit j of word k stands for b[64k+j]. With AVX2 one vectorised pass sets
// them all (without, none are made; see scalar.go), at about the cost of one bytes.IndexByte pass over text that
// holds none of those bytes; where they are dense (minified JS has a '\\'
// or '&' every few dozen bytes, base64 an 'x' every 64 and a base64
// character everywhere) the searches then walk set bits instead of paying
// a call, a table walk or a cache miss per byte found. Elsewhere marks
// are set by byte searches (markSparse).
type marks struct {
	x   []uint64
	esc [3][]uint64 // by escKind
	b64 []uint64
	anc []uint64
	at  []int // for offsets and base64Runs
}

// offsets returns the offsets of the marks in words, plus base, in order,
// in m.at (valid until the next call).
func (m *marks) offsets(words []uint64, base int) []int {
	at := m.at[:0]
	for k := 0; k < len(words); k++ {
		if k = nextMarked(words, k); k == len(words) {
			break
		}
		for w := words[k]; w != 0; w &= w - 1 {
			at = append(at, base+64*k+bits.TrailingZeros64(w))
		}
	}
	m.at = at
	return at
}

// mark fills m for b.
func (m *marks) mark(b []byte) {
	if !hasVector {
		// Without vectors no marks are made: the searches go by byte
		// searches and probes (scalar.go), cheaper there than marking
		// every byte would be; nil base64 marks make segStart and segEnd
		// walk the bytes.
		m.b64 = nil
		return
	}
	n := (len(b) + 63) / 64
	m.x = resize(m.x, n)
	for k := range m.esc {
		m.esc[k] = resize(m.esc[k], n)
	}
	m.b64 = resize(m.b64, n)
	m.anc = resize(m.anc, n)
	// The vector code reads 3 bytes before a block and 2 after it.
	from, to := 1, (len(b)-2)/64
	if to <= from {
		m.markRange(b, 0, len(b))
		return
	}
	markVector(b, from, to-from, m)
	m.markRange(b, 0, 64*from)
	m.markRange(b, 64*to, len(b))
}

// markRange sets the marks of b[from:to] (from a multiple of 64), clearing
// the words it covers first: without vectors, the whole level. A table
// lookup a byte for base64 characters and anchor candidates, a word of
// marks at a time; byte searches for the sparser kinds.
func (m *marks) markRange(b []byte, from, to int) {
	if from >= to {
		return
	}
	for k := from / 64; k < (to+63)/64; k++ {
		m.x[k], m.esc[0][k], m.esc[1][k], m.esc[2][k] = 0, 0, 0, 0
		var b64, cand uint64
		blk := b[64*k : min(to, 64*k+64)]
		q := 0
		for ; q+8 <= len(blk); q += 8 {
			// The classes of eight bytes, a byte each, then each bit
			// plane gathered into a byte (gather8).
			c := blk[q : q+8 : q+8]
			v := uint64(byteClass[c[0]]) | uint64(byteClass[c[1]])<<8 | uint64(byteClass[c[2]])<<16 |
				uint64(byteClass[c[3]])<<24 | uint64(byteClass[c[4]])<<32 | uint64(byteClass[c[5]])<<40 |
				uint64(byteClass[c[6]])<<48 | uint64(byteClass[c[7]])<<56
			b64 |= gather8(v) << q
			cand |= gather8(v>>1) << q
		}
		for ; q < len(blk); q++ {
			t := byteClass[blk[q]]
			b64 |= uint64(t&1) << q
			cand |= uint64(t>>1&1) << q
		}
		var anc uint64
		for ; cand != 0; cand &= cand - 1 {
			if j := bits.TrailingZeros64(cand); listAnchor(b, 64*k+j) != 0 {
				anc |= 1 << j
			}
		}
		m.b64[k], m.anc[k] = b64, anc
	}
	for k, c := range escIntro {
		for i := from; i < to; i++ {
			j := bytes.IndexByte(b[i:to], c)
			if j < 0 {
				break
			}
			i += j
			if introducer(b, i, escKind(k)) {
				m.esc[k][i/64] |= 1 << (i % 64)
			}
		}
	}
	for i := from; i < to; i++ {
		j := bytes.IndexByte(b[i:to], 'x')
		if j < 0 {
			break
		}
		i += j
		if i >= 3 && string(b[i-3:i+1]) == "atmx" {
			m.x[i/64] |= 1 << (i % 64)
		}
	}
}

// gather8 returns bit 0 of each byte of v, byte j's in bit j: the
// multiplication moves each to bits 56 to 63 without a carry.
func gather8(v uint64) uint64 {
	return (v & 0x0101010101010101) * 0x0102040810204080 >> 56
}

// byteClass has bit 0 set for a base64 character, bit 1 for the first
// byte of a byte-list anchor ('6', '1').
var byteClass = func() (t [256]uint8) {
	for c := range t {
		if isB64(byte(c)) {
			t[c] |= 1
		}
	}
	t['6'] |= 2
	t['1'] |= 2
	return t
}()

// listAnchor returns the byte-list anchor at b[i] ("6d", "6D", "109"),
// or 0.
func listAnchor(b []byte, i int) byte {
	switch {
	case i+1 < len(b) && b[i] == '6' && b[i+1]|0x20 == 'd':
		return 'h' // hex
	case i+2 < len(b) && b[i] == '1' && b[i+1] == '0' && b[i+2] == '9':
		return 'd' // decimal
	}
	return 0
}

// introducer says whether b[p], the introducer of kind k, can start a
// relevant escape (the vector code's test, and markRange's): not ruled
// out by quickSkip, and for a named character reference, a name of at
// least two letters (entity has no shorter one: "&&e.x" in minified code
// is no reference), or followed by any byte and 'a'.
func introducer(b []byte, p int, k escKind) bool {
	if p+1 >= len(b) {
		return false
	}
	if p+2 < len(b) && b[p+2] == 'a' {
		return true
	}
	if quickSkip[k][b[p+1]] {
		return false
	}
	return k != escHTML || b[p+1] == '#' || p+2 < len(b) && isLetter(b[p+2])
}

func isLetter(c byte) bool { return 'a' <= c|0x20 && c|0x20 <= 'z' }

// nextMarked returns the index of the first word of words at or after k
// that is not zero, or len(words): four words a test, where marks are
// sparse.
func nextMarked(words []uint64, k int) int {
	for k+4 <= len(words) && words[k]|words[k+1]|words[k+2]|words[k+3] == 0 {
		k += 4
	}
	for k < len(words) && words[k] == 0 {
		k++
	}
	return k
}

func resize(w []uint64, n int) []uint64 {
	if cap(w) < n {
		return make([]uint64, n, n+n/4)
	}
	return w[:n]
}
