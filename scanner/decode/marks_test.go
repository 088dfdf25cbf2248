package decode

import (
	"math/rand/v2"
	"testing"
)

// TestMarks checks the vectorised marking against a byte loop, at every
// length around the block size and with every marked byte at every
// offset of a block.
func TestMarks(t *testing.T) {
	testMarks(t)
}

func testMarks(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	alpha := make([]byte, 256)
	for i := range alpha {
		alpha[i] = byte(i)
	}
	alpha = append(alpha, "xxxx%%%%\\\\&&&&"...)
	var m marks
	for n := range 1200 {
		b := make([]byte, n)
		for i := range b {
			b[i] = alpha[rng.IntN(len(alpha))]
		}
		m.mark(b)
		want := [4]byte{'x', '%', '\\', '&'}
		got := [4][]uint64{m.x, m.esc[escPercent], m.esc[escJS], m.esc[escHTML]}
		for c := range want {
			if len(got[c]) != (n+63)/64 {
				t.Fatalf("n=%d: %d words", n, len(got[c]))
			}
			for i := range b {
				if bit := got[c][i/64]>>(i%64)&1 == 1; bit != (b[i] == want[c]) {
					t.Fatalf("n=%d: byte %d (%q): mark for %q is %v", n, i, b[i], want[c], bit)
				}
			}
		}
		for i := range b {
			if bit := m.b64[i/64]>>(i%64)&1 == 1; bit != isB64(b[i]) {
				t.Fatalf("n=%d: byte %d (%#x): base64 mark is %v", n, i, b[i], bit)
			}
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
