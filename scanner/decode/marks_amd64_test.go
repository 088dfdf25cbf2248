package decode

import (
	"testing"

	"golang.org/x/sys/cpu"
)

// TestMarksSSE2 runs TestMarks on the SSE2 code where AVX2 would be used.
func TestMarksSSE2(t *testing.T) {
	if !cpu.X86.HasAVX2 {
		t.Skip("TestMarks covers SSE2 here")
	}
	cpu.X86.HasAVX2 = false
	defer func() { cpu.X86.HasAVX2 = true }()
	testMarks(t)
}
