package filesource

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/atomyx/atomyx-guard/scanner"
)

// openFDs counts the process's open file descriptors.
func openFDs(t *testing.T) int {
	t.Helper()
	es, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("no /proc/self/fd: %v", err)
	}
	return len(es)
}

// Files are opened relative to their directory, read through their
// descriptor (in sequence and at offsets), and a name that has become a
// symlink or a FIFO since the listing is refused.
func TestOpenIn(t *testing.T) {
	dir := t.TempDir()
	content := "0123456789" + strings.Repeat("x", 5000)
	if err := os.WriteFile(filepath.Join(dir, "f"), []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("f", filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o700); err != nil {
		t.Fatal(err)
	}
	s := &Source{}
	d, entries, err := openDir(dir)
	if err != nil || d == nil || len(entries) != 3 {
		t.Fatalf("openDir: %v, %v, %d entries", d, err, len(entries))
	}
	defer d.release()
	rc, err := s.openIn(d, "f")
	if err != nil {
		t.Fatal(err)
	}
	ra := rc.(scanner.RandomAccess)
	if ra.Size() != int64(len(content)) {
		t.Errorf("Size = %d, want %d", ra.Size(), len(content))
	}
	p := make([]byte, 4)
	if n, err := ra.ReadAt(p, 3); n != 4 || err != nil || string(p) != "3456" {
		t.Errorf("ReadAt(3) = %d, %v, %q", n, err, p)
	}
	if n, err := ra.ReadAt(make([]byte, 10), int64(len(content)-5)); n != 5 || err != io.EOF {
		t.Errorf("ReadAt past the end = %d, %v; want 5, EOF", n, err)
	}
	all, err := io.ReadAll(rc)
	if err != nil || string(all) != content {
		t.Errorf("ReadAll: %d bytes, %v", len(all), err)
	}
	if err := rc.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if err := rc.Close(); !errors.Is(err, os.ErrClosed) {
		t.Errorf("second Close: %v, want ErrClosed", err)
	}
	if _, err := rc.Read(p); !errors.Is(err, os.ErrClosed) {
		t.Errorf("Read after Close: %v, want ErrClosed", err)
	}
	for name, want := range map[string]string{"link": "symlink", "sub": "directory", "gone": "no such file"} {
		if rc, err := s.openIn(d, name); err == nil || !strings.Contains(err.Error(), want) {
			if rc != nil {
				rc.Close()
			}
			t.Errorf("openIn(%s) = %v, want an error saying %q", name, err, want)
		}
	}
}

// A directory stays open while files listed in it wait for the Engine,
// after the walk has moved on or ended, and is closed once the last is
// released, or not taken: no descriptor outlives the scan.
func TestDirHandlesReleased(t *testing.T) {
	dir := t.TempDir()
	for _, sub := range []string{"a", "a/b", "c"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o700); err != nil {
			t.Fatal(err)
		}
		for _, f := range []string{"1", "2"} {
			if err := os.WriteFile(filepath.Join(dir, sub, f), []byte(sub+"/"+f), 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	before := openFDs(t)
	var items []scanner.Item
	src := &Source{Roots: []string{dir}}
	if err := src.Items(context.Background(), func(it scanner.Item) error { items = append(items, it); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(items) != 6 {
		t.Fatalf("%d items, want 6", len(items))
	}
	if open := openFDs(t) - before; open != 3 {
		t.Errorf("%d descriptors open with the items waiting, want the 3 directories", open)
	}
	for _, it := range items {
		rc, err := it.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(rc)
		rc.Close()
		if string(b) != it.Loc.Path {
			t.Errorf("%s holds %q", it.Loc.Path, b)
		}
		it.Release()
		it.Release() // twice: once counts
	}
	if open := openFDs(t) - before; open != 0 {
		t.Errorf("%d descriptors left open", open)
	}
	stop := errors.New("stop")
	err := src.Items(context.Background(), func(scanner.Item) error { return stop })
	if !errors.Is(err, stop) {
		t.Fatalf("Items: %v", err)
	}
	if open := openFDs(t) - before; open != 0 {
		t.Errorf("%d descriptors left open after an item was refused", open)
	}
}

// A sparse file reads the same through its descriptor as os.ReadFile
// reads it, its holes as zeros, whatever the read size: the holes are
// given without reading them, the data between them read at its offset.
func TestOpenInSparse(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "disk.img")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []struct {
		at   int64
		data string
	}{{0, "head\n"}, {3 << 20, "middle\n"}, {7<<20 - 3, "across a 4 KiB page"}} {
		if _, err := f.WriteAt([]byte(w.data), w.at); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Truncate(12 << 20); err != nil { // a hole to the end
		t.Fatal(err)
	}
	f.Close()
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	d, _, err := openDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.release()
	for _, size := range []int{1000, 64 << 10, 5 << 20} {
		rc, err := (&Source{}).openIn(d, "disk.img")
		if err != nil {
			t.Fatal(err)
		}
		if !rc.(*fdFile).sparse {
			rc.Close()
			t.Skip("this file system keeps no holes")
		}
		// A buffer dirty from the read before, as the detector's is.
		var got []byte
		buf := make([]byte, size)
		for {
			for i := range buf {
				buf[i] = 0xAA
			}
			n, err := rc.Read(buf)
			got = append(got, buf[:n]...)
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		rc.Close()
		if len(got) != len(want) || string(got) != string(want) {
			t.Errorf("reads of %d: %d bytes, differ from the file's %d", size, len(got), len(want))
		}
	}
}
