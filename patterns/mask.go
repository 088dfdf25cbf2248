package patterns

import (
	"bytes"
	"slices"
	"strings"
	"unicode/utf8"
)

// The mask sees through the encodings the detector sees through: a key
// written as atmx%5Fprd%5F…, atmx\u005fprd…, atmx&#95;prd…, in UTF-16, in
// base64, or nested (%255F, &amp;#95;, \\u005f, base64 of any of these), is
// masked like a key written out. Text from outside (a URL, a file or member
// name, a server message) is turned into a view, every escape decoded, with
// the span of the original each decoded byte came from; runs found in the
// view are masked in the original, whole escapes at a time. The view's
// decoders are a lenient superset of the detector's: masking a little
// more than needed is harmless, masking less leaks a key.

const (
	// maskPasses bounds how many times the escapes of a view are decoded
	// again (a double encoding needs two); the detector goes 3 deep.
	maskPasses = 3
	// maskB64Depth bounds base64 inside base64.
	maskB64Depth = 3
	// minMaskB64 is the shortest base64 run decoded: a little under the
	// 62 characters the detector needs (a key is 47 bytes, 63 characters);
	// a shorter run cannot hide a key it finds.
	minMaskB64 = 60
	// maskIndent is how much indentation a wrapped base64 run may have
	// after a line break and still go on, as the detector joins lines.
	maskIndent = 16
	// b64Keep is how many characters of a masked base64 run are kept.
	b64Keep = 4
)

// view is text decoded, with the span [start[i], end[i]) of the original
// that byte i came from; nil start and end for text that is its own view.
type view struct {
	b          []byte
	start, end []int
}

func (v view) from(i int) int {
	if v.start == nil {
		return i
	}
	return v.start[i]
}

func (v view) to(i int) int {
	if v.end == nil {
		return i + 1
	}
	return v.end[i]
}

// maybeEncoded says whether s holds a byte that starts an escape or a
// UTF-16/replacement filler: text without one is its own view.
func maybeEncoded(s []byte) bool {
	for _, c := range s {
		switch c {
		case '%', '\\', '&', 0, 0xEF:
			return true
		}
	}
	return false
}

// decodeOnce decodes one layer of escapes of v. It reports whether it
// changed anything.
func (v view) decodeOnce() (view, bool) {
	b := v.b
	out := view{b: make([]byte, 0, len(b)), start: make([]int, 0, len(b)), end: make([]int, 0, len(b))}
	changed := false
	for i := 0; i < len(b); {
		r, n := maskEscape(b, i)
		if n == 0 {
			out.b = append(out.b, b[i])
			out.start, out.end = append(out.start, v.from(i)), append(out.end, v.to(i))
			i++
			continue
		}
		changed = true
		if r >= 0 {
			before := len(out.b)
			out.b = utf8.AppendRune(out.b, r)
			for range len(out.b) - before {
				out.start, out.end = append(out.start, v.from(i)), append(out.end, v.to(i+n-1))
			}
		}
		i += n
	}
	return out, changed
}

// maskEscape decodes the escape at b[i], returning the character it stands
// for (-1 for a filler that stands for nothing: a NUL of UTF-16, a
// replacement character a label put for one) and its length; n is 0 when
// b[i] starts none.
func maskEscape(b []byte, i int) (r rune, n int) {
	switch b[i] {
	case 0:
		return -1, 1
	case 0xEF:
		if bytes.HasPrefix(b[i:], []byte("\uFFFD")) {
			return -1, 3
		}
	case '%':
		if v, ok := maskHex(b, i+1, 2); ok {
			return v, 3
		}
	case '\\':
		if i+1 >= len(b) {
			return 0, 0
		}
		switch b[i+1] {
		case 'x', 'X':
			if v, ok := maskHex(b, i+2, 2); ok {
				return v, 4
			}
		case 'u', 'U':
			if i+2 < len(b) && b[i+2] == '{' {
				j := i + 3
				for j < len(b) && j-i < 10 && b[j] != '}' {
					j++
				}
				if j < len(b) && b[j] == '}' {
					if v, ok := maskHex(b, i+3, j-i-3); ok && j > i+3 {
						return v, j + 1 - i
					}
				}
				return 0, 0
			}
			if v, ok := maskHex(b, i+2, 4); ok {
				return v, 6
			}
		case '\\', '/', '_', '%', '&':
			return rune(b[i+1]), 2
		}
	case '&':
		return maskEntity(b, i)
	}
	return 0, 0
}

func maskHex(b []byte, i, n int) (rune, bool) {
	if n <= 0 || n > 6 || i+n > len(b) {
		return 0, false
	}
	var v rune
	for _, c := range b[i : i+n] {
		var d byte
		switch {
		case '0' <= c && c <= '9':
			d = c - '0'
		case 'a' <= c && c <= 'f':
			d = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			d = c - 'A' + 10
		default:
			return 0, false
		}
		v = v<<4 | rune(d)
	}
	if v > utf8.MaxRune {
		v = utf8.RuneError
	}
	return v, true
}

// maskEntities are the named references that stand for a key character or
// for the start of another encoding.
var maskEntities = map[string]rune{
	"lowbar": '_', "UnderBar": '_', "amp": '&', "AMP": '&', "percnt": '%', "bsol": '\\',
	"num": '#', "sol": '/', "plus": '+', "equals": '=', "semi": ';',
}

func maskEntity(b []byte, i int) (rune, int) {
	j := i + 1
	if j < len(b) && b[j] == '#' {
		j++
		hex := j < len(b) && (b[j] == 'x' || b[j] == 'X')
		if hex {
			j++
		}
		start := j
		var v rune
		for ; j < len(b) && j-start < 8; j++ {
			c := b[j]
			switch {
			case '0' <= c && c <= '9':
				if hex {
					v = v<<4 | rune(c-'0')
				} else {
					v = v*10 + rune(c-'0')
				}
			case hex && ('a' <= c && c <= 'f' || 'A' <= c && c <= 'F'):
				v = v<<4 | rune(c|0x20-'a'+10)
			default:
				goto done
			}
		}
	done:
		if j == start {
			return 0, 0
		}
		if j < len(b) && b[j] == ';' {
			j++
		}
		if v > utf8.MaxRune {
			v = utf8.RuneError
		}
		return v, j - i
	}
	start := j
	for j < len(b) && j-start < 12 && ('a' <= b[j] && b[j] <= 'z' || 'A' <= b[j] && b[j] <= 'Z') {
		j++
	}
	r, ok := maskEntities[string(b[start:j])]
	if !ok {
		return 0, 0
	}
	if j < len(b) && b[j] == ';' {
		j++
	}
	return r, j - i
}

// viewOf decodes s's escapes, layer after layer, up to maskPasses.
func viewOf(s []byte) view {
	v := view{b: s}
	if !maybeEncoded(s) {
		return v
	}
	for range maskPasses {
		nv, changed := v.decodeOnce()
		if !changed {
			break
		}
		v = nv
		if !maybeEncoded(v.b) {
			break
		}
	}
	return v
}

// span is a stretch of the original to replace.
type span struct {
	start, end int
	repl       string
}

// runRule decides what in a view is a key to mask: it returns the length
// of the run at v[i:] (which starts with Prefix) to mask and its
// replacement, or 0 to leave it.
type runRule func(v []byte, i int) (int, string)

// anyRun masks every run of the prefix and base62 or '_' longer than the
// redacted form (RedactRuns).
func anyRun(v []byte, i int) (int, string) {
	end := i + len(Prefix)
	for end < len(v) && (v[end] == '_' || IsBase62(v[end])) {
		end++
	}
	if end-i <= RedactedLen {
		return 0, ""
	}
	return end - i, Redact(v[i:end])
}

// keyShape masks a key-shaped run (Scrub).
func keyShape(v []byte, i int) (int, string) {
	if i+KeyLen <= len(v) && shapeOK(v[i:i+KeyLen]) {
		return KeyLen, Redact(v[i : i+KeyLen])
	}
	return 0, ""
}

// mask returns s with every run rule accepts, written out or encoded,
// replaced.
func mask(s string, rule runRule) string {
	b := []byte(s)
	spans := findSpans(b, rule, maskB64Depth, nil)
	if len(spans) == 0 {
		return s
	}
	slices.SortFunc(spans, func(a, b span) int { return a.start - b.start })
	var out strings.Builder
	at := 0
	for _, sp := range spans {
		if sp.start < at { // overlaps a span already replaced: drop the rest too
			at = max(at, sp.end)
			continue
		}
		out.WriteString(s[at:sp.start])
		out.WriteString(sp.repl)
		at = sp.end
	}
	out.WriteString(s[at:])
	return out.String()
}

// findSpans appends the spans of b to mask: key runs in b's view, and
// base64 runs of the view whose decoding holds one (at any alignment, up
// to depth levels of base64).
func findSpans(b []byte, rule runRule, depth int, spans []span) []span {
	v := viewOf(b)
	for off := 0; ; {
		i := bytes.Index(v.b[off:], prefixBytes)
		if i < 0 {
			break
		}
		i += off
		n, repl := rule(v.b, i)
		if n == 0 {
			off = i + 1
			continue
		}
		spans = append(spans, span{v.from(i), v.to(i + n - 1), repl})
		off = i + n
	}
	if depth == 0 {
		return spans
	}
	for i := 0; i < len(v.b); {
		if !isMaskB64(v.b[i]) {
			i++
			continue
		}
		j, n := b64Run(v.b, i)
		if n >= minMaskB64 && b64HoldsKey(v.b[i:j], depth) {
			spans = append(spans, span{v.from(i), v.to(j - 1), string(v.b[i:i+b64Keep]) + "…"})
		}
		i = j
	}
	return spans
}

// b64HoldsKey says whether run, decoded as base64 (either alphabet) at any
// of its four alignments, holds a key run at any length, plain or encoded.
func b64HoldsKey(run []byte, depth int) bool {
	var buf []byte
	for a := range 4 {
		buf = decodeB64(buf[:0], run[a:])
		if len(findSpans(buf, prefixOnly, depth-1, nil)) > 0 {
			return true
		}
	}
	return false
}

// prefixOnly accepts any prefix run: decoded base64 that shows the prefix
// is masked whole, however little of a key follows.
func prefixOnly(v []byte, i int) (int, string) { return len(Prefix), "" }

// b64Run returns the end of the base64 run starting at b[i], lines joined
// across a line break and indentation as the detector joins them, and its
// number of characters.
func b64Run(b []byte, i int) (end, n int) {
	j := i
	for {
		for j < len(b) && isMaskB64(b[j]) {
			j++
			n++
		}
		x := j
		if x < len(b) && b[x] == '\r' {
			x++
		}
		if x >= len(b) || b[x] != '\n' {
			return j, n
		}
		x++
		for y := x; x < len(b) && x-y < maskIndent && (b[x] == ' ' || b[x] == '\t'); x++ {
		}
		if x >= len(b) || !isMaskB64(b[x]) {
			return j, n
		}
		j = x
	}
}

func isMaskB64(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' ||
		c == '+' || c == '/' || c == '-' || c == '_' || c == '='
}

// decodeB64 appends the decoding of run to dst, 4 characters to 3 bytes,
// '=' skipped, both alphabets at once.
func decodeB64(dst, run []byte) []byte {
	var acc uint32
	n := 0
	for _, c := range run {
		var d byte
		switch {
		case 'A' <= c && c <= 'Z':
			d = c - 'A'
		case 'a' <= c && c <= 'z':
			d = c - 'a' + 26
		case '0' <= c && c <= '9':
			d = c - '0' + 52
		case c == '+' || c == '-':
			d = 62
		case c == '/' || c == '_':
			d = 63
		default:
			continue
		}
		acc = acc<<6 | uint32(d)
		n++
		if n == 4 {
			dst = append(dst, byte(acc>>16), byte(acc>>8), byte(acc))
			acc, n = 0, 0
		}
	}
	switch n {
	case 2:
		dst = append(dst, byte(acc>>4))
	case 3:
		dst = append(dst, byte(acc>>10), byte(acc>>2))
	}
	return dst
}

// prefixBytes is the literal the mask searches its views for.
var prefixBytes = []byte(Prefix)
