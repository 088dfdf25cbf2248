package decode

import (
	"encoding/hex"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/atomyx/atomyx-guard/internal/testkit"
	"github.com/atomyx/atomyx-guard/patterns"
)

// TestMarks checks the marks against their definitions, byte by byte, at
// every length around the block size, with the bytes the marks test (and
// every other byte value) at every offset of a block, and so across the
// edges of the vectorised blocks and the bytes marked without them.
func TestMarks(t *testing.T) {
	if hasVector {
		testMarks(t, (*marks).mark)
	}
	// Byte by byte (the vector code's edges).
	testMarks(t, markAll)
}

// markAll sets every mark of b byte by byte, with or without vectors.
func markAll(m *marks, b []byte) {
	n := (len(b) + 63) / 64
	m.x, m.b64, m.anc = resize(m.x, n), resize(m.b64, n), resize(m.anc, n)
	for k := range m.esc {
		m.esc[k] = resize(m.esc[k], n)
	}
	m.markRange(b, 0, len(b))
}

func testMarks(t *testing.T, mark func(*marks, []byte)) {
	rng := rand.New(rand.NewPCG(1, 2))
	alpha := make([]byte, 0, 512)
	for i := range 256 {
		alpha = append(alpha, byte(i))
	}
	for range 8 {
		alpha = append(alpha, "atmx%\\&#u/0aAfF9Z_+-=.,6dD1"...)
	}
	var m marks
	for n := range 700 {
		b := make([]byte, n)
		for i := range b {
			b[i] = alpha[rng.IntN(len(alpha))]
		}
		if n > 10 {
			for range 1 + n/40 { // prefixes and escapes before prefixes
				at := rng.IntN(n - 5)
				copy(b[at:], []string{"atmx", "\\natmx", "%5F", "&#9", "\\u0", "&lt", "\\x", "6d", "6D", "109"}[rng.IntN(10)])
			}
		}
		if n > 200 && n%3 == 0 { // blocks of NUL bytes, which the vector code skips
			at := rng.IntN(n - 150)
			clear(b[at : at+64+rng.IntN(80)])
		}
		mark(&m, b)
		for i := range b {
			check := func(name string, w []uint64, want bool) {
				t.Helper()
				if len(w) != (n+63)/64 {
					t.Fatalf("n=%d: %s has %d words", n, name, len(w))
				}
				if got := w[i/64]>>(i%64)&1 == 1; got != want {
					t.Fatalf("n=%d, byte %d (%q in %q): %s mark %v, want %v", n, i, b[i], b[max(0, i-3):min(n, i+3)], name, got, want)
				}
			}
			check("x", m.x, i >= 3 && string(b[i-3:i+1]) == "atmx")
			for k, c := range escIntro {
				check(escName[k], m.esc[k], b[i] == c && introducer(b, i, escKind(k)))
			}
			check("b64", m.b64, isB64(b[i]))
			check("anc", m.anc, listAnchor(b, i) != 0)
		}
	}
}

// TestSegBounds checks segStart and segEnd, which read the base64 marks a
// word at a time, against byte loops, around every byte of texts whose
// segments end inside, at and across the 64-byte words.
func TestSegBounds(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	var m marks
	for trial := range 400 {
		b := make([]byte, rng.IntN(400))
		for i := range b {
			b[i] = 'Q'
			if rng.IntN(2+trial%70) == 0 {
				b[i] = " \n=.\x00\xe9"[rng.IntN(6)]
			}
		}
		markAll(&m, b)
		for i := range len(b) + 1 {
			ws := i
			for ws > 0 && isB64(b[ws-1]) {
				ws--
			}
			we := i
			for we < len(b) && isB64(b[we]) {
				we++
			}
			for _, bm := range [][]uint64{m.b64, nil} {
				if s, e := segStart(b, bm, i), segEnd(b, bm, i); s != ws || e != we {
					t.Fatalf("trial %d, %d bytes, at %d, marks %v: segment [%d, %d), want [%d, %d)", trial, len(b), i, bm != nil, s, e, ws, we)
				}
			}
		}
	}
}

// TestLongStarts checks that appendLongStarts, which looks only at the marks,
// marks the start of every base64 segment of at least minSeg characters,
// and nothing else, and that segEnd from minSeg on finds its end.
func TestLongStarts(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	var m marks
	for trial := range 600 {
		b := make([]byte, rng.IntN(700))
		for i := range b {
			b[i] = 'Q'
			if rng.IntN(3+trial%40) == 0 {
				b[i] = " \n.="[rng.IntN(4)]
			}
		}
		markAll(&m, b)
		var want, got [][2]int
		for i := 0; i < len(b); {
			if !isB64(b[i]) {
				i++
				continue
			}
			e := i
			for e < len(b) && isB64(b[e]) {
				e++
			}
			if e-i >= minSeg {
				want = append(want, [2]int{i, e})
			}
			i = e
		}
		// In two chunks, split anywhere: a run across the split is seen
		// once, from its start.
		split := rng.IntN(len(m.b64) + 1)
		starts := appendLongStarts(appendLongStarts(nil, m.b64, 0, split), m.b64, split, len(m.b64))
		for _, a := range starts {
			got = append(got, [2]int{a, segEnd(b, m.b64, a+minSeg)})
		}
		if len(got) != len(want) {
			t.Fatalf("trial %d: segments %v, want %v", trial, got, want)
		}
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("trial %d: segments %v, want %v", trial, got, want)
			}
		}
	}
}

// TestEncodedKeyAtEveryOffset puts every encoding of TestEncodedKeyInJunk,
// nested ones included, at every offset of the 64-byte blocks the marks
// are made in, at the start and at the end of a buffer (where marks are
// set without the vector code) and in its middle, and wants the key found
// with its chain: a test that fails if a mark, a long segment or an escape
// is passed over at a block's edge.
func TestEncodedKeyAtEveryOffset(t *testing.T) {
	k := testkit.NewKey(t, patterns.Production)
	for _, vector := range []bool{true, false} {
		if vector && !hasVector {
			continue
		}
		defer func(v bool) { hasVector = v }(hasVector)
		hasVector = vector
		for _, e := range append(encodings(), listEncodings()...) {
			enc := e.enc(k)
			for lead := range 130 {
				prefix := strings.Repeat("word & 5% \\d ", 20)[:lead] + "\n"
				if len(prefix)%2 == 1 {
					prefix = "\n" + prefix // UTF-16 without a BOM: even offsets read as little-endian
				}
				for _, tail := range []string{"", "\n" + strings.Repeat("tail text ", 30)} {
					text := prefix + enc + tail
					found := false
					for _, g := range scanAll(text, Options{AtEOF: true}) {
						if g.valid && g.key == k {
							found = true
							if !slices.Contains(strings.Split(e.chain, "|"), g.chain) {
								t.Fatalf("vector %v, %s at %d: chain %q, want %q", vector, e.name, len(prefix), g.chain, e.chain)
							}
						}
					}
					if !found {
						t.Fatalf("vector %v, %s at %d, tail %d: key not found", vector, e.name, len(prefix), len(tail))
					}
				}
			}
		}
	}
}

// listEncodings are the byte lists and base32 of TestByteListsAndBase32,
// for TestEncodedKeyAtEveryOffset.
func listEncodings() []encoding {
	return []encoding{
		{"hex", func(k string) string { return hex.EncodeToString([]byte(k)) }, "hex", at0},
		{"hex upper with colons", func(k string) string { return strings.ToUpper(hexPairs(k, 1, ":")) }, "hex", at0},
		{"go byte slice", func(k string) string { return "[]byte{" + list(k, "0x%02x", ", ", 12, "\t") + "}" }, "byte-array", at0},
		{"js Uint8Array", func(k string) string { return "new Uint8Array([" + list(k, "%d", ", ", 0, "") + "])" }, "byte-array", at0},
		{"base32", b32, "base32", at0},
		{"base64 of hex", func(k string) string { return b64std(hex.EncodeToString([]byte(k))) }, "base64,hex", at0},
	}
}

// FuzzMarks: the vector code marks what markRange, byte by byte, marks.
func FuzzMarks(f *testing.F) {
	f.Add([]byte(strings.Repeat("atmx \\u0061 &amp; &#95; %5F 6d 109 QUJD+/_-", 8)))
	f.Add([]byte(strings.Repeat("\\", 200)))
	f.Fuzz(func(t *testing.T, b []byte) {
		if !hasVector {
			t.Skip("no vector code here")
		}
		var vec, ref marks
		vec.mark(b)
		ref.mark(b) // sizes the marks
		ref.markRange(b, 0, len(b))
		for k, pair := range [][2][]uint64{{vec.x, ref.x}, {vec.esc[0], ref.esc[0]}, {vec.esc[1], ref.esc[1]},
			{vec.esc[2], ref.esc[2]}, {vec.b64, ref.b64}, {vec.anc, ref.anc}} {
			if !slices.Equal(pair[0], pair[1]) {
				t.Fatalf("marks %d differ: vector %x, bytes %x", k, pair[0], pair[1])
			}
		}
	})
}
