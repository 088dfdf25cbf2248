package decode

import (
	"bytes"

	"github.com/atomyx/atomyx-guard/patterns"
)

// Without vectors (processors without AVX2, other architectures), setting
// marks a byte at a time would cost more than the searches they replace,
// so none are made and the searches go as they did before the marks: the
// prefix by a byte search for its 'x', escapes by byte searches for their
// introducer, base64 runs and byte lists by probes, one byte in the
// shortest run that matters, and walks along the bytes around them. The
// results are the same (the tests run both ways).

// scanScalar is the part of scanLevel after the marks, without vectors.
func (s *Scanner) scanScalar(l *level, depth int, emit func(patterns.Candidate), frag func(int)) {
	patterns.FindFragments(l.data, emit, frag)
	s.base64RunsScan(l, depth)
	s.escapesScan(l, depth, escPercent)
	s.escapesScan(l, depth, escJS)
	s.escapesScan(l, depth, escHTML)
	s.utf16Runs(l, depth)
	s.byteListsScan(l, depth)
}

// escapesScan is escapes with the introducers found by a byte search, a
// chunk of the level at a time (escapesAt parses them while the chunk is
// in cache).
func (s *Scanner) escapesScan(l *level, depth int, k escKind) {
	b := l.data
	intro := escIntro[k]
	next := 0
	for c := 0; c < len(b); c += 64 * offsetsChunk {
		end := min(len(b), c+64*offsetsChunk)
		at := s.marks[depth].at[:0]
		for i := c; i < end; i++ {
			x := bytes.IndexByte(b[i:end], intro)
			if x < 0 {
				break
			}
			i += x
			if introducer(b, i, k) {
				at = append(at, i)
			}
		}
		s.marks[depth].at = at
		if !s.escapesAt(l, depth, k, at, &next) {
			return
		}
	}
}

// byteListsScan is byteLists with the runs of list characters found by
// probing one byte in minListRun (any run long enough holds a probe), and
// the anchors in them by literal searches.
func (s *Scanner) byteListsScan(l *level, depth int) {
	b := l.data
	for i := minListRun - 1; i < len(b); {
		if !listChar[b[i]] {
			i += minListRun
			continue
		}
		a, e := i, i+1
		for a > 0 && listChar[b[a-1]] {
			a--
		}
		for e < len(b) && listChar[b[e]] {
			e++
		}
		if e-a >= minListRun && !s.listRunScan(l, depth, a, e) {
			return
		}
		i = max(i+minListRun, e+minListRun-1)
	}
}

var listAnchors = [...][]byte{[]byte("6d"), []byte("6D"), []byte("109")}

// listRunScan tries every anchor in the run b[a:e]; false when the budget
// ran out.
func (s *Scanner) listRunScan(l *level, depth, a, e int) bool {
	b := l.data[:e]
	for _, anc := range listAnchors {
		for off := a; off < e; {
			x := bytes.Index(b[off:], anc)
			if x < 0 {
				break
			}
			p := off + x
			off = p + 1
			if !s.listAnchor(l, depth, a, e, p) {
				return false
			}
		}
	}
	return true
}

// base64RunsScan is base64Runs with the segments found by probes: any run
// long enough to hold a key covers MinBase64Run consecutive bytes, so
// looking at one byte in MinBase64Run finds them all; a segment shorter
// than MinBase64Run matters only where it may join a wrapped block.
func (s *Scanner) base64RunsScan(l *level, depth int) {
	b := l.data
	for i := MinBase64Run - 1; i < len(b); {
		if !isB64(b[i]) {
			if !isSpace(b[i]) {
				i += MinBase64Run
				continue
			}
			j := spaceAfter(b, i, maxIndent+3)
			if j == len(b) || !isB64(b[j]) {
				i = j + MinBase64Run
				continue
			}
			i = j
		}
		// Most probes land in a word: measure its segment first, and go
		// on unless it is long enough, or may join a wrapped block.
		a, e := segStartBytes(b, i), segEndBytes(b, i+1)
		next := e
		if e-a >= minSeg || s.mayWrap(l, nil, a, e) {
			var ok bool
			if next, ok = s.segment(l, depth, a, e); !ok {
				return
			}
		}
		i = max(i+MinBase64Run, next+MinBase64Run-1)
	}
}
