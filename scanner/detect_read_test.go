package scanner

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/atomyx/atomyx-guard/internal/finding"
	"github.com/atomyx/atomyx-guard/internal/testkit"
	"github.com/atomyx/atomyx-guard/patterns"
)

type hitList struct{ hits []finding.Hit }

func (h *hitList) Hit(x finding.Hit)         { h.hits = append(h.hits, x) }
func (h *hitList) NearMiss(finding.NearMiss) {}

// A reader that fails mid-stream (a truncated gzip member says
// io.ErrUnexpectedEOF) still has the keys before the cut reported, and the
// failure is returned, not taken for a clean end.
func TestScanReaderTruncatedStream(t *testing.T) {
	k := testkit.NewKey(t, patterns.Production)
	for _, cut := range []error{io.ErrUnexpectedEOF, errors.New("disk on fire")} {
		r := io.MultiReader(strings.NewReader("x="+k+"\n"), errReader{cut})
		var hl hitList
		_, err := (&Detector{Window: 4096}).ScanReader(context.Background(), r, finding.Location{}, &hl)
		if !errors.Is(err, cut) {
			t.Errorf("err = %v, want %v", err, cut)
		}
		if len(hl.hits) != 1 {
			t.Errorf("%v: %d hits before the cut, want 1", cut, len(hl.hits))
		}
	}
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

// Many keys on one long line: columns are right and an allow marker far
// from a key on the same line does not allow it.
func TestLongLineColumnsAndAllowReach(t *testing.T) {
	var b strings.Builder
	var keys []string
	var cols []int
	b.WriteString("// atomyx-guard:allow is only meant for the first key;")
	for i := range 50 {
		k := testkit.NewKey(t, patterns.Production)
		keys = append(keys, k)
		b.WriteString(strings.Repeat("x", 1000+i) + " ")
		cols = append(cols, b.Len()+1)
		b.WriteString(k + ";")
	}
	var hl hitList
	(&Detector{}).ScanBytes([]byte(b.String()), finding.Location{}, &hl)
	if len(hl.hits) != len(keys) {
		t.Fatalf("%d hits, want %d", len(hl.hits), len(keys))
	}
	for i, h := range hl.hits {
		if h.Location.Line != 1 || h.Location.Column != cols[i] {
			t.Errorf("hit %d at %d:%d, want 1:%d", i, h.Location.Line, h.Location.Column, cols[i])
		}
		if h.Location.Allowed != "" {
			t.Errorf("hit %d allowed by a marker %d bytes away", i, cols[i])
		}
	}
	hl = hitList{}
	(&Detector{}).ScanBytes([]byte("k = "+keys[0]+" # atomyx-guard:allow fixture\nk = "+keys[1]+"\n"), finding.Location{}, &hl)
	if len(hl.hits) != 2 || hl.hits[0].Location.Allowed == "" || hl.hits[1].Location.Allowed != "" {
		t.Errorf("the marker must allow only its own line: %+v", hl.hits)
	}
}

// UTF-16 text next to runs of NULs (a sparse binary with a wide string in
// it) is still found, in both byte orders and at both parities.
func TestUTF16BesideNULRuns(t *testing.T) {
	k := testkit.NewKey(t, patterns.Production)
	for _, be := range []bool{false, true} {
		for pad := 1; pad <= 17; pad += 3 {
			var b []byte
			b = append(b, make([]byte, pad)...)
			for i := 0; i < len(k); i++ {
				if be {
					b = append(b, 0, k[i])
				} else {
					b = append(b, k[i], 0)
				}
			}
			b = append(b, make([]byte, pad+64)...)
			var hl hitList
			(&Detector{}).ScanBytes(b, finding.Location{}, &hl)
			if len(hl.hits) != 1 {
				t.Errorf("big-endian %v, %d NULs before: %d hits, want 1", be, pad, len(hl.hits))
			}
		}
	}
}

// Windows of NUL bytes are passed over (a sparse disk image is mostly
// that), and a key beside them, plain or in UTF-16 (whose NULs join the
// run before it), is still found on its line, at any window size.
func TestScanReaderNULWindows(t *testing.T) {
	plain, wide := testkit.NewKey(t, patterns.Production), testkit.NewKey(t, patterns.Staging)
	var b []byte
	b = append(b, make([]byte, 10000)...)
	for i := 0; i < len(wide); i++ {
		b = append(b, wide[i], 0)
	}
	b = append(b, make([]byte, 10000)...)
	b = append(b, "\nk="+plain+"\n"...)
	b = append(b, make([]byte, 9000)...)
	for _, win := range []int{97, 4096, 1 << 20} {
		var hl hitList
		if _, err := (&Detector{Window: win}).ScanReader(context.Background(), &chunkReader{data: b, n: 3000}, finding.Location{}, &hl); err != nil {
			t.Fatal(err)
		}
		lines := map[string]int{}
		for _, h := range hl.hits {
			lines[h.Fingerprint] = h.Location.Line
		}
		if lines[patterns.Fingerprint([]byte(wide))] != 1 || lines[patterns.Fingerprint([]byte(plain))] != 2 || len(hl.hits) != 2 {
			t.Errorf("window %d: hits %+v, want the UTF-16 key on line 1 and the plain one on line 2", win, hl.hits)
		}
	}
}

func TestAllZero(t *testing.T) {
	long := make([]byte, 3*len(zeros)+5)
	tests := []struct {
		b    []byte
		want bool
	}{
		{nil, false},
		{[]byte{0}, true},
		{[]byte{'a'}, false},
		{long, true},
		{append(append([]byte{}, long...), 'x'), false},
		{append(append([]byte{}, long[:len(zeros)]...), append([]byte{1}, long...)...), false},
	}
	for i, tt := range tests {
		if got := allZero(tt.b); got != tt.want {
			t.Errorf("%d: allZero(%d bytes) = %v, want %v", i, len(tt.b), got, tt.want)
		}
	}
}

// FuzzScanReaderMatchesScanBytes: streaming in small windows, with reads
// of any size, finds exactly what scanning the whole buffer finds.
func FuzzScanReaderMatchesScanBytes(f *testing.F) {
	k, _ := patterns.Generate(patterns.Staging)
	f.Add([]byte("x="+k+"\n"), uint16(300), uint8(7))
	f.Add([]byte(strings.Repeat("ab", 400)+k), uint16(64), uint8(1))
	f.Add([]byte(strings.Repeat("\x00", 700)+k+strings.Repeat("\x00", 300)+"\n"+k), uint16(128), uint8(50))
	f.Fuzz(func(t *testing.T, data []byte, window uint16, chunk uint8) {
		if len(data) > 1<<16 {
			return
		}
		var whole hitList
		(&Detector{}).ScanBytes(data, finding.Location{}, &whole)
		var streamed hitList
		r := &chunkReader{data: data, n: int(chunk)%64 + 1}
		if _, err := (&Detector{Window: int(window)%4096 + 1}).ScanReader(context.Background(), r, finding.Location{}, &streamed); err != nil {
			t.Fatal(err)
		}
		if len(whole.hits) != len(streamed.hits) {
			t.Fatalf("ScanBytes found %d, ScanReader %d", len(whole.hits), len(streamed.hits))
		}
		for i := range whole.hits {
			a, b := whole.hits[i], streamed.hits[i]
			if a.Fingerprint != b.Fingerprint || a.Location.Line != b.Location.Line {
				t.Fatalf("hit %d differs: %+v vs %+v", i, a.Location, b.Location)
			}
		}
	})
}

// chunkReader returns at most n bytes a read.
type chunkReader struct {
	data []byte
	n    int
}

func (c *chunkReader) Read(p []byte) (int, error) {
	if len(c.data) == 0 {
		return 0, io.EOF
	}
	m := copy(p[:min(len(p), c.n)], c.data)
	c.data = c.data[m:]
	return m, nil
}
