package archive

import (
	"runtime"
	"testing"
)

// --workers bounds the cores one bzip2 file is decoded on, and so do the
// machine and maxBzip2Workers.
func TestBzip2Workers(t *testing.T) {
	procs := runtime.GOMAXPROCS(0)
	tests := []struct {
		workers, want int
	}{
		{0, min(procs, maxBzip2Workers)},
		{1, 1},
		{2, min(procs, 2)},
		{100, min(procs, maxBzip2Workers)},
	}
	for _, tt := range tests {
		if got := (&Expander{Workers: tt.workers}).bzip2Workers(); got != tt.want {
			t.Errorf("Workers %d: %d blocks at once, want %d", tt.workers, got, tt.want)
		}
	}
}
