package decode

import (
	"math/rand/v2"
	"testing"
)

// TestMarks checks the marks against their definitions, byte by byte, at
// every length around the block size, with the bytes the marks test (and
// every other byte value) at every offset of a block, and so across the
// edges of the vectorised blocks and the bytes marked without them.
func TestMarks(t *testing.T) {
	testMarks(t)
	if hasVector {
		t.Run("without vectors", func(t *testing.T) {
			defer func(v bool) { hasVector = v }(hasVector)
			hasVector = false
			testMarks(t)
		})
	}
}

func testMarks(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	alpha := make([]byte, 0, 512)
	for i := range 256 {
		alpha = append(alpha, byte(i))
	}
	for range 8 {
		alpha = append(alpha, "atmx%\\&#u/0aAfF9Z_+-=.,"...)
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
				copy(b[at:], []string{"atmx", "\\natmx", "%5F", "&#9", "\\u0", "&lt", "\\x"}[rng.IntN(7)])
			}
		}
		m.mark(b)
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
		m.mark(b)
		for i := range len(b) + 1 {
			ws := i
			for ws > 0 && isB64(b[ws-1]) {
				ws--
			}
			we := i
			for we < len(b) && isB64(b[we]) {
				we++
			}
			if s, e := segStart(m.b64, i), segEnd(m.b64, len(b), i); s != ws || e != we {
				t.Fatalf("trial %d, %d bytes, at %d: segment [%d, %d), want [%d, %d)", trial, len(b), i, s, e, ws, we)
			}
		}
	}
}

// TestLongSeg checks that longSeg, which looks only at the marks' full
// bytes, finds every base64 segment of at least minSeg characters, in
// order, and nothing else.
func TestLongSeg(t *testing.T) {
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
		m.mark(b)
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
		for next := 0; ; {
			a, e, ok := longSeg(b, m.b64, next)
			if !ok {
				break
			}
			got = append(got, [2]int{a, e})
			next = e
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
