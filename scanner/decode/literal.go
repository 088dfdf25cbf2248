package decode

import (
	"bytes"

	"github.com/atomyx/atomyx-guard/patterns"
)

// KindSplitLiteral is a key written as string literals joined in source:
// "atmx_prd_" + "…" (JS/TS/Java/C#/Go), adjacent literals (Python, C,
// shell "a""b"), parenthesised or backslash continuations, ["…", "…"]
// joined, "…".concat("…"), and template literals whose parts are all
// literal (`atmx_${"prd"}_…`).
const KindSplitLiteral = "split-literal"

const (
	// maxLitGap bounds the source between two pieces of a split key
	// (quotes, operator, line break, indentation).
	maxLitGap = 64
	// maxLitPieces bounds the piece boundaries crossed for one key: one
	// per character, and a few empty pieces.
	maxLitPieces = patterns.KeyLen + 16
)

// The joiner runs only where patterns.FindFragments, in the search for
// the prefix that every scan makes anyway, finds "atmx" that does not
// start a whole key: the split comes after the vendor prefix
// ("atmx_prd_" + "…", "atmx" + "_prd_…"). A head split inside "atmx"
// itself ("atm" + "x_prd_…") is not looked for: finding it would cost a
// pass of its own over every buffer.

func isQuote(c byte) bool { return c == '"' || c == '\'' || c == '`' }

func isLitSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

// keyCharAt says whether c can be the character at offset k of a key.
func keyCharAt(k int, c byte) bool {
	switch {
	case k < len(patterns.Prefix):
		return c == patterns.Prefix[k]
	case k == 8:
		return c == '_'
	}
	return patterns.IsBase62(c)
}

// splitLiteral assembles the key that the string literals starting with
// the "atmx" at b[at] would make joined, and reports it when a piece
// boundary was crossed (a key whole in one literal is patterns.Find's).
func (s *Scanner) splitLiteral(l *level, depth, at int) {
	d, pos, gaps := joinLiterals(s.leafB[:0], s.pos[depth+1][:0], l.data, at, 0)
	s.leafB, s.pos[depth+1] = d, pos
	if gaps == 0 || len(d) < patterns.KeyLen || !s.spendLeaf(depth, at) {
		return
	}
	s.findLeaf(l, KindSplitLiteral, pos)
}

// joinLiterals assembles the key-shaped characters around b[t] across
// string-literal boundaries. b[t] is the key's character at offset back
// (the back characters before it, "atm"[3-back:], are looked for before
// it, across boundaries too). It appends to out at most KeyLen bytes, each
// a byte of b, and to pos their offsets, increasing; it returns the number
// of boundaries crossed. It stops at the first character that cannot
// continue the key, so its work is bounded by a key's characters and
// maxLitPieces gaps of maxLitGap bytes.
func joinLiterals(out []byte, pos []int32, b []byte, t, back int) ([]byte, []int32, int) {
	gaps := 0
	// The closing quote expected for the piece being read (0: unknown),
	// and whether it is a literal inside a template's ${…}.
	var cur byte
	inExpr := false

	// Backward: the head characters before t.
	var rb [3]byte
	var rp [3]int32
	j := t
	for n := 0; n < back; {
		if j == 0 {
			return out, pos, 0
		}
		c := b[j-1]
		if c == "atm"[back-1-n] {
			rb[n], rp[n] = c, int32(j-1)
			n++
			j--
			continue
		}
		if gaps == maxLitPieces {
			return out, pos, 0
		}
		k, opener, expr, ok := gapBack(b, j-1)
		if !ok {
			return out, pos, 0
		}
		if gaps == 0 { // the boundary of the trigger's piece: its opener
			cur, inExpr = opener, expr
		}
		gaps++
		j = k
	}
	for n := back - 1; n >= 0; n-- {
		out = append(out, rb[n])
		pos = append(pos, rp[n])
	}

	// Forward: from t to the key's end.
	j = t
	for len(out) < patterns.KeyLen && j < len(b) {
		c := b[j]
		if keyCharAt(len(out), c) {
			out = append(out, c)
			pos = append(pos, int32(j))
			j++
			continue
		}
		if gaps == maxLitPieces {
			break
		}
		if c == '$' && j+1 < len(b) && b[j+1] == '{' && !inExpr && (cur == 0 || cur == '`') {
			// A template's ${"…"}: the literal inside continues the text.
			k := skipLitSpace(b, j+2)
			if k >= len(b) || !isQuote(b[k]) {
				break
			}
			cur, inExpr = b[k], true
			j = k + 1
			gaps++
			continue
		}
		if !isQuote(c) || cur != 0 && c != cur {
			break
		}
		if inExpr {
			// The literal inside ${…} ends: back to the template's text.
			k := skipLitSpace(b, j+1)
			if k >= len(b) || b[k] != '}' {
				break
			}
			cur, inExpr = '`', false
			j = k + 1
			gaps++
			continue
		}
		k, ok := gapForward(b, j+1)
		if !ok {
			break
		}
		cur = b[k]
		j = k + 1
		gaps++
	}
	return out, pos, gaps
}

// skipLitSpace returns the first index at or after i that is not white
// space, looking at most maxLitGap bytes.
func skipLitSpace(b []byte, i int) int {
	for k := i; k < len(b) && k-i < maxLitGap; k++ {
		if !isLitSpace(b[k]) {
			return k
		}
	}
	return len(b)
}

var concat = []byte(".concat(")

// gapForward reads the source between a closing quote (just before i) and
// the next piece's opening quote, whose index it returns: white space, at
// most one joining operator ('+', the ',' of an array joined,
// ".concat("), a backslash before a line break, white space.
func gapForward(b []byte, i int) (int, bool) {
	end := min(len(b), i+maxLitGap)
	ws := func(k int) int {
		for k < end && isLitSpace(b[k]) {
			k++
		}
		return k
	}
	k := ws(i)
	switch {
	case k < end && (b[k] == '+' || b[k] == ','):
		k = ws(k + 1)
	case bytes.HasPrefix(b[k:end], concat):
		k = ws(k + len(concat))
	}
	if k+1 < end && b[k] == '\\' && (b[k+1] == '\n' || b[k+1] == '\r') {
		k = ws(k + 1)
	}
	if k < end && isQuote(b[k]) {
		return k, true
	}
	return 0, false
}

// gapBack is gapForward backwards, from the boundary character at q: the
// opening quote of a piece, or the '}' that ends a template's ${"…"}
// before template text. It returns the index just past the previous
// piece's last character, the opener of the piece at q (what closes it
// going forward) and whether that piece is inside a ${…}.
func gapBack(b []byte, q int) (k int, opener byte, inExpr, ok bool) {
	lo := max(0, q-maxLitGap)
	ws := func(i int) int { // skip white space before i
		for i > lo && isLitSpace(b[i-1]) {
			i--
		}
		return i
	}
	if b[q] == '}' {
		// Template text after ${"…"}: the inner literal closes before.
		i := ws(q)
		if i > lo && isQuote(b[i-1]) {
			return i - 1, '`', false, true
		}
		return 0, 0, false, false
	}
	if !isQuote(b[q]) {
		return 0, 0, false, false
	}
	opener = b[q]
	i := ws(q)
	if i-2 >= lo && b[i-2] == '$' && b[i-1] == '{' {
		return i - 2, opener, true, true // the template's text ends at "${"
	}
	if i < q && i > lo && b[i-1] == '\\' && isLitSpace(b[i]) && (b[i] == '\n' || b[i] == '\r') {
		i = ws(i - 1) // a backslash continuation
	}
	switch {
	case i > lo && (b[i-1] == '+' || b[i-1] == ','):
		i = ws(i - 1)
	case i-len(concat) >= lo && bytes.Equal(b[i-len(concat):i], concat):
		i = ws(i - len(concat))
	}
	if i > lo && isQuote(b[i-1]) {
		return i - 1, opener, false, true
	}
	return 0, 0, false, false
}
