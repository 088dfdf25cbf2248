package bundle

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
)

// MaxMapBytes bounds the size of a source map the reader accepts.
const MaxMapBytes = 256 << 20

// Map is a parsed source map (revision 3), flat or indexed (sections).
// Mappings are validated when parsed but decoded line by line on demand, so
// a map costs little until a key needs its original position.
type Map struct {
	SourceRoot     string    `json:"sourceRoot"`
	Sources        []string  `json:"sources"`
	SourcesContent []*string `json:"sourcesContent"`
	Mappings       string    `json:"mappings"`
	Sections       []Section `json:"sections"`

	Version int `json:"version"`
	// lines[i] is the decoder state at the start of generated line i.
	lines []vlqState
}

// Section is one part of an index map, placed at Offset in the generated
// file.
type Section struct {
	Offset Offset `json:"offset"`
	Map    *Map   `json:"map"`
	URL    string `json:"url"`
}

// Offset is where a section starts in the generated file, 0-based.
type Offset struct {
	Line   int `json:"line"`
	Column int `json:"column"`
}

// Position is an original position: source path (with sourceRoot applied),
// 1-based line and column.
type Position struct {
	Source       string
	Line, Column int
}

// ParseMap reads a source map. It accepts the ")]}'" XSSI guard some
// servers prepend, and rejects maps that are not version 3, carry
// malformed VLQ mappings, or point at sources they do not list.
func ParseMap(data []byte) (*Map, error) {
	if len(data) > MaxMapBytes {
		return nil, fmt.Errorf("source map of %d bytes exceeds the %d-byte limit", len(data), MaxMapBytes)
	}
	var m Map
	if err := json.Unmarshal(stripXSSI(data), &m); err != nil {
		return nil, fmt.Errorf("source map: %w", err)
	}
	if err := m.validate(0); err != nil {
		return nil, err
	}
	return &m, nil
}

// parseMappingsOnly reads a map for Lookup alone: sourcesContent is
// skipped, not copied, which halves the cost of a map read only to place
// keys found in its bundle.
func parseMappingsOnly(data []byte) (*Map, error) {
	if len(data) > MaxMapBytes {
		return nil, fmt.Errorf("source map of %d bytes exceeds the %d-byte limit", len(data), MaxMapBytes)
	}
	var lean struct {
		Version    int    `json:"version"`
		SourceRoot string `json:"sourceRoot"`
		Sources    []string
		Mappings   string
		Sections   []struct {
			Offset Offset
			Map    *struct {
				Version    int `json:"version"`
				SourceRoot string
				Sources    []string
				Mappings   string
			}
		}
	}
	if err := json.Unmarshal(stripXSSI(data), &lean); err != nil {
		return nil, fmt.Errorf("source map: %w", err)
	}
	m := &Map{Version: lean.Version, SourceRoot: lean.SourceRoot, Sources: lean.Sources, Mappings: lean.Mappings}
	for _, s := range lean.Sections {
		sec := Section{Offset: s.Offset}
		if s.Map != nil {
			sec.Map = &Map{Version: s.Map.Version, SourceRoot: s.Map.SourceRoot, Sources: s.Map.Sources, Mappings: s.Map.Mappings}
		}
		m.Sections = append(m.Sections, sec)
	}
	if err := m.validate(0); err != nil {
		return nil, err
	}
	return m, nil
}

func stripXSSI(data []byte) []byte {
	s := strings.TrimLeft(string(data[:min(len(data), 16)]), " \t\r\n\ufeff")
	if strings.HasPrefix(s, ")]}") {
		if i := indexByte(data, '\n'); i >= 0 {
			return data[i+1:]
		}
	}
	return data
}

func indexByte(b []byte, c byte) int {
	for i, x := range b {
		if x == c {
			return i
		}
	}
	return -1
}

func (m *Map) validate(depth int) error {
	if m.Version != 3 {
		return fmt.Errorf("source map: version %d, want 3", m.Version)
	}
	if len(m.Sections) > 0 {
		if depth > 0 {
			return errors.New("source map: nested index map")
		}
		for i := range m.Sections {
			s := &m.Sections[i]
			if s.Map == nil {
				// A section by URL points elsewhere; nothing to read here.
				continue
			}
			if i > 0 && less(s.Offset.Line, s.Offset.Column, m.Sections[i-1].Offset.Line, m.Sections[i-1].Offset.Column) {
				return errors.New("source map: sections out of order")
			}
			if err := s.Map.validate(depth + 1); err != nil {
				return fmt.Errorf("section %d: %w", i, err)
			}
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
// sections first; section is -1 for the top-level map.
func (m *Map) eachContent(fn func(section, index int, path, content string)) {
	for k, s := range m.Sections {
		if s.Map != nil {
			s.Map.eachContent(func(_, i int, p, c string) { fn(k, i, p, c) })
		}
	}
	for i, c := range m.SourcesContent {
		if c != nil && i < len(m.Sources) {
			fn(-1, i, m.SourcePath(i), *c)
		}
	}
}

// sourcePath names sources[index] of the top-level map or of a section's.
func (m *Map) sourcePath(section, index int) string {
	if section >= 0 {
		if section < len(m.Sections) && m.Sections[section].Map != nil {
			return m.Sections[section].Map.SourcePath(index)
		}
		return ""
	}
	return m.SourcePath(index)
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
	if line < 0 || line >= len(m.lines) || col < 0 {
		return Position{}, false
	}
	var (
		best  vlqState
		found bool
	)
	st := m.lines[line]
	_ = decodeLine(m.Mappings, &st, func(seg vlqState, hasSource bool) bool {
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
