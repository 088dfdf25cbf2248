package decode

// The prefilter: decode only where a key can be.
//
// Everything a key can be hidden under decodes, one level down, to a
// stretch of ASCII: the key itself (47 bytes of base62 and '_'), and every
// encoding the Scanner undoes (base64, base32, hex and byte lists,
// percent, JS and HTML escapes: all printable ASCII; UTF-16 of ASCII:
// printable bytes and NULs). So a decoded level holds nothing to find
// unless it has a stretch of at least minText bytes below 0x80, and a
// base64 run decodes to nothing to find unless, at one of its four group
// alignments, its characters spell such a stretch. Both are tested by
// probing, without decoding: random binary under base64 (certificates,
// images, fonts and WebAssembly inlined in bundles) is passed over at the
// cost of a look at one group of characters in thirteen.

// minText is the shortest stretch of ASCII bytes the prefilter lets
// through: shorter than any key (47 bytes) or encoded key.
const minText = 42

// textByte marks the bytes a decoded key or encoded key is made of:
// ASCII, NUL included (UTF-16).
func textByte(c byte) bool { return c < 0x80 }

// hasText reports whether b holds a stretch of at least minText ASCII
// bytes. Such a stretch covers a byte at an index ≡ minText-1 (mod
// minText): only those are probed, and the stretch is measured around the
// ones that are ASCII.
func hasText(b []byte) bool {
	for i := minText - 1; i < len(b); i += minText {
		if !textByte(b[i]) {
			continue
		}
		a, e := i, i+1
		for a > 0 && textByte(b[a-1]) && e-a < minText {
			a--
		}
		for e < len(b) && textByte(b[e]) && e-a < minText {
			e++
		}
		if e-a >= minText {
			return true
		}
	}
	return false
}

// In base64, the top bit of a group's three bytes is bit 5 of its first
// character, bit 3 of its second, bit 1 of its third. asciiOK[c] has bit k
// set when character c, at index k of its group, leaves its byte's top bit
// zero.
var asciiOK = func() (t [256]uint8) {
	masks := [4]byte{32, 8, 2, 0}
	for c := range 256 {
		v := b64val[c]
		if v == 0xff {
			continue
		}
		for k, m := range masks {
			if v&m == 0 {
				t[c] |= 1 << k
			}
		}
	}
	return t
}()

// phaseOK[x][r] rotates the 4-bit set x (bit k: fine at group index k)
// for a character at index r (mod 4) of the run: bit m of the result says
// the character is fine when the run's groups start at index ≡ -m.
var phaseOK = func() (t [16][4]uint8) {
	for x := range 16 {
		for r := range 4 {
			for m := range 4 {
				if x>>((r+m)&3)&1 == 1 {
					t[x][r] |= 1 << m
				}
			}
		}
	}
	return t
}()

// textOK[r][c] is phaseOK[asciiOK[c]][r]: one lookup a character.
var textOK = func() (t [4][256]uint8) {
	for r := range 4 {
		for c := range 256 {
			t[r][c] = phaseOK[asciiOK[c]][r]
		}
	}
	return t
}()

// minTextChars is the base64 characters minText bytes take, less the
// characters a stretch may lose at its ends to a group it shares.
const minTextChars = minText * 4 / 3

// textProbe is the spacing of probes in base64Text: a stretch of
// minTextChars characters holds two probes of four consecutive characters
// each, at consecutive multiples of it.
const textProbe = (minTextChars - 3) / 2

// base64Text reports whether the base64 characters chars, at one of the
// four group alignments, decode to a stretch of at least minText ASCII
// bytes: the only runs a key or a nested encoding can hide in. A stretch
// is measured only where two consecutive probes agree on an alignment,
// which random base64 does about once in sixteen probes.
func base64Text(chars []byte) bool {
	ok := func(i int) uint8 { return textOK[i&3][chars[i]] }
	prev := uint8(0) // alignments the previous probe allows
	for i := 0; i+4 <= len(chars); i += textProbe {
		set := ok(i) & ok(i+1) & ok(i+2) & ok(i+3)
		both := set & prev
		prev = set
		if both == 0 {
			continue
		}
		// A stretch holding both probes holds the characters between
		// them: test those first, all of them and without a branch each
		// (random base64 fails within a few, at a mispredicted exit). A
		// stretch that holds this probe and not the previous one holds
		// the next, and is measured there.
		for j := i - textProbe + 4; j < i; j++ {
			both &= ok(j)
		}
		if both == 0 {
			continue
		}
		for m := range 4 {
			if both>>m&1 == 0 {
				continue
			}
			bit := uint8(1) << m
			a, e := i, i+4
			for a > 0 && ok(a-1)&bit != 0 && e-a < minTextChars {
				a--
			}
			for e < len(chars) && ok(e)&bit != 0 && e-a < minTextChars {
				e++
			}
			if e-a >= minTextChars {
				return true
			}
		}
	}
	return false
}
