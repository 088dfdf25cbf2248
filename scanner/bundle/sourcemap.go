package bundle

import (
	"bytes"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"unicode/utf8"
)

// MaxMapBytes bounds the size of a source map the reader accepts.
const MaxMapBytes = 256 << 20

// Map is a parsed source map (revision 3), flat or indexed (sections).
// It is read in one pass that records where each sourcesContent string sits
// in the raw text instead of copying it: a key found in the raw text is
// placed in its source without decoding anything, and a source is decoded
// only when asked. Mappings are validated when parsed and decoded line by
// line on demand.
type Map struct {
	Version    int
	SourceRoot string
	Sources    []string
	Mappings   string
	Sections   []Section

	raw      []byte
	contents []contentSpan // this map's sourcesContent strings
	all      []spanRef     // every content span, sections too, by offset
	lines    []vlqState    // decoder state at the start of each generated line

	// lazy maps decode their mappings on the first Lookup, not when
	// parsed: a scan needs them only to place a key it found, and most
	// bundles hold none (decoding every map's mappings was a seventh of
	// a scan of real npm packages).
	lazy     bool
	linesErr error
	// rawMappings holds a lazy map's mappings as they sit in raw (they
	// had no escapes) until decoded: most are never decoded, and copying
	// them into Mappings cost as much as checking them.
	rawMappings []byte
	once        sync.Once
}

// Section is one part of an index map, placed at Offset in the generated
// file.
type Section struct {
	Offset Offset
	Map    *Map
	URL    string
}

// Offset is where a section starts in the generated file, 0-based.
type Offset struct{ Line, Column int }

// contentSpan is where sourcesContent[index] sits in the raw JSON: raw[start:end]
// is the string's body, escapes and all.
type contentSpan struct{ start, end, index int }

type spanRef struct {
	contentSpan
	m *Map
}

// Position is an original position: source path (with sourceRoot applied),
// 1-based line and column.
type Position struct {
	Source       string
	Line, Column int
}

// ParseMap reads a source map. It accepts the ")]}'" XSSI guard some
// servers prepend, and rejects malformed JSON, maps that are not version 3,
// malformed VLQ mappings, and mappings that point at sources the map does
// not list. The Map keeps data.
func ParseMap(data []byte) (*Map, error) {
	return parseMap(data, false)
}

// parseLazy is ParseMap for the expander: the JSON is read and checked
// whole (sourcesContent is scanned), but the mappings are only checked for
// characters that cannot appear in them; they are decoded, and checked
// against the sources, on the first Lookup. A map whose mappings turn out
// malformed then maps nothing back: its keys are still reported, at their
// place in the generated file.
func parseLazy(data []byte) (*Map, error) {
	return parseMap(data, true)
}

func parseMap(data []byte, lazy bool) (*Map, error) {
	if len(data) > MaxMapBytes {
		return nil, fmt.Errorf("source map of %d bytes exceeds the %d-byte limit", len(data), MaxMapBytes)
	}
	p := mapParser{b: data, i: len(data) - len(stripXSSI(data)), lazy: lazy}
	p.space()
	m, err := p.mapObject(0)
	if err == nil {
		p.space()
		if p.i != len(data) {
			err = p.fail("data after the map")
		}
	}
	if err != nil {
		return nil, fmt.Errorf("source map: %w", err)
	}
	m.all = p.all
	if err := m.validate(0, lazy); err != nil {
		return nil, err
	}
	return m, nil
}

func stripXSSI(data []byte) []byte {
	s := strings.TrimLeft(string(data[:min(len(data), 16)]), " \t\r\n\ufeff")
	if strings.HasPrefix(s, ")]}") {
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			return data[i+1:]
		}
	}
	return data
}

func (m *Map) validate(depth int, lazy bool) error {
	if m.Version != 3 {
		return fmt.Errorf("source map: version %d, want 3", m.Version)
	}
	if len(m.Sections) > 0 {
		if depth > 0 {
			return errors.New("source map: nested index map")
		}
		for i := range m.Sections {
			s := &m.Sections[i]
			if i > 0 && less(s.Offset.Line, s.Offset.Column, m.Sections[i-1].Offset.Line, m.Sections[i-1].Offset.Column) {
				return errors.New("source map: sections out of order")
			}
			if s.Map == nil {
				continue // a section by URL points elsewhere
			}
			if err := s.Map.validate(depth+1, lazy); err != nil {
				return fmt.Errorf("section %d: %w", i, err)
			}
		}
		return nil
	}
	if lazy {
		m.lazy = true
		if m.rawMappings != nil {
			if i := badMappingChar(m.rawMappings); i >= 0 {
				return fmt.Errorf("source map: bad VLQ: %q at offset %d of the mappings", m.rawMappings[i], i)
			}
			return nil
		}
		if i := badMappingChar(m.Mappings); i >= 0 {
			return fmt.Errorf("source map: bad VLQ: %q at offset %d of the mappings", m.Mappings[i], i)
		}
		return nil
	}
	lines, err := scanMappings(m.Mappings, len(m.Sources))
	if err != nil {
		return fmt.Errorf("source map: %w", err)
	}
	m.lines = lines
	return nil
}

// notMapping marks, with 1, the bytes mappings cannot hold: all but base64
// digits and the ',' and ';' separators.
var notMapping = func() (t [256]byte) {
	for i := range t {
		t[i] = 1
	}
	for _, c := range []byte("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/,;") {
		t[c] = 0
	}
	return t
}()

// badMappingChar returns the offset of the first byte of s that cannot be
// part of mappings, -1 if none. Eight bytes are looked up per step with no
// branch between them: mappings are most of a map's bytes, and valid.
func badMappingChar[T string | []byte](s T) int {
	i := 0
	for ; i+8 <= len(s); i += 8 {
		if notMapping[s[i]]|notMapping[s[i+1]]|notMapping[s[i+2]]|notMapping[s[i+3]]|
			notMapping[s[i+4]]|notMapping[s[i+5]]|notMapping[s[i+6]]|notMapping[s[i+7]] != 0 {
			break
		}
	}
	for ; i < len(s); i++ {
		if notMapping[s[i]] != 0 {
			return i
		}
	}
	return -1
}

// decodedLines returns the decoder state at the start of each generated
// line, decoding a lazy map's mappings the first time.
func (m *Map) decodedLines() []vlqState {
	if !m.lazy {
		return m.lines
	}
	m.once.Do(func() {
		if m.rawMappings != nil {
			m.Mappings, m.rawMappings = string(m.rawMappings), nil
		}
		m.lines, m.linesErr = scanMappings(m.Mappings, len(m.Sources))
	})
	if m.linesErr != nil {
		return nil
	}
	return m.lines
}

func less(l1, c1, l2, c2 int) bool { return l1 < l2 || l1 == l2 && c1 < c2 }

// SourcePath is sources[i] with the sourceRoot applied.
func (m *Map) SourcePath(i int) string {
	if i < 0 || i >= len(m.Sources) {
		return ""
	}
	s := m.Sources[i]
	if m.SourceRoot == "" || strings.Contains(s, "://") || strings.HasPrefix(s, "/") {
		return s
	}
	return strings.TrimSuffix(m.SourceRoot, "/") + "/" + s
}

// eachContent calls fn for every source whose content the map carries,
// sections included, with the map that lists it.
func (m *Map) eachContent(fn func(owner *Map, sp contentSpan)) {
	for _, s := range m.Sections {
		if s.Map != nil {
			s.Map.eachContent(fn)
		}
	}
	for _, sp := range m.contents {
		if sp.index < len(m.Sources) {
			fn(m, sp)
		}
	}
}

// content decodes one sourcesContent string: the raw bytes themselves,
// not a copy, when there is nothing to decode.
func (m *Map) content(sp contentSpan) ([]byte, error) {
	body := m.raw[sp.start:sp.end]
	if bytes.IndexByte(body, '\\') < 0 && utf8.Valid(body) {
		return body, nil
	}
	s, ok := unquote(body)
	if !ok {
		return nil, fmt.Errorf("sourcesContent[%d]: %w: bad string", sp.index, errJSON)
	}
	return s, nil
}

// spanAt returns the content span holding raw offset off, with its map.
func (m *Map) spanAt(off int) (spanRef, bool) {
	i := sort.Search(len(m.all), func(i int) bool { return m.all[i].end > off })
	if i == len(m.all) || off < m.all[i].start {
		return spanRef{}, false
	}
	return m.all[i], true
}

// Lookup maps a 0-based generated line and column (UTF-16 code units, as
// the format counts them) to the original position of the nearest mapping
// at or before it on that line.
func (m *Map) Lookup(line, col int) (Position, bool) {
	if len(m.Sections) > 0 {
		i := sort.Search(len(m.Sections), func(i int) bool {
			o := m.Sections[i].Offset
			return less(line, col, o.Line, o.Column)
		}) - 1
		if i < 0 || m.Sections[i].Map == nil {
			return Position{}, false
		}
		o := m.Sections[i].Offset
		if line == o.Line {
			col -= o.Column
		}
		return m.Sections[i].Map.Lookup(line-o.Line, col)
	}
	lines := m.decodedLines()
	if line < 0 || line >= len(lines) || col < 0 {
		return Position{}, false
	}
	var (
		best  vlqState
		found bool
	)
	st := lines[line]
	_ = decodeLine(m.Mappings, &st, -1, func(seg vlqState, hasSource bool) bool {
		if seg.genCol > col {
			return false
		}
		if hasSource {
			best, found = seg, true
		}
		return true
	})
	if !found {
		return Position{}, false
	}
	return Position{Source: m.SourcePath(int(best.src)), Line: int(best.line) + 1, Column: int(best.col) + 1}, true
}
