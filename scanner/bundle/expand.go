package bundle

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"

	"github.com/atomyx/atomyx-guard/internal/finding"
	"github.com/atomyx/atomyx-guard/patterns"
	"github.com/atomyx/atomyx-guard/scanner"
	"golang.org/x/net/html"
)

// Kind is what a browser would make of a file.
type Kind int

const (
	Unknown Kind = iota
	JS
	CSS
	HTML
	SourceMap
)

func (k Kind) String() string {
	return [...]string{"unknown", "js", "css", "html", "sourcemap"}[k]
}

// KindOf classifies an item by its name (a path or URL) and, failing that,
// by its first bytes.
func KindOf(name string, head []byte) Kind {
	if strings.Contains(name, "://") {
		if i := strings.IndexAny(name, "?#"); i >= 0 {
			name = name[:i]
		}
	}
	if i := strings.LastIndexByte(name, '!'); i >= 0 {
		name = name[i+1:] // an archive member
	}
	switch strings.ToLower(path.Ext(name)) {
	case ".js", ".mjs", ".cjs":
		return JS
	case ".css":
		return CSS
	case ".html", ".htm", ".xhtml":
		return HTML
	case ".map":
		return SourceMap
	}
	h := bytes.TrimLeft(head[:min(len(head), 512)], " \t\r\n\ufeff")
	switch {
	case hasPrefixFold(h, "<!doctype html"), hasPrefixFold(h, "<html"):
		return HTML
	case bytes.HasPrefix(h, []byte(")]}")),
		bytes.HasPrefix(h, []byte("{")) && bytes.Contains(h, []byte(`"version"`)) &&
			(bytes.Contains(h, []byte(`"mappings"`)) || bytes.Contains(h, []byte(`"sources"`)) || bytes.Contains(h, []byte(`"sections"`))):
		return SourceMap
	}
	return Unknown
}

// hasPrefixFold is bytes.HasPrefix ignoring ASCII case, for a lower-case
// prefix, without lowering a copy of b.
func hasPrefixFold(b []byte, prefix string) bool {
	if len(b) < len(prefix) {
		return false
	}
	for i := range len(prefix) {
		if c, p := b[i], prefix[i]; c != p && (p < 'a' || p > 'z' || c|0x20 != p) {
			return false
		}
	}
	return true
}

// DefaultMaxBytes is the largest item the Expander reads into memory.
const DefaultMaxBytes = 64 << 20

// Expander is a scanner.Expander for bundles, CSS, HTML and source maps.
// It takes over the scan of the item's own text (re-emitting it with a
// Remap that adds the original position) and emits each source a map
// carries, so a key in a map or a bundle is reported once per place, with
// its origin.
type Expander struct {
	// MaxBytes bounds the items read; larger ones are left to the plain
	// Detector. DefaultMaxBytes when zero.
	MaxBytes int64
	// LoadMap fetches the external source map ref that it names, for
	// mapping keys in the generated code. A missing map is not an error
	// (return an error wrapping fs.ErrNotExist). When nil, maps are read
	// from disk beside file-source items.
	LoadMap func(ctx context.Context, it scanner.Item, ref string) ([]byte, error)
	// Kind, when set, classifies items first (a crawler knows the
	// Content-Type); Unknown falls back to KindOf.
	Kind func(it scanner.Item) Kind
	// MapRef, when set, names an item's source map given outside its text
	// (an HTTP SourceMap header), used when no comment names one.
	MapRef func(it scanner.Item) string
}

var _ scanner.Expander = (*Expander)(nil)

func (e *Expander) maxBytes() int64 {
	if e.MaxBytes > 0 {
		return e.MaxBytes
	}
	return DefaultMaxBytes
}

func (e *Expander) kind(it scanner.Item, head []byte) Kind {
	if e.Kind != nil {
		if k := e.Kind(it); k != Unknown {
			return k
		}
	}
	name := it.Loc.Path
	if name == "" {
		name = it.Loc.URL
	}
	return KindOf(name, head)
}

// Match takes bundles, CSS, HTML and source maps it has not already
// emitted itself (those carry a Remap). It scans their text itself, so
// scanText is false.
func (e *Expander) Match(it scanner.Item, head []byte) (ok, scanText bool) {
	if it.Remap != nil || it.Size > e.maxBytes() {
		return false, true
	}
	return e.kind(it, head) != Unknown, false
}

func identity(l finding.Location) finding.Location { return l }

// Expand reads the item, emits its own text with a Remap, and the sources
// its maps carry. Malformed or unreadable maps are returned as an error
// (a Skip) after the text has been emitted: the raw text is always scanned.
func (e *Expander) Expand(ctx context.Context, it scanner.Item, r io.Reader, emit func(scanner.Item) error) error {
	max := e.maxBytes()
	data, release, err := readAll(it, r, max+1)
	defer release()
	if err != nil {
		if len(data) > 0 {
			if eerr := emit(self(it, data, identity)); eerr != nil {
				return eerr
			}
		}
		return fmt.Errorf("read: %w", err)
	}
	var tooBig error
	if int64(len(data)) > max {
		data = data[:max]
		tooBig = fmt.Errorf("larger than %d bytes: only the first %d scanned", max, max)
	}
	x := &expansion{e: e, ctx: ctx, it: it, data: data, lines: lineIndex{data: data}, emit: emit}
	switch e.kind(it, data) {
	case SourceMap:
		x.sourceMap()
	case HTML:
		x.html()
	case CSS:
		x.generated(0, len(data), false)
		x.done()
	default:
		x.generated(0, len(data), true)
		x.done()
	}
	if x.emitErr != nil {
		return x.emitErr
	}
	return errors.Join(append(x.errs, tooBig)...)
}

// readAll reads at most limit bytes of the item, without a copy when it is
// in memory, else into a pooled buffer that release gives back.
func readAll(it scanner.Item, r io.Reader, limit int64) (data []byte, release func(), err error) {
	if it.Open == nil {
		return it.Data[:min(int64(len(it.Data)), limit)], func() {}, nil
	}
	size := int64(512)
	if ra, ok := r.(scanner.RandomAccess); ok {
		size = ra.Size() + 1 // +1: io.ReadAll-like growth sees EOF without a copy
	} else if it.Size > 0 {
		size = it.Size + 1
	}
	// Read into a buffer of the known size: bytes.Buffer.ReadFrom would
	// double it (and clear the new half) just to see EOF.
	bp := bigBuf(int(min(size, limit)))
	buf := (*bp)[:0]
	release = func() {
		*bp = buf[:0] // the larger, if it grew
		bigBufs.Put(bp)
	}
	lr := io.LimitReader(r, limit)
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := lr.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, release, nil
		}
		if err != nil {
			return buf, release, err
		}
	}
}

// bigBufs keeps the buffers readAll reads items into. Only items the
// Engine streams come with a reader (files above the 8 MiB it reads whole
// itself: 19% of the bytes of the npm bundles of scripts/bench-bundles.sh),
// and a fresh buffer that size cost a page fault every 4 KiB and its
// clearing. Emit scans an item before it returns (the Expander contract),
// so the buffer is free again when Expand returns.
var bigBufs sync.Pool

// bigBuf returns an empty buffer of capacity at least n.
func bigBuf(n int) *[]byte {
	if v := bigBufs.Get(); v != nil {
		if bp := v.(*[]byte); cap(*bp) >= n {
			return bp
		}
	}
	b := make([]byte, 0, n)
	return &b
}

func self(it scanner.Item, data []byte, remap func(finding.Location) finding.Location) scanner.Item {
	return scanner.Item{Loc: it.Loc, Data: data, Size: int64(len(data)), Remap: remap}
}

// expansion is the work on one item.
type expansion struct {
	e       *Expander
	ctx     context.Context
	it      scanner.Item
	data    []byte
	lines   lineIndex
	regions []region
	emit    func(scanner.Item) error
	errs    []error
	emitErr error
}

// region is a stretch of generated code (a whole bundle, or an inline
// script of a page) with what maps it back to its sources.
type region struct {
	start, end int
	evals      []evalModule // absolute offsets
	sm         *Map
	ext        *extMap // an external map, loaded on demand
}

// extMap is an external source map a region names, loaded the first time
// a key in the region is mapped back.
type extMap struct {
	ref  string
	once sync.Once
	m    *Map
}

func (x *expansion) out(it scanner.Item) {
	if x.emitErr == nil {
		x.emitErr = x.emit(it)
	}
}

func (x *expansion) fail(err error) { x.errs = append(x.errs, err) }

// done emits the item's text with the regions' Remap.
func (x *expansion) done() {
	if len(x.regions) == 0 {
		x.out(self(x.it, x.data, identity))
		return
	}
	x.out(self(x.it, x.data, x.remapGenerated))
}

// generated analyses data[start:end] as JavaScript (js) or CSS.
func (x *expansion) generated(start, end int, js bool) {
	text := x.data[start:end]
	var reg region
	reg.start, reg.end = start, end
	if js {
		for _, m := range findEvalModules(text) {
			m.start += start
			m.end += start
			if m.mapURL != "" {
				m.mapAt += start
				// Its sources are emitted; the module's own text maps by
				// sourceURL and line.
				x.inlineMap(m.mapURL, m.mapAt)
			}
			reg.evals = append(reg.evals, m)
		}
	}
	inEval := func(off int) bool {
		for _, m := range reg.evals {
			if off+start >= m.start && off+start < m.end {
				return true
			}
		}
		return false
	}
	ref, at := lastComment(text, "sourceMappingURL=", inEval)
	if ref == "" && start == 0 && end == len(x.data) && x.e.MapRef != nil {
		ref = x.e.MapRef(x.it)
	}
	switch {
	case strings.HasPrefix(ref, "data:"):
		reg.sm = x.inlineMap(ref, start+at)
	case ref != "":
		// Loaded and parsed only if a key is found in the region: the map
		// is scanned as a file of its own anyway, and most bundles hold no
		// key.
		reg.ext = &extMap{ref: ref}
	}
	if reg.sm != nil || reg.ext != nil || len(reg.evals) > 0 {
		x.regions = append(x.regions, reg)
	}
}

// inlineMap decodes a data: source map found at offset at and emits its
// sources, placed at at in the item.
func (x *expansion) inlineMap(uri string, at int) *Map {
	raw, err := decodeDataURI(uri)
	if err != nil {
		x.fail(fmt.Errorf("inline source map: %w", err))
		return nil
	}
	m, err := parseLazy(raw)
	if err != nil {
		x.fail(fmt.Errorf("inline source map: %w", err))
		return nil
	}
	line, col := x.lines.position(at)
	m.eachContent(func(owner *Map, sp contentSpan) {
		content, err := owner.content(sp)
		if err != nil {
			x.fail(fmt.Errorf("inline source map: %w", err))
			return
		}
		path := scanner.Label(owner.SourcePath(sp.index))
		x.out(scanner.Item{Loc: x.it.Loc, Data: content, Size: int64(len(content)),
			Remap: func(l finding.Location) finding.Location {
				l.Original = &finding.Original{Path: path, Line: l.Line, Column: l.Column}
				l.Line, l.Column = line, col
				return l
			}})
	})
	return m
}

// externalMap loads the map a bundle names, for mapping only: its sources
// are scanned when the map itself is.
// Its errors are not reported: they can only be met after the item was
// scanned, and cost only the original position of a key.
func (x *expansion) externalMap(ref string) *Map {
	load := x.e.LoadMap
	if load == nil {
		load = loadMapFile
	}
	raw, err := load(x.ctx, x.it, ref)
	if err != nil {
		return nil
	}
	m, err := parseLazy(raw)
	if err != nil {
		return nil
	}
	return m
}

// loadMapFile reads a map named relative to a file-source item's path.
func loadMapFile(_ context.Context, it scanner.Item, ref string) ([]byte, error) {
	if it.Loc.Source != finding.SourceFile || it.Loc.Path == "" || strings.Contains(it.Loc.Path, "!") ||
		strings.Contains(ref, ":") || path.IsAbs(ref) {
		return nil, fs.ErrNotExist
	}
	if i := strings.IndexAny(ref, "?#"); i >= 0 {
		ref = ref[:i]
	}
	name := filepath.Join(filepath.Dir(it.Loc.Path), filepath.FromSlash(ref))
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%w: not a regular file", fs.ErrNotExist)
	}
	if st.Size() > MaxMapBytes {
		return nil, fmt.Errorf("%d bytes exceeds the %d-byte limit", st.Size(), MaxMapBytes)
	}
	return io.ReadAll(io.LimitReader(f, MaxMapBytes))
}

// remapGenerated places a key found in generated code in its original
// source: by the webpack module it sits in, or through the source map.
func (x *expansion) remapGenerated(l finding.Location) finding.Location {
	off, ok := x.lines.offset(l.Line, l.Column)
	if !ok {
		return l
	}
	for _, r := range x.regions {
		if off < r.start || off >= r.end {
			continue
		}
		for _, m := range r.evals {
			if off >= m.start && off < m.end {
				l.Original = &finding.Original{Path: scanner.Label(m.sourceURL), Line: moduleLine(x.data, m.start, off)}
				return l
			}
		}
		sm := r.sm
		if r.ext != nil {
			r.ext.once.Do(func() { r.ext.m = x.externalMap(r.ext.ref) })
			sm = r.ext.m
		}
		if sm == nil {
			return l
		}
		startLine, _ := x.lines.position(r.start)
		lineStart := max(off-(l.Column-1), r.start)
		if pos, ok := sm.Lookup(l.Line-startLine, utf16Len(x.data[lineStart:off])); ok {
			l.Original = &finding.Original{Path: scanner.Label(pos.Source), Line: pos.Line, Column: pos.Column}
		}
		return l
	}
	return l
}

// html analyses a page's inline scripts and styles as generated code.
func (x *expansion) html() {
	z := html.NewTokenizer(bytes.NewReader(x.data))
	off := 0
	inside := "" // "script" or "style" while in an inline body
	for {
		tt := z.Next()
		raw := len(z.Raw())
		switch tt {
		case html.ErrorToken:
			x.done()
			return
		case html.StartTagToken:
			name, hasAttr := z.TagName()
			inside = ""
			if n := string(name); n == "script" || n == "style" {
				inside = n
				for hasAttr {
					var k []byte
					k, _, hasAttr = z.TagAttr()
					if string(k) == "src" {
						inside = ""
					}
				}
			}
		case html.TextToken:
			if inside != "" {
				x.generated(off, off+raw, inside == "script")
			}
			inside = ""
		default:
			inside = ""
		}
		off += raw
	}
}

// sourceMap emits a map's text, each key placed in its original source,
// and the sources whose raw text could hide a key, decoded (a key after an
// escaped newline is glued to the "n" in the raw text). Both place a key
// at the same spot of the map, so a key seen both ways is reported once.
func (x *expansion) sourceMap() {
	m, err := parseLazy(x.data)
	if err != nil {
		x.out(self(x.it, x.data, identity))
		x.fail(err)
		return
	}
	x.out(self(x.it, x.data, func(l finding.Location) finding.Location {
		off, ok := x.lines.offset(l.Line, l.Column)
		if !ok {
			return l
		}
		if sp, ok := m.spanAt(off); ok {
			line, col := rawPosition(x.data, sp.start, sp.end, off)
			l.Original = &finding.Original{Path: scanner.Label(sp.m.SourcePath(sp.index)), Line: line, Column: col}
		}
		return l
	}))
	m.eachContent(func(owner *Map, sp contentSpan) {
		if !hides(x.data[sp.start:sp.end]) {
			return // the raw text shows all the decoded text would
		}
		content, err := owner.content(sp)
		if err != nil {
			x.fail(err)
			return
		}
		path := scanner.Label(owner.SourcePath(sp.index))
		ci := &lineIndex{data: content}
		x.out(scanner.Item{Loc: x.it.Loc, Data: ci.data, Size: int64(len(ci.data)),
			Remap: func(l finding.Location) finding.Location {
				orig := &finding.Original{Path: path, Line: l.Line, Column: l.Column}
				l.Line, l.Column = 0, 0
				if doff, ok := ci.offset(orig.Line, orig.Column); ok {
					l.Line, l.Column = x.lines.position(rawOffset(x.data, sp.start, sp.end, doff))
				}
				l.Original = orig
				return l
			}})
	})
}

// hides reports whether a JSON string body could hide a key from a scan
// of its raw text: a \u or \/ escape inside it, or a key glued to an
// escape letter ("\natmx_..." reads as "natmx_..."). A walk from escape
// to escape: searching the whole body for each of the three instead was
// twice as slow, the backslash of "\n" ending every line of a source.
func hides(raw []byte) bool {
	for i := 0; ; i += 2 {
		j := bytes.IndexByte(raw[i:], '\\')
		if j < 0 || i+j+1 >= len(raw) {
			return false
		}
		i += j
		switch raw[i+1] {
		case 'u', '/':
			return true
		case 'b', 'f', 'n', 'r', 't':
			if bytes.HasPrefix(raw[i+2:], prefix) {
				return true
			}
		}
	}
}

var prefix = []byte(patterns.Prefix)
