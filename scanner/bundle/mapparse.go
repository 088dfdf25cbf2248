package bundle

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// maxJSONDepth bounds nesting in a map, against hostile input.
const maxJSONDepth = 64

var errJSON = errors.New("malformed JSON")

// mapParser reads a source map's JSON in one pass, keeping the fields a map
// needs and the offsets of its sourcesContent strings. It follows JSON's
// grammar, leniently inside strings (they are decoded only when used);
// keys match exactly and the last of duplicates wins.
type mapParser struct {
	b   []byte
	i   int
	all []spanRef
	// lazy leaves mappings without escapes in b (see Map.rawMappings).
	lazy bool
}

func (p *mapParser) fail(what string) error {
	return fmt.Errorf("%w: %s at offset %d", errJSON, what, p.i)
}

func (p *mapParser) space() {
	for p.i < len(p.b) && (p.b[p.i] == ' ' || p.b[p.i] == '\t' || p.b[p.i] == '\n' || p.b[p.i] == '\r') {
		p.i++
	}
}

func (p *mapParser) peek() byte {
	if p.i < len(p.b) {
		return p.b[p.i]
	}
	return 0
}

// str consumes a string and returns its raw body bounds.
func (p *mapParser) str() (int, int, error) {
	if p.peek() != '"' {
		return 0, 0, p.fail("string expected")
	}
	start := p.i + 1
	for i := start; ; {
		j := bytes.IndexByte(p.b[i:], '"')
		if j < 0 {
			p.i = len(p.b)
			return 0, 0, p.fail("unterminated string")
		}
		i += j
		// The quote is escaped when an odd run of backslashes precedes it.
		k := i
		for k > start && p.b[k-1] == '\\' {
			k--
		}
		if (i-k)%2 == 0 {
			p.i = i + 1
			return start, i, nil
		}
		i++
	}
}

// strValue consumes a string and decodes it.
func (p *mapParser) strValue() (string, error) {
	s, e, err := p.str()
	if err != nil {
		return "", err
	}
	body := p.b[s:e]
	if bytes.IndexByte(body, '\\') < 0 && utf8.Valid(body) {
		return string(body), nil
	}
	v, ok := unquote(body)
	if !ok {
		return "", fmt.Errorf("%w: bad string at offset %d", errJSON, s)
	}
	return string(v), nil
}

func (p *mapParser) null() bool {
	if bytes.HasPrefix(p.b[p.i:], []byte("null")) {
		p.i += 4
		return true
	}
	return false
}

func (p *mapParser) number() (int, error) {
	s := p.i
	for p.i < len(p.b) && bytes.IndexByte([]byte("+-.eE0123456789"), p.b[p.i]) >= 0 {
		p.i++
	}
	if p.i == s {
		return 0, p.fail("number expected")
	}
	n, err := strconv.Atoi(string(p.b[s:p.i]))
	if err != nil {
		return -1, nil // a valid JSON number but not an int: the field is wrong, not the JSON
	}
	return n, nil
}

// object walks an object, calling field for each key with the parser at
// the value; field must consume the value.
func (p *mapParser) object(depth int, field func(key string) error) error {
	if depth > maxJSONDepth {
		return p.fail("nesting too deep")
	}
	if p.peek() != '{' {
		return p.fail("object expected")
	}
	p.i++
	p.space()
	if p.peek() == '}' {
		p.i++
		return nil
	}
	for {
		p.space()
		key, err := p.strValue()
		if err != nil {
			return err
		}
		p.space()
		if p.peek() != ':' {
			return p.fail("':' expected")
		}
		p.i++
		p.space()
		if err := field(key); err != nil {
			return err
		}
		p.space()
		switch p.peek() {
		case ',':
			p.i++
		case '}':
			p.i++
			return nil
		default:
			return p.fail("',' or '}' expected")
		}
	}
}

func (p *mapParser) array(depth int, elem func(k int) error) error {
	if depth > maxJSONDepth {
		return p.fail("nesting too deep")
	}
	if p.peek() != '[' {
		return p.fail("array expected")
	}
	p.i++
	p.space()
	if p.peek() == ']' {
		p.i++
		return nil
	}
	for k := 0; ; k++ {
		p.space()
		if err := elem(k); err != nil {
			return err
		}
		p.space()
		switch p.peek() {
		case ',':
			p.i++
		case ']':
			p.i++
			return nil
		default:
			return p.fail("',' or ']' expected")
		}
	}
}

// value skips any JSON value.
func (p *mapParser) value(depth int) error {
	switch c := p.peek(); {
	case c == '"':
		_, _, err := p.str()
		return err
	case c == '{':
		return p.object(depth+1, func(string) error { return p.value(depth + 1) })
	case c == '[':
		return p.array(depth+1, func(int) error { return p.value(depth + 1) })
	case c == '-' || c >= '0' && c <= '9':
		_, err := p.number()
		return err
	}
	for _, lit := range []string{"true", "false", "null"} {
		if bytes.HasPrefix(p.b[p.i:], []byte(lit)) {
			p.i += len(lit)
			return nil
		}
	}
	return p.fail("value expected")
}

// strings reads an array of strings (null entries become "").
func (p *mapParser) strings(depth int) ([]string, error) {
	var out []string
	err := p.array(depth+1, func(int) error {
		if p.null() {
			out = append(out, "")
			return nil
		}
		s, err := p.strValue()
		out = append(out, s)
		return err
	})
	return out, err
}

// mapObject reads a map: the top level (depth 0) or a section's.
func (p *mapParser) mapObject(depth int) (*Map, error) {
	m := &Map{raw: p.b}
	err := p.object(depth, func(key string) error {
		var err error
		switch key {
		case "version":
			if p.null() {
				return nil
			}
			m.Version, err = p.number()
		case "sourceRoot":
			if !p.null() {
				m.SourceRoot, err = p.strValue()
			}
		case "sources":
			m.Sources, err = p.strings(depth)
		case "mappings":
			m.rawMappings = nil
			if p.lazy && p.peek() == '"' {
				s, e, err := p.str()
				if err != nil || bytes.IndexByte(p.b[s:e], '\\') < 0 {
					m.Mappings, m.rawMappings = "", p.b[s:e:e]
					return err
				}
				p.i = s - 1 // escaped: decoded below
			}
			m.Mappings, err = p.strValue()
		case "sourcesContent":
			m.contents = m.contents[:0]
			err = p.array(depth+1, func(k int) error {
				if p.null() {
					return nil
				}
				s, e, err := p.str()
				m.contents = append(m.contents, contentSpan{start: s, end: e, index: k})
				p.all = append(p.all, spanRef{contentSpan{start: s, end: e, index: k}, m})
				return err
			})
		case "sections":
			if depth > 0 {
				return p.fail("nested index map")
			}
			m.Sections = m.Sections[:0]
			err = p.array(depth+1, func(int) error {
				s, err := p.section(depth + 2)
				m.Sections = append(m.Sections, s)
				return err
			})
		default:
			err = p.value(depth + 1)
		}
		return err
	})
	return m, err
}

func (p *mapParser) section(depth int) (Section, error) {
	var s Section
	err := p.object(depth, func(key string) error {
		var err error
		switch key {
		case "offset":
			err = p.object(depth+1, func(k string) error {
				var err error
				switch k {
				case "line":
					s.Offset.Line, err = p.number()
				case "column":
					s.Offset.Column, err = p.number()
				default:
					err = p.value(depth + 2)
				}
				return err
			})
		case "map":
			s.Map, err = p.mapObject(depth + 1)
		case "url":
			if !p.null() {
				s.URL, err = p.strValue()
			}
		default:
			err = p.value(depth + 1)
		}
		return err
	})
	return s, err
}

// unquote decodes the body of a JSON string (what lies between its
// quotes) as encoding/json does, ok false where it would fail: invalid
// UTF-8 and lone surrogates become U+FFFD; control characters, a bad
// escape or a bare quote fail. encoding/json validated every string
// byte by byte through its scanner first, fifty times slower on the
// sources of a large map (FuzzUnquote holds the two equal).
func unquote(body []byte) ([]byte, bool) {
	out := make([]byte, 0, len(body))
	for i := 0; i < len(body); {
		c := body[i]
		switch {
		case c == '\\':
			if i+1 >= len(body) {
				return nil, false
			}
			switch e := body[i+1]; e {
			case '"', '\\', '/':
				out = append(out, e)
			case 'b':
				out = append(out, '\b')
			case 'f':
				out = append(out, '\f')
			case 'n':
				out = append(out, '\n')
			case 'r':
				out = append(out, '\r')
			case 't':
				out = append(out, '\t')
			case 'u':
				v, ok := hex4(body, i+2)
				if !ok {
					return nil, false
				}
				i += 6
				r := rune(v)
				if utf16.IsSurrogate(r) {
					r = utf8.RuneError
					if i+1 < len(body) && body[i] == '\\' && body[i+1] == 'u' {
						if v2, ok := hex4(body, i+2); ok {
							if d := utf16.DecodeRune(rune(v), rune(v2)); d != utf8.RuneError {
								r = d
								i += 6
							}
						}
					}
				}
				out = utf8.AppendRune(out, r)
				continue
			default:
				return nil, false
			}
			i += 2
		case c == '"' || c < ' ':
			return nil, false
		case c < utf8.RuneSelf:
			// A run of plain ASCII at once.
			j := i + 1
			for j < len(body) && body[j] >= ' ' && body[j] < utf8.RuneSelf && body[j] != '\\' && body[j] != '"' {
				j++
			}
			out = append(out, body[i:j]...)
			i = j
		default:
			r, size := utf8.DecodeRune(body[i:])
			out = utf8.AppendRune(out, r) // RuneError for invalid bytes, as encoding/json
			i += size
		}
	}
	return out, true
}
