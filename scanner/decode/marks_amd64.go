package decode

import "golang.org/x/sys/cpu"

// hasVector says whether markBlocksAVX2 can run here.
var hasVector = cpu.X86.HasAVX2

//go:noescape
func markBlocksAVX2(b []byte, from, n int, x, pct, bsl, amp, b64, anc []uint64)

func markVector(b []byte, from, n int, m *marks) {
	markBlocksAVX2(b, from, n, m.x, m.esc[escPercent], m.esc[escJS], m.esc[escHTML], m.b64, m.anc)
}

// prefetch asks for the cache line holding b[i], 0 <= i < len(b), so that
// a search walking marks made in an earlier pass over a large buffer finds
// the bytes it looks at in cache: without it, each marked byte looked at
// costs a memory access (the marks say where they are well ahead).
//
//go:noescape
func prefetch(b []byte, i int)
