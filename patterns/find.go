package patterns

import (
	"bytes"
	"math/bits"
)

// Candidate is a key-shaped run in a buffer: the prefix, a known
// environment and a 38-character base62 tail, wherever it stands. Valid
// says whether its checksum holds; only valid candidates are keys. Start
// and End index the caller's buffer; the candidate holds no copy.
type Candidate struct {
	Start, End int
	Valid      bool
}

// Find calls fn for every candidate in buf, in order of Start. It is the
// hot path: a literal search for the prefix (bytes.Index, vectorised), then
// fixed-offset checks; no regular expressions, no allocation.
//
// The bytes around a candidate decide nothing (key-format.md): a key glued
// to a length byte that happens to be a letter (a SQLite record, a
// protobuf field) or followed by more base62 characters is still checked,
// the 47 bytes from its prefix on. The checksum is what keeps this
// precise: a random run passes it about once in 5.7 × 10¹⁰. Candidates may
// overlap ("…atmx" + "_prd_…" ends one shape and starts another).
//
// before and atEOF no longer change the result: a candidate is decided by
// its own 47 bytes, so a streaming caller needs only windows that overlap
// by at least KeyLen bytes. They stay in the signature so that the
// streaming callers written against the earlier boundary rules need no
// change.
func Find(buf []byte, before byte, atEOF bool, fn func(Candidate)) {
	_, _ = before, atEOF
	FindFragments(buf, fn, nil)
}

// FindFragments is Find, and it also calls fragment, when not nil, with
// the start of every vendor prefix "atmx" that does not begin a candidate
// and has a key's length of bytes after it: the head of a key that may go
// on in another string literal ("atmx_prd_" + "…"). One search serves
// both, so the callers that join literals add no pass over the buffer.
func FindFragments(buf []byte, fn func(Candidate), fragment func(start int)) {
	pos := 0
	for {
		i := indexVendor(buf[pos:])
		if i < 0 || !vendorAt(buf, pos+i, fn, fragment) {
			return
		}
		pos += i + 1 // candidates may overlap: see Find
	}
}

// FindFragmentsMarked is FindFragments for a caller that has located the
// vendor prefixes of buf already (one vectorised pass that marks several
// things at once): bit j of ends[k] is set when the "atmx" ending at
// buf[64k+j] is there. Where 'x' is frequent (base64 has one every 64
// bytes) walking the marks costs less than a byte search per 'x'.
func FindFragmentsMarked(buf []byte, ends []uint64, fn func(Candidate), fragment func(start int)) {
	for k := 0; k < len(ends); k++ {
		// Marks are sparse: four words a test.
		for k+4 <= len(ends) && ends[k]|ends[k+1]|ends[k+2]|ends[k+3] == 0 {
			k += 4
		}
		if k == len(ends) {
			break
		}
		for w := ends[k]; w != 0; w &= w - 1 {
			if !vendorAt(buf, 64*k+bits.TrailingZeros64(w)-3, fn, fragment) {
				return
			}
		}
	}
}

// vendorAt reports the candidate, or the fragment, that starts with the
// vendor prefix at buf[start]; false when a key's length does not fit
// after it, nor after any later start.
func vendorAt(buf []byte, start int, fn func(Candidate), fragment func(start int)) bool {
	end := start + KeyLen
	if end > len(buf) {
		// Truncated, or for a streaming caller whole in the next
		// window; every later start ends later still.
		return false
	}
	k := buf[start:end]
	if shapeOK(k) {
		fn(Candidate{Start: start, End: end, Valid: checksumOK(k)})
	} else if fragment != nil {
		fragment(start)
	}
	return true
}

// indexVendor is bytes.Index(b, []byte("atmx")), the prefix without its
// '_' (a key split right after "atmx" still starts with it), found by its
// 'x': bytes.Index looks for the 'a' first, which is every twelfth byte of
// English text and code, and pays a call for each; 'x' is a few times
// rarer, so the vectorised byte search runs in long strides.
func indexVendor(b []byte) int {
	for off := 3; off < len(b); {
		j := bytes.IndexByte(b[off:], 'x')
		if j < 0 {
			return -1
		}
		i := off + j
		if b[i-3] == 'a' && b[i-2] == 't' && b[i-1] == 'm' {
			return i - 3
		}
		off = i + 1
	}
	return -1
}
