package cli

import (
	"math"
	"runtime/debug"
	"testing"
)

// The hook's garbage-collection settings hold during its scan only.
func TestHookGCRestores(t *testing.T) {
	percent, limit := debug.SetGCPercent(123), debug.SetMemoryLimit(math.MaxInt64)
	defer func() { debug.SetGCPercent(percent); debug.SetMemoryLimit(limit) }()
	restore := hookGC()
	if p := debug.SetGCPercent(-1); p != 400 {
		t.Errorf("during the hook: GOGC %d, want 400", p)
	}
	debug.SetGCPercent(400)
	if l := debug.SetMemoryLimit(-1); l != 128<<20 {
		t.Errorf("during the hook: memory limit %d, want 128 MiB", l)
	}
	restore()
	if p := debug.SetGCPercent(-1); p != 123 {
		t.Errorf("after: GOGC %d, want 123", p)
	}
	if l := debug.SetMemoryLimit(-1); l != math.MaxInt64 {
		t.Errorf("after: memory limit %d, want none", l)
	}
}
