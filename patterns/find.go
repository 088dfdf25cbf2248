package patterns

import "bytes"

// Candidate is a key-shaped run in a buffer: the prefix, a known
// environment, a 38-character base62 tail, and clean boundaries on both
// sides. Valid says whether its checksum holds; only valid candidates are
// keys. Start and End index the caller's buffer; the candidate holds no copy.
type Candidate struct {
	Start, End int
	Valid      bool
}

// Find calls fn for every candidate in buf, in order. It is the hot path: a
// literal search for the prefix (bytes.Index, vectorised), then fixed-offset
// checks; no regular expressions, no allocation.
//
// before is the byte that precedes buf in its stream (0 when there is none),
// so that a caller scanning a stream in windows applies the left boundary
// rule across a window edge. A candidate whose end reaches len(buf) is
// reported only when buf ends there for real: callers that stream must
// overlap windows by at least KeyLen bytes and pass atEOF accordingly.
func Find(buf []byte, before byte, atEOF bool, fn func(Candidate)) {
	pos := 0
	for {
		i := bytes.Index(buf[pos:], prefixBytes)
		if i < 0 {
			return
		}
		start := pos + i
		pos = start + 1
		// Left boundary: not base62 and not '_'.
		var prev byte = before
		if start > 0 {
			prev = buf[start-1]
		}
		if prev == '_' || digit[prev] != 0xff {
			continue
		}
		end := start + KeyLen
		if end > len(buf) {
			// Truncated at EOF, or for a streaming caller not decidable in
			// this window: its overlap presents it again in the next one.
			continue
		}
		k := buf[start:end]
		if !shapeOK(k) {
			continue
		}
		// Right boundary: the next byte, if any, must not be base62.
		if end < len(buf) {
			if digit[buf[end]] != 0xff {
				continue
			}
		} else if !atEOF {
			continue
		}
		fn(Candidate{Start: start, End: end, Valid: checksumOK(k)})
		pos = end
	}
}

var prefixBytes = []byte(Prefix)
