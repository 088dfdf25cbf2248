package decode

import (
	"bytes"
	"encoding/base32"

	"github.com/atomyx/atomyx-guard/patterns"
)

// KindBase32 is RFC 4648 base32 (A-Z, 2-7), either case, padded or not.
const KindBase32 = "base32"

// minBase32Run is the fewest base32 characters that can hold a key: 47
// bytes are 376 bits, 76 characters at best.
const minBase32Run = (patterns.KeyLen*8 + 4) / 5

// b32val is the value of a base32 character of either case; 0xff marks
// the others.
var b32val = func() (t [256]byte) {
	for i := range t {
		t[i] = 0xff
	}
	const alpha = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
	for i := 0; i < len(alpha); i++ {
		t[alpha[i]] = byte(i)
		t[alpha[i]|0x20] = byte(i) // lower case; digits map to themselves
	}
	return t
}()

func isB32(c byte) bool { return b32val[c] != 0xff }

// b32Anchor is the run of base32 characters that "atmx_" always encodes
// to when it starts r bytes into a 5-byte group: at is the index of its
// first character from the group's start.
type b32Anchor struct {
	upper, lower []byte
	r, at        int
}

var b32Anchors = func() []b32Anchor {
	var out []b32Anchor
	for r := range 5 {
		src := append(make([]byte, r), patterns.Prefix...)
		enc := base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(src)
		// Character c holds bits [5c, 5c+5): it depends on the prefix
		// alone when those bits lie within [8r, 8r+40).
		first := (8*r + 4) / 5
		last := (8*r+40)/5 - 1
		lit := enc[first : last+1]
		out = append(out, b32Anchor{upper: []byte(lit), lower: bytes.ToLower([]byte(lit)), r: r, at: first})
	}
	return out
}()

// Base32 appends to dst the decoding of the base32 characters of src
// (either case; anything else, padding included, is skipped), leaving out
// a last partial byte.
func Base32(dst, src []byte) []byte {
	var acc uint64
	bits := 0
	for _, c := range src {
		v := b32val[c]
		if v == 0xff {
			continue
		}
		acc = acc<<5 | uint64(v)
		bits += 5
		if bits >= 8 {
			bits -= 8
			dst = append(dst, byte(acc>>bits))
		}
	}
	return dst
}

// base32Run looks for the encoded prefix at each alignment in the base32
// runs of b[a:e], a run of base64 characters (base32's alphabet is a
// subset of base64's, so base64Runs's probes find every base32 run and
// this costs no pass of its own); false when the budget ran out.
func (s *Scanner) base32Run(l *level, depth, a, e int) bool {
	b := l.data
	for ra := a; ra < e; {
		for ra < e && !isB32(b[ra]) {
			ra++
		}
		re := ra
		for re < e && isB32(b[re]) {
			re++
		}
		if re-ra >= minBase32Run && !s.base32Anchors(l, depth, ra, re) {
			return false
		}
		ra = re
	}
	return true
}

// base32Anchors decodes a key's worth of bytes around every encoded prefix
// in the base32 run b[a:e].
func (s *Scanner) base32Anchors(l *level, depth, a, e int) bool {
	b := l.data
	for _, anc := range b32Anchors {
		for _, lit := range [...][]byte{anc.upper, anc.lower} {
			for off := a; off < e; {
				x := bytes.Index(b[off:e], lit)
				if x < 0 {
					break
				}
				at := off + x
				off = at + 1
				// The key's head first, unspent, as for byte lists.
				if !s.base32Leaf(l, depth, a, e, at-anc.at, anc.r, keyHeadLen) {
					continue
				}
				if !s.spendLeaf(depth, at) {
					return false
				}
				s.base32Leaf(l, depth, a, e, at-anc.at, anc.r, patterns.KeyLen)
			}
		}
	}
	return true
}

// base32Leaf decodes, from the group starting at character g of the run
// b[a:e] (before a when the run starts mid-group: the missing characters
// count as zeros), the r bytes before the key and n bytes after. With n =
// keyHeadLen it only says whether they start a key's head; with a key's
// length it reports the key in them.
func (s *Scanner) base32Leaf(l *level, depth, a, e, g, r, n int) bool {
	b := l.data
	nBytes := r + n
	nChars := (nBytes*8 + 4) / 5
	d, pos := s.leafB[:0], s.pos[depth+1][:0]
	var acc uint64
	bits := 0
	for c := g; c < g+nChars && c < e && len(d) < nBytes; c++ {
		var v byte
		if c >= a {
			v = b32val[b[c]]
		}
		acc = acc<<5 | uint64(v)
		bits += 5
		if bits >= 8 {
			bits -= 8
			d = append(d, byte(acc>>bits))
			// The byte's first bit is in character g + 8j/5.
			pos = append(pos, int32(max(a, g+8*(len(d)-1)/5)))
		}
	}
	s.leafB, s.pos[depth+1] = d, pos
	if n < patterns.KeyLen {
		return len(d) > r && keyHead(d[r:])
	}
	s.findLeaf(l, KindBase32, pos)
	return true
}
