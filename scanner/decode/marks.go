package decode

// marks locates, in one pass over a level, the bytes that its searches
// start from: the 'x' of the key prefix (patterns.FindFragmentsMarked)
// and the introducers of the three escape kinds. One vectorised pass that
// sets a bit per byte found costs about what one bytes.IndexByte pass
// costs over text without those bytes, and, where they are dense (minified
// JS has a '\\' or '&' every few dozen bytes, base64 an 'x' every 64), it
// saves a call per byte found: walking the set bits of a word is a few
// instructions each.
type marks struct {
	x   []uint64
	esc [3][]uint64 // by escKind
	b64 []uint64    // base64 characters (isB64)
}

// mark fills m for b: bit j of word k stands for b[64k+j].
func (m *marks) mark(b []byte) {
	n := (len(b) + 63) / 64
	m.x = resize(m.x, n)
	for k := range m.esc {
		m.esc[k] = resize(m.esc[k], n)
	}
	m.b64 = resize(m.b64, n)
	full := len(b) / 64
	markBlocks(b[:64*full], m.x, m.esc[escPercent], m.esc[escJS], m.esc[escHTML], m.b64)
	if full < n {
		markTail(b[64*full:], &m.x[full], &m.esc[escPercent][full], &m.esc[escJS][full], &m.esc[escHTML][full], &m.b64[full])
	}
}

// markTail sets the bits of up to 64 bytes, for the last, partial block.
func markTail(b []byte, x, pct, bsl, amp, b64 *uint64) {
	*x, *pct, *bsl, *amp, *b64 = 0, 0, 0, 0, 0
	for j, c := range b {
		if isB64(c) {
			*b64 |= 1 << j
		}
		switch c {
		case 'x':
			*x |= 1 << j
		case '%':
			*pct |= 1 << j
		case '\\':
			*bsl |= 1 << j
		case '&':
			*amp |= 1 << j
		}
	}
}

func resize(w []uint64, n int) []uint64 {
	if cap(w) < n {
		return make([]uint64, n, n+n/4)
	}
	return w[:n]
}
