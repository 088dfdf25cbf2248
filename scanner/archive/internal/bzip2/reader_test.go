package bzip2

import (
	"bytes"
	stdbzip2 "compress/bzip2"
	"encoding/base64"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// readStd decodes with compress/bzip2, the reference, up to limit bytes.
func readStd(data []byte, limit int64) ([]byte, error) {
	return io.ReadAll(io.LimitReader(stdbzip2.NewReader(bytes.NewReader(data)), limit))
}

// readPar decodes with a Reader of the given workers, up to limit bytes,
// in reads of odd sizes.
func readPar(data []byte, workers int, limit int64) ([]byte, error) {
	r := NewReader(bytes.NewReader(data), int64(len(data)), workers)
	defer r.Close()
	var out []byte
	buf := make([]byte, 77777)
	for int64(len(out)) < limit {
		n, err := r.Read(buf[:min(int64(len(buf)), limit-int64(len(out)))])
		out = append(out, buf[:n]...)
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
	}
	return out, nil
}

// compare checks the Reader against compress/bzip2 on data: the same
// output when it succeeds; when it fails, an error too, after a prefix of
// its output and of clean (the uncorrupted content, if known).
func compare(t *testing.T, data, clean []byte, workers int, limit int64) {
	t.Helper()
	want, wantErr := readStd(data, limit)
	got, err := readPar(data, workers, limit)
	if wantErr == nil {
		if err != nil {
			t.Fatalf("compress/bzip2 decodes %d bytes, Reader fails after %d: %v", len(want), len(got), err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("output differs from compress/bzip2 (%d vs %d bytes)", len(got), len(want))
		}
		return
	}
	if err == nil {
		t.Fatalf("compress/bzip2 fails (%v) after %d bytes, Reader decodes %d", wantErr, len(want), len(got))
	}
	if !bytes.HasPrefix(want, got) {
		t.Fatalf("before its error (%v), Reader output %d bytes that compress/bzip2 does not", err, len(got))
	}
	if clean != nil && !bytes.HasPrefix(clean, got) {
		t.Fatalf("before its error (%v), Reader output %d bytes, not all of them clean", err, len(got))
	}
}

// compress runs the bzip2 command.
func compress(t testing.TB, level int, data []byte) []byte {
	t.Helper()
	if _, err := exec.LookPath("bzip2"); err != nil {
		t.Skip("no bzip2 command to make fixtures")
	}
	cmd := exec.Command("bzip2", fmt.Sprintf("-%d", level), "-c")
	cmd.Stdin = bytes.NewReader(data)
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// text is n bytes of compressible, varied lines, with runs for RLE1.
func text(n int, seed uint64) []byte {
	rng := rand.New(rand.NewPCG(seed, 1))
	var b bytes.Buffer
	for b.Len() < n {
		switch rng.IntN(10) {
		case 0:
			b.WriteString(strings.Repeat("x", rng.IntN(600)))
		case 1:
			for range 40 {
				b.WriteByte(byte(rng.Uint32()))
			}
		default:
			fmt.Fprintf(&b, "line %d: key=%x value=%d\n", rng.IntN(1000), rng.Uint64(), rng.IntN(1e6))
		}
	}
	return b.Bytes()[:n]
}

// goroot is where the Go distribution's test files are.
func goroot(t testing.TB) string {
	out, err := exec.Command("go", "env", "GOROOT").Output()
	if err != nil {
		t.Skipf("go env GOROOT: %v", err)
	}
	return strings.TrimSpace(string(out))
}

func goTestdata(t *testing.T, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(goroot(t), "src", name))
	if err != nil {
		t.Skipf("no %s: %v", name, err)
	}
	if strings.HasSuffix(name, ".base64") {
		data, err = base64.StdEncoding.DecodeString(string(data))
		if err != nil {
			t.Fatal(err)
		}
	}
	return data
}

func TestReaderMatchesCompressBzip2(t *testing.T) {
	multi := text(350_000, 1)
	oneBlock := text(50_000, 2)
	two := append(compress(t, 1, multi), compress(t, 9, oneBlock)...)
	tests := []struct {
		name        string
		data, clean []byte
	}{
		{"empty input", nil, nil},
		{"empty stream", compress(t, 9, nil), nil},
		{"one block", compress(t, 9, oneBlock), oneBlock},
		{"four blocks of 100k", compress(t, 1, multi), multi},
		{"two streams, levels 1 and 9", two, append(append([]byte(nil), multi...), oneBlock...)},
		{"three streams, level 9 then 1", append(compress(t, 9, oneBlock), two...), nil},
		{"RLE1 runs", compress(t, 1, bytes.Repeat([]byte("ab\x00\x00\x00\x00\x00\x00\x00\x00"), 300_000)), nil},
		{"blocks expanding past maxHeld", compress(t, 1, bytes.Repeat([]byte{0}, 12<<20)), nil},
		{"trailing garbage", append(compress(t, 1, multi), "garbage"...), nil},
		{"trailing garbage with a block magic", append(compress(t, 1, multi), "BZh1\x31\x41\x59\x26\x53\x59garbage"...), nil},
		{"trailing B", append(compress(t, 1, multi), 'B'), nil},
	}
	for _, f := range []string{"Isaac.Newton-Opticks.txt.bz2", "e.txt.bz2", "pass-random1.bz2", "pass-random2.bz2",
		"pass-sawtooth.bz2", "random.data.bz2", "fail-issue5747.bz2.base64"} {
		tests = append(tests, struct {
			name        string
			data, clean []byte
		}{f, goTestdata(t, "compress/bzip2/testdata/"+f), nil})
	}
	for _, tt := range tests {
		for _, workers := range []int{1, 2, 4} {
			t.Run(fmt.Sprintf("%s/%d workers", tt.name, workers), func(t *testing.T) {
				compare(t, tt.data, tt.clean, workers, 1<<30)
			})
		}
	}
}

// TestReaderCorrupt truncates and flips bits of a multi-stream file: the
// Reader fails or agrees, and never outputs a byte that was not there.
func TestReaderCorrupt(t *testing.T) {
	multi := text(450_000, 3)
	data := append(compress(t, 1, multi[:350_000]), compress(t, 2, multi[350_000:])...)
	rng := rand.New(rand.NewPCG(4, 4))
	for range 40 {
		n := rng.IntN(len(data))
		t.Run(fmt.Sprintf("truncated at %d", n), func(t *testing.T) {
			compare(t, data[:n], multi, 3, 1<<30)
		})
	}
	// Blocks past maxHeld stream their output before their checksum is
	// checked, as compress/bzip2 does: their bytes may be wrong.
	zeros := compress(t, 1, bytes.Repeat([]byte{0}, 12<<20))
	for range 10 {
		bit := rng.IntN(len(zeros) * 8)
		t.Run(fmt.Sprintf("bit %d flipped, streamed block", bit), func(t *testing.T) {
			bad := bytes.Clone(zeros)
			bad[bit/8] ^= 1 << (bit % 8)
			compare(t, bad, nil, 2, 1<<30)
		})
	}
	for range 150 {
		bit := rng.IntN(len(data) * 8)
		t.Run(fmt.Sprintf("bit %d flipped", bit), func(t *testing.T) {
			bad := bytes.Clone(data)
			bad[bit/8] ^= 1 << (bit % 8)
			compare(t, bad, multi, 3, 1<<30)
		})
	}
}

// TestMagicScanner plants block magics at every bit shift.
func TestMagicScanner(t *testing.T) {
	var plain, want []int64
	var data []byte
	for sh := range 8 {
		for i := range 3000 {
			data = fmt.Appendf(data, "%d,", i*sh)
		}
		m := make([]byte, 7)
		v := uint64(blockMagic) << (8 + sh)
		for i := range m {
			m[i] = byte(v >> (56 - 8*i))
		}
		want = append(want, int64(len(data))*8+int64(8-sh))
		data = append(data, m...)
	}
	s := magicScanner{ra: bytes.NewReader(data), size: int64(len(data))}
	for {
		c, ok, err := s.find()
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			break
		}
		plain = append(plain, c)
	}
	if fmt.Sprint(plain) != fmt.Sprint(want) {
		t.Fatalf("found magics at bits %v, want %v", plain, want)
	}
}

// TestReaderChanceMagic makes the Reader start jobs at magics that are not
// block starts (as chance matches inside block data would be): their work
// is discarded and the output is unchanged.
func TestReaderChanceMagic(t *testing.T) {
	plain := text(700_000, 7)
	data := compress(t, 1, plain)
	for _, offsets := range [][]int64{{-3000}, {-8, 5}, {1}, {-40000, -20000, -1, 1, 9}} {
		t.Run(fmt.Sprint(offsets), func(t *testing.T) {
			r := NewReader(bytes.NewReader(data), int64(len(data)), 4)
			defer r.Close()
			var queue []int64
			last := int64(-1)
			find := r.find
			r.find = func() (int64, bool, error) {
				for len(queue) == 0 {
					c, ok, err := find()
					if !ok || err != nil {
						return c, ok, err
					}
					for _, o := range offsets {
						if c+o > last && c+o > 32 {
							queue = append(queue, c+o)
						}
					}
					queue = append(queue, c)
					slices.Sort(queue)
				}
				c := queue[0]
				queue = queue[1:]
				last = c
				return c, true, nil
			}
			got, err := io.ReadAll(r)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, plain) {
				t.Fatalf("output differs (%d bytes, want %d)", len(got), len(plain))
			}
		})
	}
}

func FuzzReader(f *testing.F) {
	f.Add(compress(f, 9, []byte("hello, world\n")))
	f.Add(compress(f, 1, text(250_000, 5)))
	f.Add(append(compress(f, 1, text(1000, 6)), compress(f, 2, nil)...))
	f.Fuzz(func(t *testing.T, data []byte) {
		compare(t, data, nil, 2, 16<<20)
	})
}

func benchmarkRE2(b *testing.B, read func(data []byte) (int64, error)) {
	data, err := os.ReadFile(filepath.Join(goroot(b), "src/regexp/testdata/re2-exhaustive.txt.bz2"))
	if err != nil {
		b.Skip(err)
	}
	n, err := read(data)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(n)
	b.ResetTimer()
	for b.Loop() {
		if _, err := read(data); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRE2 decodes the 64 MB corpus of Go's regexp tests: compare
// MB/s (wall) and the process's CPU time (/usr/bin/time, or -cpuprofile).
func BenchmarkRE2(b *testing.B) {
	b.Run("compress-bzip2", func(b *testing.B) {
		benchmarkRE2(b, func(data []byte) (int64, error) {
			return io.Copy(io.Discard, stdbzip2.NewReader(bytes.NewReader(data)))
		})
	})
	for _, w := range []int{1, 2, 3} {
		b.Run(fmt.Sprintf("parallel-%d", w), func(b *testing.B) {
			benchmarkRE2(b, func(data []byte) (int64, error) {
				r := NewReader(bytes.NewReader(data), int64(len(data)), w)
				defer r.Close()
				return io.Copy(io.Discard, r)
			})
		})
	}
}

// TestUpdateCRC checks the slicing-by-8 CRC against the bytewise one.
func TestUpdateCRC(t *testing.T) {
	bytewise := func(val uint32, b []byte) uint32 {
		crc := ^val
		for _, v := range b {
			crc = crctab[0][byte(crc>>24)^v] ^ (crc << 8)
		}
		return ^crc
	}
	data := text(1000, 8)
	for n := range 40 {
		for _, split := range []int{0, 3, 17} {
			split = min(split, n)
			want := bytewise(bytewise(0, data[:split]), data[split:n])
			if got := updateCRC(updateCRC(0, data[:split]), data[split:n]); got != want {
				t.Fatalf("CRC of %d bytes split at %d: %08x, want %08x", n, split, got, want)
			}
		}
	}
}
