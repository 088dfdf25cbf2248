package bundle

import (
	"bytes"
	"errors"
	"unicode/utf8"
)

// contentSpan is where one sourcesContent string sits in a map's raw JSON:
// raw[start:end] is the string's body, escapes and all.
type contentSpan struct {
	start, end     int
	section, index int // section -1 is the top-level map
}

// maxJSONDepth bounds the walker's recursion on hostile input.
const maxJSONDepth = 64

var errJSON = errors.New("malformed JSON")

// findContentSpans locates every sourcesContent string of a source map
// (top level and sections[k].map), so that a key seen in the raw text can
// be placed in its original file. It only walks; the values come from
// ParseMap.
func findContentSpans(raw []byte) ([]contentSpan, error) {
	w := jsonWalker{b: raw}
	w.space()
	if err := w.object(-1, 0); err != nil {
		return nil, err
	}
	return w.spans, nil
}

type jsonWalker struct {
	b     []byte
	i     int
	spans []contentSpan
}

func (w *jsonWalker) space() {
	for w.i < len(w.b) && (w.b[w.i] == ' ' || w.b[w.i] == '\t' || w.b[w.i] == '\n' || w.b[w.i] == '\r') {
		w.i++
	}
}

func (w *jsonWalker) peek() byte {
	if w.i < len(w.b) {
		return w.b[w.i]
	}
	return 0
}

// str consumes a string and returns its raw body bounds.
func (w *jsonWalker) str() (int, int, error) {
	if w.peek() != '"' {
		return 0, 0, errJSON
	}
	start := w.i + 1
	for i := start; i < len(w.b); i++ {
		switch w.b[i] {
		case '\\':
			i++
		case '"':
			w.i = i + 1
			return start, i, nil
		}
	}
	return 0, 0, errJSON
}

// object walks an object. section >= -1 marks a source map object (-1 the
// top level, k the map of sections[k]); -2 any other object.
func (w *jsonWalker) object(section, depth int) error {
	if depth > maxJSONDepth || w.peek() != '{' {
		return errJSON
	}
	w.i++
	w.space()
	if w.peek() == '}' {
		w.i++
		return nil
	}
	for {
		w.space()
		ks, ke, err := w.str()
		if err != nil {
			return err
		}
		key := string(w.b[ks:ke])
		w.space()
		if w.peek() != ':' {
			return errJSON
		}
		w.i++
		w.space()
		switch {
		case section >= -1 && key == "sourcesContent" && w.peek() == '[':
			err = w.array(depth, func(k int) error {
				if w.peek() != '"' {
					return w.value(depth + 1)
				}
				s, e, err := w.str()
				w.spans = append(w.spans, contentSpan{start: s, end: e, section: section, index: k})
				return err
			})
		case section == -1 && key == "sections" && w.peek() == '[':
			err = w.array(depth, func(k int) error {
				if w.peek() != '{' {
					return w.value(depth + 1)
				}
				return w.sectionObject(k, depth+1)
			})
		default:
			err = w.value(depth + 1)
		}
		if err != nil {
			return err
		}
		w.space()
		switch w.peek() {
		case ',':
			w.i++
		case '}':
			w.i++
			return nil
		default:
			return errJSON
		}
	}
}

// sectionObject walks {"offset": ..., "map": {...}}.
func (w *jsonWalker) sectionObject(k, depth int) error {
	// Reuse object's loop with a marker: only "map" matters.
	if depth > maxJSONDepth {
		return errJSON
	}
	w.i++ // '{'
	w.space()
	if w.peek() == '}' {
		w.i++
		return nil
	}
	for {
		w.space()
		ks, ke, err := w.str()
		if err != nil {
			return err
		}
		isMap := string(w.b[ks:ke]) == "map"
		w.space()
		if w.peek() != ':' {
			return errJSON
		}
		w.i++
		w.space()
		if isMap && w.peek() == '{' {
			err = w.object(k, depth+1)
		} else {
			err = w.value(depth + 1)
		}
		if err != nil {
			return err
		}
		w.space()
		switch w.peek() {
		case ',':
			w.i++
		case '}':
			w.i++
			return nil
		default:
			return errJSON
		}
	}
}

func (w *jsonWalker) array(depth int, elem func(k int) error) error {
	if depth > maxJSONDepth {
		return errJSON
	}
	w.i++ // '['
	w.space()
	if w.peek() == ']' {
		w.i++
		return nil
	}
	for k := 0; ; k++ {
		w.space()
		if err := elem(k); err != nil {
			return err
		}
		w.space()
		switch w.peek() {
		case ',':
			w.i++
		case ']':
			w.i++
			return nil
		default:
			return errJSON
		}
	}
}

// value skips any JSON value.
func (w *jsonWalker) value(depth int) error {
	switch c := w.peek(); {
	case c == '"':
		_, _, err := w.str()
		return err
	case c == '{':
		return w.object(-2, depth)
	case c == '[':
		return w.array(depth, func(int) error { return w.value(depth + 1) })
	case c == '-' || c >= '0' && c <= '9' || c == 't' || c == 'f' || c == 'n':
		for w.i < len(w.b) {
			switch w.b[w.i] {
			case ',', '}', ']', ' ', '\t', '\n', '\r':
				return nil
			}
			w.i++
		}
		return nil
	}
	return errJSON
}

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
