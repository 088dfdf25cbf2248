package decode

import (
	"bytes"
	"unicode/utf8"
)

// An escape kind: one escape syntax, recognised at its introducer byte.
type escKind uint8

const (
	escPercent escKind = iota
	escJS
	escHTML
)

var escIntro = [...]byte{escPercent: '%', escJS: '\\', escHTML: '&'}
var escName = [...]string{escPercent: KindPercent, escJS: KindJSEscape, escHTML: KindHTMLEntity}

// Percent appends to dst the percent-decoding of src: each %XX (two hex
// digits, either case) becomes the byte XX; everything else, '+' included,
// is copied.
func Percent(dst, src []byte) []byte {
	d, _ := decodeEsc(escPercent, dst, nil, src, 0, false)
	return d
}

// JSEscape appends to dst the decoding of the JavaScript/JSON string escapes
// in src: \xNN, \uNNNN (surrogate pairs joined), \u{N…} (up to 6 digits),
// \/ \\ \" \' \b \f \n \r \t \v \0, as UTF-8. Other backslashes are copied.
func JSEscape(dst, src []byte) []byte { d, _ := decodeEsc(escJS, dst, nil, src, 0, false); return d }

// HTMLEntity appends to dst the decoding of the HTML character references in
// src: decimal (&#95;) and hex (&#x5f;), the final ';' optional, and the
// named references that can stand for a character of a key or of another
// encoding (&lowbar;, &UnderBar;, &amp;, &sol;, &plus;, &equals;, …), as
// UTF-8. Unknown names are copied.
func HTMLEntity(dst, src []byte) []byte {
	d, _ := decodeEsc(escHTML, dst, nil, src, 0, false)
	return d
}

// decodeEsc appends the decoding of src to dst and, when track is set,
// appends to pos for every byte out the offset (plus base) of the source
// byte that started its escape or literal.
func decodeEsc(k escKind, dst []byte, pos []int32, src []byte, base int, track bool) ([]byte, []int32) {
	intro := escIntro[k]
	for i := 0; i < len(src); {
		j := bytes.IndexByte(src[i:], intro)
		if j < 0 {
			j = len(src) - i
		}
		if j > 0 { // literal bytes
			dst = append(dst, src[i:i+j]...)
			if track {
				for x := range j {
					pos = append(pos, int32(base+i+x))
				}
			}
			i += j
			continue
		}
		if r, n, ok := parseEsc(k, src, i); ok {
			before := len(dst)
			if k == escPercent {
				dst = append(dst, byte(r))
			} else {
				dst = utf8.AppendRune(dst, r)
			}
			if track {
				for range len(dst) - before {
					pos = append(pos, int32(base+i))
				}
			}
			i += n
			continue
		}
		dst = append(dst, intro)
		if track {
			pos = append(pos, int32(base+i))
		}
		i++
	}
	return dst, pos
}

// parseEsc parses one escape of kind k at b[i] (the introducer) and returns
// the character it stands for and its length. For percent-encoding the
// "character" is a byte value.
func parseEsc(k escKind, b []byte, i int) (rune, int, bool) {
	switch k {
	case escPercent:
		return parsePercent(b, i)
	case escJS:
		return parseJS(b, i)
	default:
		return parseEntity(b, i)
	}
}

// HexDigit is the value of one hex digit, either case, or -1: shared by
// every reader of hex escapes (JS, percent, entities, PDF and RTF).
func HexDigit(c byte) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case 'a' <= c && c <= 'f':
		return int(c-'a') + 10
	case 'A' <= c && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

// hexN parses exactly n hex digits at b[i:], without a branch per digit
// (escapes are parsed by the ten thousand in minified code).
func hexN(b []byte, i, n int) (rune, bool) {
	if i+n > len(b) {
		return 0, false
	}
	var v rune
	bad := uint8(0)
	for _, c := range b[i : i+n] {
		d := hexVal[c]
		bad |= d
		v = v<<4 | rune(d&0xf)
	}
	return v, bad&0x80 == 0
}

// hexVal is HexDigit as a table: the digit's value, or 0xff.
var hexVal = func() (t [256]uint8) {
	for c := range t {
		t[c] = uint8(HexDigit(byte(c)))
	}
	return t
}()

func parsePercent(b []byte, i int) (rune, int, bool) {
	v, ok := hexN(b, i+1, 2)
	return v, 3, ok
}

var jsSimple = [256]byte{'/': '/', '\\': '\\', '"': '"', '\'': '\'', 'b': '\b', 'f': '\f', 'n': '\n', 'r': '\r', 't': '\t', 'v': '\v'}

func parseJS(b []byte, i int) (rune, int, bool) {
	if i+1 >= len(b) {
		return 0, 0, false
	}
	switch c := b[i+1]; c {
	case 'x':
		v, ok := hexN(b, i+2, 2)
		return v, 4, ok
	case 'u':
		if i+2 < len(b) && b[i+2] == '{' {
			var v rune
			j := i + 3
			for ; j < len(b) && j-(i+3) <= 6; j++ {
				if b[j] == '}' {
					break
				}
				d := HexDigit(b[j])
				if d < 0 {
					return 0, 0, false
				}
				v = v<<4 | rune(d)
			}
			if j >= len(b) || b[j] != '}' || j == i+3 || j-(i+3) > 6 {
				return 0, 0, false
			}
			if v > utf8.MaxRune {
				v = utf8.RuneError
			}
			return v, j + 1 - i, true
		}
		v, ok := hexN(b, i+2, 4)
		if !ok {
			return 0, 0, false
		}
		if 0xD800 <= v && v < 0xDC00 { // high surrogate: join a following low one
			if i+11 < len(b) && b[i+6] == '\\' && b[i+7] == 'u' {
				if lo, ok := hexN(b, i+8, 4); ok && 0xDC00 <= lo && lo < 0xE000 {
					return 0x10000 + (v-0xD800)<<10 + (lo - 0xDC00), 12, true
				}
			}
			return utf8.RuneError, 6, true
		}
		if 0xDC00 <= v && v < 0xE000 {
			return utf8.RuneError, 6, true
		}
		return v, 6, true
	case '0':
		if i+2 < len(b) && '0' <= b[i+2] && b[i+2] <= '9' {
			return 0, 0, false // legacy octal, not decoded
		}
		return 0, 2, true
	default:
		if s := jsSimple[c]; s != 0 {
			return rune(s), 2, true
		}
	}
	return 0, 0, false
}

// entity returns the character of a named character reference decoded:
// those that can stand for a key character ('_') or for a byte that starts
// or belongs to another encoding, and a few common ones so that decoded
// text reads right. A string switch, not a map: no hashing for the names
// that are not there (minified code is full of "&&x").
func entity(name []byte) (rune, bool) {
	switch string(name) {
	case "lowbar", "UnderBar":
		return '_', true
	case "amp", "AMP":
		return '&', true
	case "sol":
		return '/', true
	case "plus":
		return '+', true
	case "equals":
		return '=', true
	case "bsol":
		return '\\', true
	case "percnt":
		return '%', true
	case "num":
		return '#', true
	case "semi":
		return ';', true
	case "colon":
		return ':', true
	case "lcub", "lbrace":
		return '{', true
	case "rcub", "rbrace":
		return '}', true
	case "period":
		return '.', true
	case "comma":
		return ',', true
	case "quot", "QUOT":
		return '"', true
	case "apos":
		return '\'', true
	case "lt", "LT":
		return '<', true
	case "gt", "GT":
		return '>', true
	case "nbsp":
		return 0xA0, true
	case "excl":
		return '!', true
	case "quest":
		return '?', true
	case "lpar":
		return '(', true
	case "rpar":
		return ')', true
	case "ast", "midast":
		return '*', true
	case "dollar":
		return '$', true
	case "commat":
		return '@', true
	case "lsqb", "lbrack":
		return '[', true
	case "rsqb", "rbrack":
		return ']', true
	case "Hat":
		return '^', true
	case "grave":
		return '`', true
	case "verbar", "vert", "VerticalLine":
		return '|', true
	case "Tab":
		return '\t', true
	case "NewLine":
		return '\n', true
	case "hyphen", "dash":
		return 0x2010, true
	}
	return 0, false
}

func parseEntity(b []byte, i int) (rune, int, bool) {
	j := i + 1
	if j >= len(b) {
		return 0, 0, false
	}
	if b[j] == '#' {
		j++
		hex := j < len(b) && (b[j] == 'x' || b[j] == 'X')
		if hex {
			j++
		}
		start := j
		var v rune
		maxDigits := 7
		if hex {
			maxDigits = 6
		}
		for ; j < len(b) && j-start < maxDigits; j++ {
			var d int
			if hex {
				d = HexDigit(b[j])
			} else if '0' <= b[j] && b[j] <= '9' {
				d = int(b[j] - '0')
			} else {
				d = -1
			}
			if d < 0 {
				break
			}
			if hex {
				v = v<<4 | rune(d)
			} else {
				v = v*10 + rune(d)
			}
		}
		if j == start {
			return 0, 0, false
		}
		if j < len(b) && b[j] == ';' {
			j++
		} else if j < len(b) && (HexDigit(b[j]) >= 0 && hex || '0' <= b[j] && b[j] <= '9') {
			return 0, 0, false // too many digits
		}
		switch {
		case v == 0 || v > utf8.MaxRune || 0xD800 <= v && v < 0xE000:
			v = utf8.RuneError
		case 0x80 <= v && v < 0xA0:
			v = win1252[v-0x80] // as HTML5 reads them
		}
		return v, j - i, true
	}
	start := j
	for ; j < len(b) && j-start < 12; j++ {
		c := b[j]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || j > start && '0' <= c && c <= '9') {
			break
		}
	}
	if j == start || j >= len(b) || b[j] != ';' {
		return 0, 0, false
	}
	r, ok := entity(b[start:j])
	if !ok {
		return 0, 0, false
	}
	return r, j + 1 - i, true
}

// win1252 is how HTML5 reads numeric references to C1 controls: as the
// Windows-1252 characters at those codes (unassigned codes stay).
var win1252 = [32]rune{
	0x20AC, 0x0081, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021,
	0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0x008D, 0x017D, 0x008F,
	0x0090, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014,
	0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x009D, 0x017E, 0x0178,
}
