package document

import (
	"bytes"
	"compress/zlib"
	"fmt"
	"github.com/atomyx/atomyx-guard/scanner/decode"
	"io"
	"strconv"
)

// stream is one stream object of a PDF: its raw bytes and filters.
type stream struct {
	num, gen int
	raw      []byte
	filters  []string
}

var (
	kwStream    = []byte("stream")
	kwEndstream = []byte("endstream")
	kwObj       = []byte("obj")
)

// maxDictBack bounds how far before "stream" its object's dictionary is
// looked for.
const maxDictBack = 8 << 10

// eachStream calls fn for every stream of a PDF whose filters it can undo
// (Flate, ASCIIHex, ASCII85, none), in file order. It reads the file as a
// sequence of objects, not through the cross-reference table, so every
// revision of an incrementally updated file is seen, a damaged table
// hides nothing, and an object superseded by a later update is scanned
// too (an old revision still holds what it held).
func eachStream(data []byte, fn func(stream) error) error {
	for off := 0; off < len(data); {
		from := off // a dictionary is looked for after the previous keyword only
		i := bytes.Index(data[off:], kwStream)
		if i < 0 {
			return nil
		}
		kw := off + i
		off = kw + len(kwStream)
		if kw >= 3 && bytes.Equal(data[kw-3:kw], []byte("end")) {
			continue
		}
		// The data starts after the keyword's end of line.
		start := off
		switch {
		case bytes.HasPrefix(data[start:], []byte("\r\n")):
			start += 2
		case start < len(data) && (data[start] == '\n' || data[start] == '\r'):
			start++
		default:
			continue
		}
		dict, num, gen, ok := objectDict(data, from, kw)
		if !ok {
			continue
		}
		end := streamEnd(data, start, dict)
		filters, ok := parseFilters(dict)
		off = end
		if !ok || end == start {
			continue // an image or a filter not undone (no text), or empty
		}
		if err := fn(stream{num: num, gen: gen, raw: data[start:end], filters: filters}); err != nil {
			return err
		}
	}
	return nil
}

// objectDict returns the dictionary before the stream keyword at kw, not
// before from, and the object's number and generation ("12 0 obj << … >>
// stream"). Callers pass disjoint ranges, so that a file of nothing but
// "stream" keywords costs one pass.
func objectDict(data []byte, from, kw int) (dict []byte, num, gen int, ok bool) {
	lo := max(from, kw-maxDictBack)
	o := bytes.LastIndex(data[lo:kw], kwObj)
	if o < 0 {
		return nil, 0, 0, false
	}
	o += lo
	dict = data[o+len(kwObj) : kw]
	// "num gen obj": two integers before the keyword.
	f := bytes.Fields(data[max(lo, o-24):o])
	if len(f) >= 2 {
		num, _ = strconv.Atoi(string(f[len(f)-2]))
		gen, _ = strconv.Atoi(string(f[len(f)-1]))
	}
	return dict, num, gen, bytes.Contains(dict, []byte("<<"))
}

// streamEnd finds where a stream's data ends: its direct /Length when
// "endstream" follows it, else the next "endstream" (an indirect or wrong
// length is common), its end-of-line excluded.
func streamEnd(data []byte, start int, dict []byte) int {
	if n, ok := directLength(dict); ok && n >= 0 && start+n <= len(data) {
		rest := bytes.TrimLeft(data[start+n:min(len(data), start+n+64)], " \t\r\n")
		if bytes.HasPrefix(rest, kwEndstream) {
			return start + n
		}
	}
	e := bytes.Index(data[start:], kwEndstream)
	if e < 0 {
		return len(data)
	}
	end := start + e
	if end > start && data[end-1] == '\n' {
		end--
	}
	if end > start && data[end-1] == '\r' {
		end--
	}
	return end
}

// directLength reads "/Length 123" (not "/Length 5 0 R") from dict.
func directLength(dict []byte) (int, bool) {
	i := bytes.Index(dict, []byte("/Length"))
	if i < 0 {
		return 0, false
	}
	f := bytes.Fields(dict[i+len("/Length"):])
	if len(f) == 0 {
		return 0, false
	}
	n, err := strconv.Atoi(string(bytes.TrimRight(f[0], "/>")))
	if err != nil || len(f) >= 3 && bytes.HasPrefix(f[2], []byte("R")) {
		return 0, false
	}
	return n, true
}

// parseFilters reads /Filter (a name or an array of names) from dict and
// says whether every filter is one this package undoes.
func parseFilters(dict []byte) ([]string, bool) {
	i := bytes.Index(dict, []byte("/Filter"))
	if i < 0 {
		return nil, true
	}
	rest := bytes.TrimLeft(dict[i+len("/Filter"):], " \t\r\n")
	var names []string
	if bytes.HasPrefix(rest, []byte("[")) {
		e := bytes.IndexByte(rest, ']')
		if e < 0 {
			return nil, false
		}
		for _, n := range bytes.Split(rest[1:e], []byte("/")) {
			if n = bytes.TrimSpace(n); len(n) > 0 {
				names = append(names, string(n))
			}
		}
	} else if bytes.HasPrefix(rest, []byte("/")) {
		e := 1
		for e < len(rest) && !bytes.ContainsAny(rest[e:e+1], " \t\r\n/<>[]()") {
			e++
		}
		names = []string{string(rest[1:e])}
	}
	for i, n := range names {
		switch n {
		case "FlateDecode", "Fl":
			names[i] = "Flate"
		case "ASCIIHexDecode", "AHx":
			names[i] = "AHx"
		case "ASCII85Decode", "A85":
			names[i] = "A85"
		default:
			return nil, false
		}
	}
	return names, len(names) > 0
}

// open undoes the stream's filters. Flate is streamed, so that the
// Engine's limits meter what it inflates; the ASCII filters shrink their
// input and work in memory, on at most MaxDocument bytes.
func (s stream) open() (io.ReadCloser, error) {
	var r io.Reader = bytes.NewReader(s.raw)
	for _, f := range s.filters {
		switch f {
		case "Flate":
			zr, err := zlib.NewReader(r)
			if err != nil {
				return nil, fmt.Errorf("pdf obj %d: flate: %w", s.num, err)
			}
			r = zr
		default:
			in, err := io.ReadAll(io.LimitReader(r, MaxDocument))
			if err != nil {
				return nil, fmt.Errorf("pdf obj %d: %w", s.num, err)
			}
			if f == "AHx" {
				r = bytes.NewReader(asciiHex(in))
			} else {
				r = bytes.NewReader(ascii85(in))
			}
		}
	}
	return io.NopCloser(r), nil
}

// asciiHex decodes ASCIIHexDecode data: hex digits, white space ignored,
// '>' ends it, an odd last digit is followed by 0.
func asciiHex(in []byte) []byte {
	out := make([]byte, 0, len(in)/2)
	v, n := 0, 0
	for _, c := range in {
		if c == '>' {
			break
		}
		d := decode.HexDigit(c)
		if d < 0 {
			continue
		}
		v = v<<4 | d
		if n++; n == 2 {
			out = append(out, byte(v))
			v, n = 0, 0
		}
	}
	if n == 1 {
		out = append(out, byte(v<<4))
	}
	return out
}

// ascii85 decodes ASCII85Decode data: groups of five '!'..'u', 'z' for
// four zeros, white space ignored, "~>" ends it, a short last group
// padded with 'u'.
func ascii85(in []byte) []byte {
	out := make([]byte, 0, len(in)*4/5)
	var g [5]byte
	n := 0
	flush := func(k int) {
		var v uint64
		for i := range 5 {
			v = v*85 + uint64(g[i]-'!')
		}
		if v > 0xffffffff {
			v &= 0xffffffff
		}
		b := [4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}
		out = append(out, b[:k]...)
	}
	for _, c := range in {
		switch {
		case c == '~':
			goto end
		case c == 'z' && n == 0:
			out = append(out, 0, 0, 0, 0)
		case '!' <= c && c <= 'u':
			g[n] = c
			if n++; n == 5 {
				flush(4)
				n = 0
			}
		}
	}
end:
	if n > 1 {
		for i := n; i < 5; i++ {
			g[i] = 'u'
		}
		flush(n - 1)
	}
	return out
}

// contentText returns the text a content stream shows: the strings of
// each text object (BT … ET) joined, as Tj, TJ, ' and " lay them out one
// after the other, a line per text object. Numbers between the strings of
// a TJ array (kerning) are dropped, so a key split across strings, or
// across operators, reads whole. Glyph codes of fonts with custom
// encodings are not mapped: their text is not recovered.
func contentText(data []byte) []byte {
	if !bytes.Contains(data, []byte("BT")) {
		return nil
	}
	var out []byte
	for i := 0; i < len(data); i++ {
		switch c := data[i]; c {
		case '%': // comment to end of line
			for i < len(data) && data[i] != '\n' && data[i] != '\r' {
				i++
			}
		case '(':
			var s []byte
			s, i = literalString(data, i)
			out = append(out, s...)
		case '<':
			if i+1 < len(data) && data[i+1] == '<' {
				i++ // a dictionary (inline image parameters, marked content)
				continue
			}
			e := bytes.IndexByte(data[i:], '>')
			if e < 0 {
				return out
			}
			out = append(out, asciiHex(data[i+1:i+e])...)
			i += e
		case 'E':
			if i+1 < len(data) && data[i+1] == 'T' && (i == 0 || isPDFSpace(data[i-1])) &&
				(i+2 == len(data) || isPDFSpace(data[i+2])) {
				out = append(out, '\n')
			}
		}
	}
	return out
}

func isPDFSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == 0
}

// literalString decodes the PDF literal string starting with '(' at
// data[i] (nested parentheses, escapes \n \r \t \b \f \( \) \\ \ddd, a
// backslash before a line break continues the line) and returns it and
// the index of its closing ')'.
func literalString(data []byte, i int) ([]byte, int) {
	var s []byte
	depth := 0
	for i++; i < len(data); i++ {
		c := data[i]
		switch c {
		case '(':
			depth++
		case ')':
			if depth == 0 {
				return s, i
			}
			depth--
		case '\\':
			if i+1 >= len(data) {
				return s, i
			}
			i++
			switch e := data[i]; e {
			case 'n':
				c = '\n'
			case 'r':
				c = '\r'
			case 't':
				c = '\t'
			case 'b':
				c = '\b'
			case 'f':
				c = '\f'
			case '\r':
				if i+1 < len(data) && data[i+1] == '\n' {
					i++
				}
				continue
			case '\n':
				continue
			default:
				if '0' <= e && e <= '7' {
					v := int(e - '0')
					for k := 0; k < 2 && i+1 < len(data) && '0' <= data[i+1] && data[i+1] <= '7'; k++ {
						i++
						v = v*8 + int(data[i]-'0')
					}
					c = byte(v)
				} else {
					c = e
				}
			}
		}
		s = append(s, c)
	}
	return s, i
}
