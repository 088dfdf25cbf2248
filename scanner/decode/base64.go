package decode

// b64val maps a byte to its 6-bit value in the union of the standard and
// URL-safe alphabets ('+' and '-' are 62, '/' and '_' are 63); 0xff marks
// any other byte.
var b64val = func() (t [256]byte) {
	for i := range t {
		t[i] = 0xff
	}
	const std = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	for i := 0; i < len(std); i++ {
		t[std[i]] = byte(i)
	}
	t['-'] = 62
	t['_'] = 63
	return t
}()

func isB64(c byte) bool { return b64val[c] != 0xff }

// Base64 appends to dst what src decodes to. Both alphabets are accepted,
// even mixed; padding is optional; spaces, tabs, CR and LF between
// characters are skipped (line-wrapped base64). Decoding ends at padding or
// at the first byte that is none of these. A trailing single character,
// which carries no whole byte, is dropped.
func Base64(dst, src []byte) []byte {
	chars := make([]byte, 0, len(src))
	for _, c := range src {
		if isB64(c) {
			chars = append(chars, c)
			continue
		}
		if c == ' ' || c == '\t' || c == '\r' || c == '\n' {
			continue
		}
		break
	}
	return decodeChars(dst, chars, 0)
}

// decodeChars appends the bytes encoded by chars, all of which are base64
// characters, as if p characters of the first group came before chars[0]
// (0 <= p < 4). The bytes that depend on those missing characters are not
// produced: the first byte out is byte p of the virtual stream, so that
// byte i of the output is encoded from character charOf(i, p) on.
func decodeChars(dst, chars []byte, p int) []byte {
	if p > 0 {
		var v [4]byte
		a := min(4-p, len(chars))
		for i := range a {
			v[p+i] = b64val[chars[i]]
		}
		n := (p + a) * 6 / 8 // whole bytes in the group
		x := uint32(v[0])<<18 | uint32(v[1])<<12 | uint32(v[2])<<6 | uint32(v[3])
		g := [3]byte{byte(x >> 16), byte(x >> 8), byte(x)}
		if n > p {
			dst = append(dst, g[p:n]...)
		}
		chars = chars[a:]
	}
	full := len(chars) / 4
	start := len(dst)
	dst = grow(dst, full*3+2)
	out := dst[start : start+full*3]
	for i := range full {
		c := chars[i*4 : i*4+4 : i*4+4]
		x := uint32(b64val[c[0]])<<18 | uint32(b64val[c[1]])<<12 | uint32(b64val[c[2]])<<6 | uint32(b64val[c[3]])
		o := out[i*3 : i*3+3 : i*3+3]
		o[0], o[1], o[2] = byte(x>>16), byte(x>>8), byte(x)
	}
	dst = dst[:start+full*3]
	switch rest := chars[full*4:]; len(rest) {
	case 2:
		x := uint32(b64val[rest[0]])<<18 | uint32(b64val[rest[1]])<<12
		dst = append(dst, byte(x>>16))
	case 3:
		x := uint32(b64val[rest[0]])<<18 | uint32(b64val[rest[1]])<<12 | uint32(b64val[rest[2]])<<6
		dst = append(dst, byte(x>>16), byte(x>>8))
	}
	return dst
}

// charOf returns the index, relative to the first real character, of the
// character holding the first bit of output byte i of decodeChars(_, _, p).
func charOf(i, p int) int {
	k := i + p
	return 4*(k/3) + k%3 - p
}

// grow makes room for n more bytes without changing len(b).
func grow(b []byte, n int) []byte {
	if cap(b)-len(b) >= n {
		return b
	}
	nb := make([]byte, len(b), 2*cap(b)+n)
	copy(nb, b)
	return nb
}

// anchor is the part of the base64 encoding of the key prefix that does not
// depend on the bytes around it, for one alignment of the prefix.
type anchor struct {
	lit []byte
	// at is the index, from the start of the group holding the prefix's
	// first byte, of the anchor's first character.
	at int
}

// anchors holds the stable base64 characters of "atmx_" for each of the
// three byte alignments, in both alphabets where they differ.
var anchors = func() []anchor {
	const prefix = "atmx_"
	const std = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	const url = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	var out []anchor
	for t := range 3 {
		bits := make([]byte, 0, 64)
		for range t {
			bits = append(bits, make([]byte, 8)...)
		}
		for i := 0; i < len(prefix); i++ {
			for b := 7; b >= 0; b-- {
				bits = append(bits, prefix[i]>>b&1)
			}
		}
		lo, hi := 8*t, 8*t+8*len(prefix) // prefix bits
		for _, alpha := range []string{std, url} {
			var lit []byte
			first := -1
			for k := 0; 6*k+6 <= hi; k++ {
				if 6*k < lo {
					continue
				}
				v := 0
				for _, bit := range bits[6*k : 6*k+6] {
					v = v<<1 | int(bit)
				}
				if first < 0 {
					first = k
				}
				lit = append(lit, alpha[v])
			}
			if len(out) > 0 && string(out[len(out)-1].lit) == string(lit) {
				continue
			}
			out = append(out, anchor{lit: lit, at: first})
		}
	}
	return out
}()
