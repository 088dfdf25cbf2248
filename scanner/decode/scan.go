package decode

import (
	"bytes"
	"encoding/binary"
	"hash/maphash"
	"math/bits"
	"sort"
	"strings"

	"github.com/atomyx/atomyx-guard/patterns"
)

// Encoding names, as Match.Chain and finding.Location.Decoded record them.
const (
	KindBase64     = "base64"
	KindPercent    = "percent"
	KindJSEscape   = "json-escape"
	KindHTMLEntity = "html-entity"
	KindUTF16LE    = "utf-16le"
	KindUTF16BE    = "utf-16be"
)

const (
	// DefaultDepth is the deepest nesting of encodings decoded (and the
	// most the Scanner accepts): base64 of a JSON with \u escapes is 2.
	DefaultDepth = 3
	// MinBase64Run is the fewest base64 characters that can hold a key
	// (47 bytes are 63 characters at best); shorter runs are not decoded.
	MinBase64Run = 62
	// Overlap is how far a streaming caller's windows must overlap so that
	// an encoded key across a window edge is seen whole in one of them: it
	// bounds the encoded length of a key the Scanner finds (a key with
	// every character written as a 10-byte escape is 470 bytes; base64 of
	// UTF-16 of \u escapes about 750).
	Overlap = 4096

	// An escape decodes a window from radius bytes before it to radius
	// bytes past advance after it, which covers every key holding an escape
	// in the first advance bytes; the next window starts after those.
	radius  = 512
	advance = 2048
	// A wrapped base64 run continues across a line break only after a
	// line of at least minSeg characters, with at most maxIndent spaces or
	// tabs of indentation after the break.
	minSeg    = 16
	maxIndent = 16
	// Decoding is bounded per region: each place at the top level where
	// an encoding may start (an escape's window, a base64 run, a UTF-16
	// run) may decode regionPerByte bytes per byte of its span, its own
	// decoding included. Beyond that, nested decoding may borrow from a
	// pool for the whole buffer (budgetPerByte per input byte plus
	// budgetBase), at most half of what is left of it per region, so that
	// deep but legitimate nesting is decoded whole, while a pathological
	// region runs out alone and the regions after it are decoded as usual.
	// The work any input can cause is bounded by the regions' allowances
	// (regions overlap: at most about 8 span bytes per input byte, so 16
	// decoded bytes per input byte) plus the pool.
	budgetPerByte = 6
	budgetBase    = 1 << 16
	regionPerByte = 2
)

// Match is a key-shaped candidate found in a buffer, plain or under
// encodings.
type Match struct {
	// Start and End are the span, in the scanned buffer, of the key's
	// encoded form: Start is the first byte whose decoding contributes to
	// the key (for base64, the character holding its first bit).
	Start, End int
	// Chain lists the encodings undone to reveal the key, outermost
	// first; nil for a plain key.
	Chain []string
	// Key is the decoded candidate. It aliases the Scanner's scratch
	// memory: valid only during the callback, never to be kept or shown.
	Key []byte
	// Valid says whether the checksum holds (false only for near misses).
	Valid bool
}

// Options tells Scan about the buffer and what to report.
type Options struct {
	// Depth is how many encodings deep to look: 0 finds plain keys only;
	// values above DefaultDepth are taken as DefaultDepth.
	Depth int
	// Before is the byte preceding the buffer in its stream, 0 if none.
	Before byte
	// AtEOF says the buffer ends where its stream ends.
	AtEOF bool
	// Limit, when positive, drops matches starting at or after it (a
	// streaming caller leaves those to its next window) and is where
	// Result.Carry is measured.
	Limit int
	// Carry is the previous window's Result.Carry: the alignment of a
	// base64 run that continues into this buffer.
	Carry int
	// Offset is the buffer's offset in its stream; its parity tells
	// UTF-16 little-endian from big-endian text without a byte-order mark.
	Offset int64
	// NearMisses asks for candidates whose checksum fails too.
	NearMisses bool
}

// Result is what Scan tells its caller besides the matches.
type Result struct {
	// Carry is to be passed as Options.Carry for the window starting at
	// Limit.
	Carry int
	// Exhausted says a decoding budget ran out: some encoded content
	// was left undecoded (adversarial or pathological input). Plain keys
	// are found all the same, and so are keys one encoding deep in every
	// region; the regions after one that ran out are decoded as usual.
	Exhausted bool
	// ExhaustedAt is the offset in the buffer of the first region whose
	// budget ran out, ExhaustedRegions how many did.
	ExhaustedAt, ExhaustedRegions int
}

// Scanner finds keys in buffers, plain and encoded. It keeps scratch
// memory between calls, so one Scanner serves one goroutine at a time; a
// sync.Pool of Scanners suits concurrent workers.
type Scanner struct {
	lv    [DefaultDepth + 1]level
	data  [DefaultDepth + 1][]byte
	pos   [DefaultDepth + 1][]int32
	chars [DefaultDepth + 1][]byte
	segs  [DefaultDepth + 1][]seg
	leaf  level
	leafB []byte
	marks [DefaultDepth]marks // where the searches of a level start

	depth, limit int
	nearMisses   bool
	budget       int // the current top-level region's own
	borrow       int // what the current region may still take from pool
	pool         int // the buffer's, shared by the regions' nested decoding
	spent        int // bytes decoded in this scan, for tests
	// tight, for tests, leaves a region its own decoding only and no
	// pool to borrow from: any nested decoding runs out.
	tight       bool
	regionAt    int // offset of the current top-level region
	regionDry   bool
	exhaustedAt int
	exhaustedN  int
	seed        maphash.Seed
	seen        map[seenKey]int // index in found
	found       []hit
	keys        []byte // the found keys' bytes
	chain       [DefaultDepth]string
}

// hit is a match held until the scan ends, its key in Scanner.keys.
type hit struct {
	m      Match
	key, n int
}

type seenKey struct {
	start int
	h     uint64
}

// NewScanner returns a Scanner.
func NewScanner() *Scanner {
	return &Scanner{seed: maphash.MakeSeed(), seen: map[seenKey]int{}}
}

// Scan calls fn for every key-shaped candidate in buf, plain or encoded,
// once per position: valid keys always, near misses when asked. Where one
// occurrence is reached through several chains of encodings (a decoded
// window may take in text that needed no decoding), the shortest chain is
// reported. Matches arrive in no particular order.
func (s *Scanner) Scan(buf []byte, opt Options, fn func(Match)) Result {
	s.depth = min(max(opt.Depth, 0), DefaultDepth)
	s.limit = opt.Limit
	if s.limit <= 0 || s.limit > len(buf) {
		s.limit = len(buf)
	}
	s.nearMisses = opt.NearMisses
	s.pool = budgetPerByte*len(buf) + budgetBase
	if s.tight {
		s.pool = 0
	}
	s.budget, s.spent, s.exhaustedAt, s.exhaustedN = 0, 0, -1, 0
	clear(s.seen)
	top := &s.lv[0]
	*top = level{data: buf, before: opt.Before, atEOF: opt.AtEOF, carry: opt.Carry, parity: int(opt.Offset & 1)}
	s.found, s.keys = s.found[:0], s.keys[:0]
	s.scanLevel(top, 0)
	for _, h := range s.found {
		h.m.Key = s.keys[h.key : h.key+h.n : h.key+h.n]
		fn(h.m)
	}
	res := Result{Exhausted: s.exhaustedN > 0, ExhaustedAt: s.exhaustedAt, ExhaustedRegions: s.exhaustedN}
	if s.depth > 0 && !opt.AtEOF {
		res.Carry = s.carryAt(top, s.limit)
	}
	s.trim()
	return res
}

// maxKeep bounds the scratch memory a Scanner keeps between scans: a huge
// buffer's scratch goes back to the garbage collector.
const maxKeep = 4 << 20

func (s *Scanner) trim() {
	for i := range s.data {
		if cap(s.data[i]) > maxKeep {
			s.data[i] = nil
		}
		if cap(s.chars[i]) > maxKeep {
			s.chars[i] = nil
		}
		if cap(s.pos[i]) > maxKeep/4 {
			s.pos[i] = nil
		}
	}
	if cap(s.keys) > maxKeep {
		s.keys, s.found = nil, nil
	}
	for i := range s.marks {
		// Six kinds of marks, a bit a byte each: 6 MB for an 8 MB buffer,
		// kept (a pooled Scanner serves buffer after buffer of about the
		// same size; making them anew would cost more than the scan).
		if cap(s.marks[i].b64)*8*6 > 2*maxKeep {
			s.marks[i] = marks{}
		}
	}
	s.lv = [DefaultDepth + 1]level{} // drop references to the caller's buffer
	s.leaf = level{}
}

// level is one buffer being scanned: the caller's, or one decoded from a
// region of its parent.
type level struct {
	data   []byte
	before byte
	atEOF  bool
	carry  int // top level only: Options.Carry
	parity int // top level only: offset parity
	kind   string
	parent *level
	m      mapping
}

// mapping takes an offset in a decoded level to the offset in its parent
// of the encoded unit it came from.
type mapping struct {
	how   uint8
	segs  []seg // base64: where each line of the run starts
	st, p int   // base64: first character decoded, virtual prefix
	first int   // utf-16: parent offset of the first code unit
	pos   []int32
}

const (
	mapBase64 = iota
	mapUTF16
	mapTable
)

// seg is one line of a base64 run: character index ci is at offset so.
type seg struct{ ci, so int }

func (m *mapping) toParent(i int) int {
	switch m.how {
	case mapBase64:
		j := m.st + charOf(i, m.p)
		k := sort.Search(len(m.segs), func(x int) bool { return m.segs[x].ci > j }) - 1
		k = max(k, 0)
		return m.segs[k].so + j - m.segs[k].ci
	case mapUTF16:
		return m.first + 2*i
	}
	if i >= len(m.pos) {
		return int(m.pos[len(m.pos)-1]) + 1
	}
	return int(m.pos[i])
}

// region starts a top-level region at offset at, spanning span bytes of
// the buffer, with its own budget.
func (s *Scanner) region(at, span int) {
	s.budget = regionPerByte * span
	if s.tight {
		s.budget = span
	}
	s.borrow = s.pool / 2
	s.regionAt, s.regionDry = at, false
}

// dry records that the current region's budget ran out.
func (s *Scanner) dry() {
	if s.regionDry {
		return
	}
	s.regionDry = true
	s.exhaustedN++
	if s.exhaustedAt < 0 || s.regionAt < s.exhaustedAt {
		s.exhaustedAt = s.regionAt
	}
}

// spend accounts n bytes decoded and says whether the budgets allow them:
// the region's own first, then what it may borrow from the buffer's pool.
// A region's first spending, its own decoding, always fits.
func (s *Scanner) spend(n int) bool {
	if n <= s.budget {
		s.budget -= n
		s.spent += n
		return true
	}
	if over := n - s.budget; over <= s.borrow {
		s.budget = 0
		s.borrow -= over
		s.pool -= over
		s.spent += n
		return true
	}
	s.dry()
	return false
}

// spendLeaf accounts a key's decoding found by a leaf decoder (byte lists,
// base32, split literals) at offset at: at the top level it is a region
// of its own, as every other decoding is, so that a region spent before it
// cannot starve it.
func (s *Scanner) spendLeaf(depth, at int) bool {
	if depth == 0 {
		s.region(at, patterns.KeyLen)
	}
	return s.spend(patterns.KeyLen)
}

// scanLevel finds plain candidates in l, then, if l is not at the depth
// limit, every place an encoding can hide one, and scans what they decode
// to.
func (s *Scanner) scanLevel(l *level, depth int) {
	if depth > 0 && !hasText(l.data) {
		return // decoded to binary: no key, no encoding of one (prefilter.go)
	}
	var frag func(int) // a key's head that may go on in another literal
	if depth < s.depth {
		frag = func(at int) { s.splitLiteral(l, depth, at) }
	}
	emit := func(c patterns.Candidate) { s.emit(l, c) }
	if depth >= s.depth {
		patterns.FindFragments(l.data, emit, frag)
		return
	}
	mk := &s.marks[depth]
	mk.mark(l.data)
	if !hasVector {
		s.scanScalar(l, depth, emit, frag)
		return
	}
	patterns.FindFragmentsMarked(l.data, mk.x, emit, frag)
	s.base64Runs(l, depth)
	s.escapes(l, depth, escPercent)
	s.escapes(l, depth, escJS)
	s.escapes(l, depth, escHTML)
	s.utf16Runs(l, depth)
	s.byteLists(l, depth)
}

func (s *Scanner) emit(l *level, c patterns.Candidate) {
	if !c.Valid && !s.nearMisses {
		return
	}
	start, last := c.Start, c.End-1
	n := 0
	for x := l; x.parent != nil; x = x.parent {
		start, last = x.m.toParent(start), x.m.toParent(last)
		s.chain[n] = x.kind
		n++
	}
	if start >= s.limit {
		return
	}
	key := l.data[c.Start:c.End]
	sk := seenKey{start, maphash.Bytes(s.seed, key)}
	if i, dup := s.seen[sk]; dup {
		if n < len(s.found[i].m.Chain) {
			s.found[i].m.Chain = s.chainOf(n)
		}
		return
	}
	s.seen[sk] = len(s.found)
	s.found = append(s.found, hit{
		m:   Match{Start: start, End: max(last+1, start+1), Chain: s.chainOf(n), Valid: c.Valid},
		key: len(s.keys), n: len(key),
	})
	s.keys = append(s.keys, key...)
}

// chainOf returns the first n kinds of s.chain, outermost first.
func (s *Scanner) chainOf(n int) []string {
	if n == 0 {
		return nil
	}
	c := make([]string, n)
	for i := range n {
		c[i] = s.chain[n-1-i]
	}
	return c
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

// base64Runs decodes every base64 run of l long enough to hold a key, and
// tries every segment long enough as base32. Such a run has a segment
// (its line, or a line of it that continues on the next) of at least
// minSeg characters. The starts of those segments are read off the
// base64 marks a word at a time, without a branch per segment
// (appendLongStarts), a chunk of words at a time, then visited in order:
// most are identifiers (minified code has one of 16 characters or more
// every hundred bytes or so) that mayWrap rules out by the bytes at their
// ends. (Asking for those bytes ahead, as escapes does, measured slower
// here: an assembly call per segment.)
func (s *Scanner) base64Runs(l *level, depth int) {
	b, mk := l.data, &s.marks[depth]
	bm := mk.b64
	next := 0 // segments before it belong to the last run decoded
	for c := 0; c < len(bm); c += offsetsChunk {
		at := appendLongStarts(mk.at[:0], bm, c, min(len(bm), c+offsetsChunk))
		mk.at = at
		for _, a := range at {
			if a < next {
				continue
			}
			e := segEnd(b, bm, a+minSeg)
			var ok bool
			if next, ok = s.segment(l, depth, a, e); !ok {
				return
			}
		}
	}
}

// segment decodes the base64 run that the segment b[a:e] belongs to, if it
// may belong to one long enough, and tries its long lines as base32. It
// returns where to look next; false when the budget ran out.
func (s *Scanner) segment(l *level, depth, a, e int) (int, bool) {
	if e-a >= minBase32Run && !s.base32Run(l, depth, a, e) {
		return 0, false
	}
	if e-a < MinBase64Run && !s.mayWrap(l, s.marks[depth].b64, a, e) {
		return e, true
	}
	r := s.findRun(l, depth, a)
	// The run's other lines long enough for base32, too.
	for k, sg := range s.segs[depth] {
		end := r.end
		if k+1 < len(s.segs[depth]) {
			end = sg.so + s.segs[depth][k+1].ci - sg.ci
		}
		if sg.so != a && end-sg.so >= minBase32Run && !s.base32Run(l, depth, sg.so, end) {
			return 0, false
		}
	}
	if r.n >= MinBase64Run {
		s.decodeRun(l, depth, &r)
	}
	return max(e, r.end), true
}

// appendLongStarts appends to at the offsets, in order, where a base64
// segment of at least minSeg characters starts in the words [from, to) of
// the base64 marks bm: a character that begins a run of minSeg marks and
// follows none. No branch per segment; a word without marks is passed
// over.
func appendLongStarts(at []int, bm []uint64, from, to int) []int {
	var prev uint64 // the last mark of the word before
	if from > 0 {
		prev = bm[from-1] >> 63
	}
	for k := from; k < to; k++ {
		lo := bm[k]
		if lo == 0 {
			prev = 0
			continue
		}
		var hi uint64
		if k+1 < len(bm) {
			hi = bm[k+1]
		}
		for w := run16(lo, hi) &^ (lo<<1 | prev); w != 0; w &= w - 1 {
			at = append(at, 64*k+bits.TrailingZeros64(w))
		}
		prev = lo >> 63
	}
	return at
}

// run16 returns the bits i of lo such that bits i to i+15 of the 128-bit
// lo, hi (lo first) are all set: where a run of minSeg marks starts.
func run16(lo, hi uint64) uint64 {
	a1, h1 := lo&(lo>>1|hi<<63), hi&(hi>>1)
	a2, h2 := a1&(a1>>2|h1<<62), h1&(h1>>2)
	a4, h4 := a2&(a2>>4|h2<<60), h2&(h2>>4)
	return a4 & (a4>>8 | h4<<56)
}

// mayWrap says whether the segment b[a:e] may be a line of a wrapped run:
// long enough to continue on the next line, or the first on its line (after
// indentation) after a line that may wrap, or at the start of a window that
// continues a run. It is exact: findRun would find a run shorter than
// MinBase64Run around any other short segment.
func (s *Scanner) mayWrap(l *level, bm []uint64, a, e int) bool {
	b := l.data
	if e-a >= minSeg && e < len(b) && (b[e] == '\r' || b[e] == '\n') {
		return true
	}
	if j := indentBefore(b, a); j > 0 {
		if b[j-1] != '\n' {
			return false
		}
		// First on its line (as every word that starts a line of code
		// is): only the last line of a wrapped run, after a line that
		// ends in a long segment, or one a carried run may have begun.
		ps, pe, ok := prevSeg(b, bm, a)
		return ok && (pe-ps >= minSeg || l.carry > 0)
	}
	return l.carry > 0
}

// The helpers below walk the layout of wrapped base64: a line's segment of
// base64 characters, the indentation (at most maxIndent spaces or tabs)
// before the next, the line breaks between them.

func isBlank(c byte) bool { return c == ' ' || c == '\t' }

// indentBefore returns where the indentation that ends at b[i] starts.
func indentBefore(b []byte, i int) int {
	j := i
	for j > 0 && i-j < maxIndent && isBlank(b[j-1]) {
		j--
	}
	return j
}

// indentAfter returns where the indentation that starts at b[i] ends.
func indentAfter(b []byte, i int) int {
	j := i
	for j < len(b) && j-i < maxIndent && isBlank(b[j]) {
		j++
	}
	return j
}

// spaceAfter returns the end of the white space, at most n bytes, that
// starts at b[i].
func spaceAfter(b []byte, i, n int) int {
	j := i
	for j < len(b) && j-i < n && isSpace(b[j]) {
		j++
	}
	return j
}

// segStart and segEnd return the bounds of the base64 segment around
// b[i], read from bm, the level's base64 marks (marks.b64): a word's marks
// at a time, so a 64-character line of a PEM block costs about as much as
// a word of prose. Without marks (bm nil: no vectors, scalar.go) they
// walk b, eight bytes a step.
func segStart(b []byte, bm []uint64, i int) int {
	if bm == nil {
		return segStartBytes(b, i)
	}
	for i > 0 {
		j := i - 1
		if w := ^bm[j>>6] << (63 - j&63); w != 0 {
			return j - bits.LeadingZeros64(w) + 1
		}
		i = j &^ 63
	}
	return 0
}

func segEnd(b []byte, bm []uint64, i int) int {
	if bm == nil {
		return segEndBytes(b, i)
	}
	n := len(b)
	for i < n {
		if w := ^bm[i>>6] >> (i & 63); w != 0 {
			return min(n, i+bits.TrailingZeros64(w))
		}
		i = i | 63 + 1
	}
	return n
}

// segStartBytes and segEndBytes are segStart and segEnd on the bytes: one
// test of the OR of eight b64val says whether all eight are base64 (b64val
// of a non-base64 byte has its top bit set).
func segStartBytes(b []byte, i int) int {
	for n := 0; n < 8; n++ {
		if i == 0 || !isB64(b[i-1]) {
			return i
		}
		i--
	}
	for i >= 8 {
		w := b[i-8 : i : i]
		if (b64val[w[0]]|b64val[w[1]]|b64val[w[2]]|b64val[w[3]]|
			b64val[w[4]]|b64val[w[5]]|b64val[w[6]]|b64val[w[7]])&0x80 != 0 {
			break
		}
		i -= 8
	}
	for i > 0 && isB64(b[i-1]) {
		i--
	}
	return i
}

func segEndBytes(b []byte, i int) int {
	for n := 0; n < 8; n++ {
		if i == len(b) || !isB64(b[i]) {
			return i
		}
		i++
	}
	for i+8 <= len(b) {
		w := b[i : i+8 : i+8]
		if (b64val[w[0]]|b64val[w[1]]|b64val[w[2]]|b64val[w[3]]|
			b64val[w[4]]|b64val[w[5]]|b64val[w[6]]|b64val[w[7]])&0x80 != 0 {
			break
		}
		i += 8
	}
	for i < len(b) && isB64(b[i]) {
		i++
	}
	return i
}

// prevSeg returns the segment that ends the line before the one the
// segment at b[k] starts (after its indentation), if there is one.
func prevSeg(b []byte, bm []uint64, k int) (start, end int, ok bool) {
	j := indentBefore(b, k)
	if j == 0 || b[j-1] != '\n' {
		return 0, 0, false
	}
	j--
	if j > 0 && b[j-1] == '\r' {
		j--
	}
	if j == 0 || !isB64(b[j-1]) {
		return 0, 0, false
	}
	return segStart(b, bm, j-1), j, true
}

// nextSeg returns where the segment starting the line after a segment
// ending at b[e] begins (after its indentation), if there is one.
func nextSeg(b []byte, e int) (int, bool) {
	if e < len(b) && b[e] == '\r' {
		e++
	}
	if e >= len(b) || b[e] != '\n' {
		return 0, false
	}
	x := indentAfter(b, e+1)
	if x >= len(b) || !isB64(b[x]) {
		return 0, false
	}
	return x, true
}

// run is a stretch of base64 characters, possibly across line breaks.
type run struct {
	start, end int // first character, one past the last
	n          int // characters
	pad        int // '=' after end
	truncStart bool
	truncEnd   bool
}

// findRun returns the run holding the base64 character at b[i], its lines
// in s.segs[depth]. A run goes on to the next line only after a segment of
// at least minSeg characters, except a first segment that may be the tail
// of a run the previous window held.
func (s *Scanner) findRun(l *level, depth, i int) run {
	b := l.data
	exempt := l.carry > 0 // a line at the start may be the tail of a long one
	first := 0
	if exempt {
		first = spaceAfter(b, 0, maxIndent+2)
	}
	wraps := func(start, end int) bool { return end-start >= minSeg || exempt && start == first }

	bm := s.marks[depth].b64
	k := segStart(b, bm, i)
	for {
		ps, pe, ok := prevSeg(b, bm, k)
		if !ok || !wraps(ps, pe) {
			break
		}
		k = ps
	}
	r := run{start: k}
	segs := s.segs[depth][:0]
	j := k
	for {
		ss := j
		j = segEnd(b, bm, j)
		segs = append(segs, seg{r.n, ss})
		r.n += j - ss
		if !wraps(ss, j) {
			break
		}
		next, ok := nextSeg(b, j)
		if !ok {
			break
		}
		j = next
	}
	s.segs[depth] = segs
	r.end = j
	for r.end+r.pad < len(b) && r.pad < 2 && b[r.end+r.pad] == '=' {
		r.pad++
	}
	r.truncStart = exempt && r.start == first
	if !l.atEOF {
		r.truncEnd = spaceAfter(b, r.end+r.pad, maxIndent+4-r.pad) == len(b)
	}
	return r
}

// phase returns the virtual prefix (see decodeChars) that aligns r's
// groups: the carried one for a run continued from the previous window,
// the one its padding implies when its end is in view, else 0 (the run
// starts a group).
func (r *run) phase(carry int) int {
	if r.truncStart {
		return carry - 1
	}
	if !r.truncEnd && r.pad > 0 {
		return (4 - (r.n+r.pad)%4) % 4
	}
	return 0
}

func mod4(x int) int { return x & 3 }

// decodeRun decodes run r of l at its natural alignment and scans the
// result one level deeper; then it looks for the stable characters of an
// encoded key prefix at the other alignments (a run that starts with a
// stray path or word), and decodes a small window around each.
func (s *Scanner) decodeRun(l *level, depth int, r *run) {
	b := l.data
	segs := s.segs[depth]
	chars := b[r.start:r.end]
	if len(segs) > 1 {
		chars = s.chars[depth][:0]
		for k, sg := range segs {
			n := r.n - sg.ci
			if k+1 < len(segs) {
				n = segs[k+1].ci - sg.ci
			}
			chars = append(chars, b[sg.so:sg.so+n]...)
		}
		s.chars[depth] = chars
	}
	if !base64Text(chars) {
		return // decodes to binary at every alignment (prefilter.go)
	}
	p := r.phase(l.carry)
	natural := false
	if depth == 0 {
		s.region(r.start, len(chars))
	}
	if s.spend(len(chars)) {
		c := &s.lv[depth+1]
		s.data[depth+1] = decodeChars(s.data[depth+1][:0], chars, p)
		*c = level{data: s.data[depth+1], atEOF: !r.truncEnd, kind: KindBase64, parent: l,
			m: mapping{how: mapBase64, segs: segs, p: p}}
		s.scanLevel(c, depth+1)
		natural = true
	}
	for _, a := range anchors {
		for off := 0; off < len(chars); {
			x := bytes.Index(chars[off:], a.lit)
			if x < 0 {
				break
			}
			at := off + x
			off = at + 1
			g := at - a.at // where the prefix's group starts
			if natural && mod4(g+p) == 0 {
				continue // the natural decoding saw it
			}
			st, en := max(0, g-4), min(len(chars), g+72)
			wp := mod4(st - g)
			if !s.spend(en - st) {
				return
			}
			s.leafB = decodeChars(s.leafB[:0], chars[st:en], wp)
			leaf := &s.leaf
			*leaf = level{data: s.leafB, atEOF: en == len(chars) && !r.truncEnd, kind: KindBase64, parent: l,
				m: mapping{how: mapBase64, segs: segs, st: st, p: wp}}
			patterns.Find(leaf.data, 0, leaf.atEOF, func(c patterns.Candidate) { s.emit(leaf, c) })
		}
	}
}

// keyish marks the characters an escape can stand for inside an encoded
// key: base62, '_', and the other base64 characters.
var keyish = func() (t [128]bool) {
	for i := 0; i < len(patterns.Alphabet); i++ {
		t[patterns.Alphabet[i]] = true
	}
	for _, c := range []byte("_+/=-") {
		t[c] = true
	}
	return t
}()

var keyStart = []byte("atmx")

func introKind(r rune) (escKind, bool) {
	switch r {
	case '%':
		return escPercent, true
	case '\\':
		return escJS, true
	case '&':
		return escHTML, true
	}
	return 0, false
}

// relevant says whether an escape standing for r, followed by rest, can be
// part of an encoded key: r is a key or base64 character, or introduces
// another escape (double encoding), or the escape sits right before a key
// prefix (whose left boundary depends on what the escape stands for).
func relevant(r rune, rest []byte) bool {
	if r < 0x80 && keyish[r] {
		return true
	}
	if k, ok := introKind(r); ok {
		// A double encoding ("%255F", "&amp;#95;", "\\u005f"): what
		// follows must be an escape standing for a relevant character.
		var tmp [16]byte
		tmp[0] = byte(r)
		n := copy(tmp[1:], rest)
		r2, _, ok := parseEsc(k, tmp[:n+1], 0)
		if ok && r2 < 0x80 && (keyish[r2] || r2 == '%' || r2 == '\\' || r2 == '&') {
			return true
		}
	}
	return bytes.HasPrefix(rest, keyStart)
}

// escapes decodes a window around every relevant escape of kind k in l and
// scans it one level deeper. The introducers that can start one are
// marked in s.marks[depth]; their offsets are gathered first, so that the
// bytes of those a few ahead can be asked for while one is parsed (marks
// made over megabytes are read long after the bytes left the cache).
func (s *Scanner) escapes(l *level, depth int, k escKind) {
	words := s.marks[depth].esc[k]
	next := 0 // escapes before it are inside the last window decoded
	// A chunk of words at a time, so that the offsets take bounded memory
	// whatever the number of escapes.
	for c := 0; c < len(words); c += offsetsChunk {
		at := s.marks[depth].offsets(words[c:min(len(words), c+offsetsChunk)], 64*c)
		if !s.escapesAt(l, depth, k, at, &next) {
			return
		}
	}
}

// offsetsChunk is how many words of marks escapes gathers at a time.
const offsetsChunk = 1024

// escapesAt is escapes for the marked offsets at; false when the budget
// ran out.
func (s *Scanner) escapesAt(l *level, depth int, k escKind, at []int, next *int) bool {
	b := l.data
	for i, p := range at {
		if i+prefetchAhead < len(at) {
			prefetch(b, at[i+prefetchAhead])
		}
		if p < *next {
			continue
		}
		r, n, ok := parseEsc(k, b, p) // introducer(b, p, k) holds
		if !ok || !relevant(r, b[p+n:]) {
			continue
		}
		ws, we := max(0, p-radius), min(len(b), p+advance+radius)
		if depth == 0 {
			s.region(p, we-ws)
		}
		if !s.spend(we - ws) {
			return false
		}
		d, pos := decodeEsc(k, s.data[depth+1][:0], s.pos[depth+1][:0], b[ws:we], ws, true)
		s.data[depth+1], s.pos[depth+1] = d, pos
		before := l.before
		if ws > 0 {
			before = b[ws-1]
		}
		c := &s.lv[depth+1]
		*c = level{data: d, before: before, atEOF: we == len(b) && l.atEOF, kind: escName[k], parent: l,
			m: mapping{how: mapTable, pos: pos}}
		s.scanLevel(c, depth+1)
		*next = p + advance + 1
	}
	return true
}

// prefetchAhead is how many marked offsets ahead of the one looked at the
// bytes are asked for.
const prefetchAhead = 8

// quickSkip marks, per escape kind, the bytes after an introducer that
// rule out a relevant escape, unless a key prefix follows it ("\natmx_…"):
// what cannot start an escape, and the JS escapes of control characters
// and quotes, which minified code is full of.
var quickSkip = func() (t [3][256]bool) {
	for c := range 256 {
		t[escPercent][c] = HexDigit(byte(c)) < 0
		t[escHTML][c] = !(c == '#' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z')
		t[escJS][c] = !strings.ContainsRune("xu/\\0", rune(c))
	}
	return t
}()

// utf16Runs decodes every run of ASCII text written as UTF-16 (every other
// byte NUL) long enough to hold a key. Text without NUL bytes costs one
// vectorised search.
func (s *Scanner) utf16Runs(l *level, depth int) {
	b := l.data
	for i := 0; i < len(b); {
		x := bytes.IndexByte(b[i:], 0)
		if x < 0 {
			return
		}
		z := i + x
		i = z + 1
		if z+1 < len(b) && b[z+1] == 0 {
			// A run of NULs (sparse binaries are full of them) holds no
			// UTF-16 text: skip it a word at a time, up to its last NUL,
			// which is looked at next as the possible start of text.
			i = z + 1 + zeroRun(b[z+1:]) - 1
			continue
		}
		if !(z > 0 && printable[b[z-1]]) && !(z+1 < len(b) && printable[b[z+1]]) {
			continue
		}
		s0, e0 := utf16Extent(b, z)
		i = max(i, e0)
		a0 := s0 // the first ASCII byte
		if a0&1 == z&1 {
			a0++
		}
		if (e0-a0+1)/2 < patterns.KeyLen {
			continue
		}
		if depth == 0 {
			s.region(a0, e0-a0)
		}
		// Without a byte-order mark, "c\0c\0c" reads as little-endian
		// "cc" + c or big-endian c + "cc": the parity of the offset picks
		// the likely order, and the other is tried too (a key at the edge
		// of the run is whole in one reading only). Both map a character
		// to its ASCII byte, so a key seen in both is reported once.
		be, bom := byteOrder(b, a0)
		if !bom {
			be = (l.parity+a0)&1 == 1
		}
		for try := range 2 {
			if try == 1 {
				if bom {
					break
				}
				be = !be
			}
			from, to := a0, e0 // ASCII bytes with their NUL partner in the run
			if be && a0 == s0 {
				from += 2
			}
			if !be && e0 > a0 && (e0-a0)&1 == 1 {
				to-- // the last ASCII byte has no NUL after it
			}
			if to-from < 2*patterns.KeyLen-1 {
				continue
			}
			if !s.decodeUTF16(l, depth, from, to, be, e0 < len(b) || l.atEOF) {
				return
			}
		}
	}
}

// utf16Extent returns the bounds of the stretch around the NUL at b[z] in
// which bytes of z's parity are NULs and the others printable ASCII.
func utf16Extent(b []byte, z int) (start, end int) {
	zp := z & 1
	ok := func(j int) bool {
		if j&1 == zp {
			return b[j] == 0
		}
		return printable[b[j]]
	}
	start = z
	for start > 0 && ok(start-1) {
		start--
	}
	end = z + 1
	for end < len(b) && ok(end) {
		end++
	}
	return start, end
}

// byteOrder reads the byte-order mark before the first ASCII byte a0 of a
// UTF-16 run, if there is one.
func byteOrder(b []byte, a0 int) (be, bom bool) {
	switch {
	case a0 >= 2 && b[a0-2] == 0xFF && b[a0-1] == 0xFE:
		return false, true
	case a0 >= 3 && b[a0-3] == 0xFE && b[a0-2] == 0xFF:
		return true, true
	}
	return false, false
}

// decodeUTF16 takes the ASCII bytes b[from], b[from+2], … before to of l
// as one level deeper and scans it; false when the budget is out.
func (s *Scanner) decodeUTF16(l *level, depth, from, to int, be, atEOF bool) bool {
	if !s.spend((to - from) / 2) {
		return false
	}
	b := l.data
	d := s.data[depth+1][:0]
	for j := from; j < to; j += 2 {
		d = append(d, b[j])
	}
	s.data[depth+1] = d
	kind := KindUTF16LE
	if be {
		kind = KindUTF16BE
	}
	c := &s.lv[depth+1]
	*c = level{data: d, atEOF: atEOF, kind: kind, parent: l, m: mapping{how: mapUTF16, first: from}}
	s.scanLevel(c, depth+1)
	return true
}

// carryAt returns the Result.Carry for a window starting at limit: the
// alignment of the base64 run crossing limit, plus one; 0 if none does.
func (s *Scanner) carryAt(l *level, limit int) int {
	b := l.data
	if limit <= 0 || limit >= len(b) {
		return 0
	}
	q := limit - 1
	for q >= 0 && limit-q <= maxIndent+2 && isSpace(b[q]) {
		q--
	}
	if q < 0 || !isB64(b[q]) {
		return 0
	}
	r := s.findRun(l, 0, q)
	if r.end <= limit {
		return 0
	}
	segs := s.segs[0]
	count := 0
	for k, sg := range segs {
		if sg.so >= limit {
			break
		}
		n := r.n - sg.ci
		if k+1 < len(segs) {
			n = segs[k+1].ci - sg.ci
		}
		count += min(n, limit-sg.so)
	}
	return mod4(r.phase(l.carry)+count) + 1
}

// zeroRun returns the number of leading NUL bytes of b.
func zeroRun(b []byte) int {
	n := 0
	for len(b)-n >= 8 && binary.LittleEndian.Uint64(b[n:]) == 0 {
		n += 8
	}
	for n < len(b) && b[n] == 0 {
		n++
	}
	return n
}
