package bundle

import (
	"bytes"
	"unicode/utf8"
)

// escWidth returns, for the JSON string text at b[i], how many raw bytes
// the next character takes, how many bytes it decodes to, and whether it
// is a newline.
func escWidth(b []byte, i int) (raw, dec int, nl bool) {
	c := b[i]
	if c != '\\' {
		if c < utf8.RuneSelf {
			return 1, 1, false
		}
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size == 1 {
			return 1, 3, false // decoded as U+FFFD
		}
		return size, size, false
	}
	if i+1 >= len(b) {
		return 1, 1, false
	}
	if b[i+1] != 'u' {
		return 2, 1, b[i+1] == 'n'
	}
	r, ok := hex4(b, i+2)
	if !ok {
		return 2, 1, false
	}
	if r >= 0xD800 && r < 0xDC00 && i+11 < len(b) && b[i+6] == '\\' && b[i+7] == 'u' {
		if r2, ok := hex4(b, i+8); ok && r2 >= 0xDC00 && r2 < 0xE000 {
			return 12, 4, false
		}
	}
	if r >= 0xD800 && r < 0xE000 {
		return 6, 3, false
	}
	return 6, utf8.RuneLen(rune(r)), r == '\n'
}

func hex4(b []byte, i int) (int, bool) {
	if i+4 > len(b) {
		return 0, false
	}
	v := 0
	for _, c := range b[i : i+4] {
		switch {
		case c >= '0' && c <= '9':
			v = v<<4 | int(c-'0')
		case c >= 'a' && c <= 'f':
			v = v<<4 | int(c-'a'+10)
		case c >= 'A' && c <= 'F':
			v = v<<4 | int(c-'A'+10)
		default:
			return 0, false
		}
	}
	return v, true
}

// rawPosition returns the 1-based line and byte column, in the decoded
// string, of the raw offset off within the string body b[start:end]. Runs
// without escapes are skipped whole (invalid UTF-8 in them, which decodes
// to U+FFFD, is counted as its raw bytes).
func rawPosition(b []byte, start, end, off int) (line, col int) {
	line, col = 1, 1
	off = min(off, end)
	for i := start; i < off; {
		j := bytes.IndexByte(b[i:off], '\\')
		if j < 0 {
			col += off - i
			break
		}
		col += j
		i += j
		raw, dec, nl := escWidth(b[:end], i)
		if nl {
			line, col = line+1, 1
		} else {
			col += dec
		}
		i += raw
	}
	return line, col
}

// rawOffset returns the raw offset, within b[start:end], of the decoded
// byte offset doff.
func rawOffset(b []byte, start, end, doff int) int {
	i, d := start, 0
	for i < end && d < doff {
		raw, dec, _ := escWidth(b[:end], i)
		i += raw
		d += dec
	}
	return i
}
