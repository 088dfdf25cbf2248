package decode

import "golang.org/x/sys/cpu"

// markBlocks marks the full 64-byte blocks of b (marks.go), with AVX2
// where the processor has it.
func markBlocks(b []byte, x, pct, bsl, amp, b64 []uint64) {
	if cpu.X86.HasAVX2 {
		markBlocksAVX2(b, x, pct, bsl, amp, b64)
		return
	}
	markBlocksSSE2(b, x, pct, bsl, amp, b64)
}

//go:noescape
func markBlocksSSE2(b []byte, x, pct, bsl, amp, b64 []uint64)

//go:noescape
func markBlocksAVX2(b []byte, x, pct, bsl, amp, b64 []uint64)
