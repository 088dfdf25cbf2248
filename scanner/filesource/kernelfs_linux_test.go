package filesource

import (
	"os"
	"path/filepath"
	"testing"
)

// TestKernelFSByMagic: the file-system check recognises proc by what it
// is, not by where it is mounted, and leaves ordinary files alone.
func TestKernelFSByMagic(t *testing.T) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	defer f.Close()
	if name, ok := kernelFSOf(f); !ok || name != "proc" {
		t.Errorf("kernelFSOf(/proc/self/status) = %q, %v; want proc", name, ok)
	}
	if _, ok := kernelFSAt("/proc/self"); !ok {
		t.Error("kernelFSAt(/proc/self) = false")
	}
	p := filepath.Join(t.TempDir(), "x")
	if err := os.WriteFile(p, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	g, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	if name, ok := kernelFSOf(g); ok {
		t.Errorf("an ordinary file is on a kernel file system %q", name)
	}
	// openRegular refuses proc's regular-looking files, the first time
	// and when the kernel is no longer asked (its answer cached by
	// device), before and after an ordinary file.
	s := &Source{}
	for _, name := range []string{"/proc/self/environ", p, "/proc/self/environ", "/proc/self/cmdline", p} {
		h, err := s.openRegular(name, nil)
		if err == nil {
			h.Close()
		}
		if want := name != p; (err != nil) != want {
			t.Errorf("openRegular(%s): %v; want refused: %v", name, err, want)
		}
	}
}
