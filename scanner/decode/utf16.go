package decode

import (
	"unicode/utf16"
	"unicode/utf8"
)

// UTF16 appends to dst the UTF-8 form of src read as UTF-16, little-endian
// unless bigEndian. A leading byte-order mark is dropped whatever its order;
// unpaired surrogates become U+FFFD; a trailing odd byte is dropped.
func UTF16(dst, src []byte, bigEndian bool) []byte {
	unit := func(i int) uint16 {
		if bigEndian {
			return uint16(src[i])<<8 | uint16(src[i+1])
		}
		return uint16(src[i+1])<<8 | uint16(src[i])
	}
	i := 0
	if len(src) >= 2 && (src[0] == 0xFF && src[1] == 0xFE || src[0] == 0xFE && src[1] == 0xFF) {
		i = 2
	}
	for ; i+1 < len(src); i += 2 {
		u := unit(i)
		r := rune(u)
		switch {
		case utf16.IsSurrogate(r) && u < 0xDC00 && i+3 < len(src):
			if r2 := rune(unit(i + 2)); 0xDC00 <= r2 && r2 < 0xE000 {
				r = utf16.DecodeRune(r, r2)
				i += 2
			} else {
				r = utf8.RuneError
			}
		case utf16.IsSurrogate(r):
			r = utf8.RuneError
		}
		dst = utf8.AppendRune(dst, r)
	}
	return dst
}

// printable marks the ASCII bytes a UTF-16 text run is made of: a key and
// the text around it.
var printable = func() (t [256]bool) {
	for c := 0x20; c < 0x7f; c++ {
		t[c] = true
	}
	t['\t'], t['\n'], t['\r'] = true, true, true
	return t
}()
