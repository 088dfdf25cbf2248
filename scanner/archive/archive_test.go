package archive_test

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/zstd"

	"github.com/atomyx/atomyx-guard/internal/finding"
	"github.com/atomyx/atomyx-guard/internal/testkit"
	"github.com/atomyx/atomyx-guard/patterns"
	"github.com/atomyx/atomyx-guard/scanner"
	"github.com/atomyx/atomyx-guard/scanner/archive"
)

// result is what one engine run over one item reported.
type result struct {
	mu    sync.Mutex
	hits  []finding.Hit
	skips []scanner.Skip
}

func (r *result) Hit(h finding.Hit)         { r.mu.Lock(); r.hits = append(r.hits, h); r.mu.Unlock() }
func (r *result) NearMiss(finding.NearMiss) {}

// paths maps each fingerprint found to the sorted paths it was found at.
func (r *result) paths() map[string][]string {
	m := map[string][]string{}
	for _, h := range r.hits {
		m[h.Fingerprint] = append(m[h.Fingerprint], h.Location.Path)
	}
	for _, v := range m {
		slices.Sort(v)
	}
	return m
}

func (r *result) skipped(substr string) bool {
	for _, s := range r.skips {
		if strings.Contains(s.Reason, substr) {
			return true
		}
	}
	return false
}

type items []scanner.Item

func (s items) Items(ctx context.Context, emit func(scanner.Item) error) error {
	for _, it := range s {
		if err := emit(it); err != nil {
			return err
		}
	}
	return nil
}

// scan runs an engine with the archive expander over one item named name,
// in memory when stream is false, as a stream otherwise.
func scan(t testing.TB, name string, data []byte, stream bool, lim scanner.Limits) *result {
	t.Helper()
	res := &result{}
	e := &scanner.Engine{
		Expanders: []scanner.Expander{&archive.Expander{MemLimit: 1 << 20, TempDir: t.TempDir()}},
		Limits:    lim,
		OnSkip:    func(s scanner.Skip) { res.skips = append(res.skips, s) },
	}
	it := scanner.Item{Loc: finding.Location{Source: finding.SourceFile, Path: name}, Data: data, Size: int64(len(data))}
	if stream {
		it.Data = nil
		it.Size = -1
		it.Open = func() (io.ReadCloser, error) { return io.NopCloser(onlyReader{bytes.NewReader(data)}), nil }
	}
	if _, err := e.Run(context.Background(), items{it}, res); err != nil {
		t.Fatalf("run: %v", err)
	}
	for _, s := range res.skips {
		t.Logf("skip: %s: %s", s.Where, s.Reason)
		if strings.Contains(s.Reason+s.Where, "atmx_") && !strings.Contains(s.Reason+s.Where, "…") {
			t.Errorf("skip carries key material: %+v", s)
		}
	}
	return res
}

// onlyReader hides every method but Read.
type onlyReader struct{ r io.Reader }

func (o onlyReader) Read(p []byte) (int, error) { return o.r.Read(p) }

func fp(k string) string { return patterns.Fingerprint([]byte(k)) }

// file is an archive member.
type file struct {
	name string
	data []byte
}

// logLines is n bytes of varied lines, that bzip2 compresses about 10:1.
func logLines(n int) []byte {
	var b []byte
	for i := 0; len(b) < n; i++ {
		b = fmt.Appendf(b, "%d request %x took %dms\n", i, i*2654435761, i%977)
	}
	return b
}

func text(k string) []byte { return []byte("const config = {\n  apiKey: \"" + k + "\",\n};\n") }

func makeZip(t testing.TB, files ...file) []byte {
	t.Helper()
	var b bytes.Buffer
	w := zip.NewWriter(&b)
	for _, f := range files {
		fw, err := w.Create(f.name)
		if err != nil {
			t.Fatal(err)
		}
		fw.Write(f.data)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func makeTar(t testing.TB, files ...file) []byte {
	t.Helper()
	var b bytes.Buffer
	w := tar.NewWriter(&b)
	for _, f := range files {
		if err := w.WriteHeader(&tar.Header{Name: f.name, Mode: 0o644, Size: int64(len(f.data)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		w.Write(f.data)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func gz(t testing.TB, data []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	w.Write(data)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func br(t testing.TB, data []byte) []byte {
	var b bytes.Buffer
	w := brotli.NewWriter(&b)
	w.Write(data)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func zst(t testing.TB, data []byte) []byte {
	enc, err := zstd.NewWriter(nil)
	if err != nil {
		t.Fatal(err)
	}
	return enc.EncodeAll(data, nil)
}

func bz2(t testing.TB, data []byte) []byte {
	t.Helper()
	if _, err := exec.LookPath("bzip2"); err != nil {
		t.Skip("no bzip2 command to make a fixture")
	}
	cmd := exec.Command("bzip2", "-c")
	cmd.Stdin = bytes.NewReader(data)
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestFormats(t *testing.T) {
	k := testkit.NewKey(t, patterns.Production)
	tests := []struct {
		name string
		make func(t testing.TB) []byte
		want string // the path the key is found at
	}{
		{"app.zip", func(t testing.TB) []byte { return makeZip(t, file{"src/config.js", text(k)}) }, "app.zip!src/config.js"},
		{"lib.jar", func(t testing.TB) []byte { return makeZip(t, file{"META-INF/app.properties", text(k)}) }, "lib.jar!META-INF/app.properties"},
		{"report.docx", func(t testing.TB) []byte { return makeZip(t, file{"word/document.xml", text(k)}) }, "report.docx!word/document.xml"},
		{"src.tar", func(t testing.TB) []byte { return makeTar(t, file{"a/b.env", text(k)}) }, "src.tar!a/b.env"},
		{"pkg.tgz", func(t testing.TB) []byte { return gz(t, makeTar(t, file{"package/index.js", text(k)})) }, "pkg.tgz!package/index.js"},
		{"notes.txt.gz", func(t testing.TB) []byte { return gz(t, text(k)) }, "notes.txt.gz!notes.txt"},
		{"bundle.js.br", func(t testing.TB) []byte { return br(t, text(k)) }, "bundle.js.br!bundle.js"},
		{"data.json.zst", func(t testing.TB) []byte { return zst(t, text(k)) }, "data.json.zst!data.json"},
		{"src.tar.zst", func(t testing.TB) []byte { return zst(t, makeTar(t, file{"x.py", text(k)})) }, "src.tar.zst!x.py"},
		{"dump.sql.bz2", func(t testing.TB) []byte { return bz2(t, text(k)) }, "dump.sql.bz2!dump.sql"},
		{"src.tar.bz2", func(t testing.TB) []byte { return bz2(t, makeTar(t, file{"x.py", text(k)})) }, "src.tar.bz2!x.py"},
		// Several 900k blocks, decoded in parallel from a file.
		{"big.log.bz2", func(t testing.TB) []byte { return bz2(t, append(logLines(3<<20), text(k)...)) }, "big.log.bz2!big.log"},
		{"noext", func(t testing.TB) []byte { return gz(t, makeTar(t, file{"x.py", text(k)})) }, "noext!x.py"},
		// A zip by name only: bytes before the local header (a
		// self-extracting archive).
		{"setup.zip", func(t testing.TB) []byte {
			return append([]byte("#!/bin/sh\nexit 0\n"), makeZip(t, file{"x.cfg", text(k)})...)
		}, "setup.zip!x.cfg"},
	}
	for _, tt := range tests {
		for _, stream := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/stream=%v", tt.name, stream), func(t *testing.T) {
				res := scan(t, tt.name, tt.make(t), stream, scanner.Limits{})
				got := res.paths()[fp(k)]
				if !slices.Contains(got, tt.want) {
					t.Errorf("key found at %q, want %q; skips %v", got, tt.want, res.skips)
				}
				if len(res.skips) > 0 {
					t.Errorf("unexpected skips: %v", res.skips)
				}
			})
		}
	}
}

func TestNesting(t *testing.T) {
	k1, k2, k3, k4 := testkit.NewKey(t, patterns.Production), testkit.NewKey(t, patterns.Production), testkit.NewKey(t, patterns.Production), testkit.NewKey(t, patterns.Production)
	// app.zip
	//   top.txt                                   k1, depth 1
	//   vendor/pkg.tgz
	//     package/lib.js                          k2, depth 2
	//     package/inner.zip
	//       deep/conf.json.gz
	//         conf.json                           k3, depth 4
	//       plain.txt                             k4, depth 3
	inner := makeZip(t, file{"deep/conf.json.gz", gz(t, text(k3))}, file{"plain.txt", text(k4)})
	tgz := gz(t, makeTar(t, file{"package/lib.js", text(k2)}, file{"package/inner.zip", inner}))
	outer := makeZip(t, file{"top.txt", text(k1)}, file{"vendor/pkg.tgz", tgz})
	want := map[string][]string{
		fp(k1): {"app.zip!top.txt"},
		fp(k2): {"app.zip!vendor/pkg.tgz!package/lib.js"},
		fp(k3): {"app.zip!vendor/pkg.tgz!package/inner.zip!deep/conf.json.gz!conf.json"},
		fp(k4): {"app.zip!vendor/pkg.tgz!package/inner.zip!plain.txt"},
	}
	for _, stream := range []bool{false, true} {
		res := scan(t, "app.zip", outer, stream, scanner.Limits{})
		if got := res.paths(); !mapsEqual(got, want) {
			t.Errorf("stream=%v: found %v, want %v", stream, got, want)
		}
		if len(res.skips) != 0 {
			t.Errorf("stream=%v: skips %v", stream, res.skips)
		}
	}
	// With depth 3, the gzip at depth 4 is not opened, and says so.
	res := scan(t, "app.zip", outer, false, scanner.Limits{MaxDepth: 3})
	got := res.paths()
	if _, ok := got[fp(k3)]; ok {
		t.Errorf("key beyond the depth limit found")
	}
	if _, ok := got[fp(k4)]; !ok {
		t.Errorf("key at depth 3 not found")
	}
	if !res.skipped("nesting limit") {
		t.Errorf("no nesting skip: %v", res.skips)
	}
}

func mapsEqual(a, b map[string][]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if !slices.Equal(v, b[k]) {
			return false
		}
	}
	return true
}

// A gzip of a gzip of ... : the depth limit ends it, reported.
func TestNestingBomb(t *testing.T) {
	k := testkit.NewKey(t, patterns.Production)
	data := text(k)
	for range 20 {
		data = gz(t, data)
	}
	res := scan(t, "x.gz", data, true, scanner.Limits{})
	if len(res.hits) != 0 {
		t.Errorf("key 20 levels deep found with depth limit 5")
	}
	if !res.skipped("nesting limit: 5 levels deep") {
		t.Errorf("skips %v", res.skips)
	}
}

// zeros is a reader of n zero bytes.
type zeros int64

func (z *zeros) Read(p []byte) (int, error) {
	if *z <= 0 {
		return 0, io.EOF
	}
	n := min(int64(len(p)), int64(*z))
	clear(p[:n])
	*z -= zeros(n)
	return int(n), nil
}

// bomb is a zip of one member: the key, then n zeros, then a second key.
func bomb(t testing.TB, before, after string, n int64) []byte {
	var b bytes.Buffer
	w := zip.NewWriter(&b)
	fw, _ := w.Create("zeros.bin")
	fw.Write([]byte(before + "\n"))
	z := zeros(n)
	io.Copy(fw, &z)
	fw.Write([]byte("\n" + after + "\n"))
	w.Close()
	return b.Bytes()
}

func TestBombs(t *testing.T) {
	before, after := testkit.NewKey(t, patterns.Production), testkit.NewKey(t, patterns.Production)
	zipBomb := bomb(t, before, after, 64<<20) // 64 MiB in about 64 KiB
	tests := []struct {
		name   string
		data   []byte
		lim    scanner.Limits
		reason string
	}{
		{"ratio", zipBomb, scanner.Limits{MaxRatio: 200}, "zip bomb: expansion ratio exceeds 200:1"},
		{"total", zipBomb, scanner.Limits{MaxRatio: -1, MaxTotalBytes: 8 << 20}, "expansion limit: more than 8.0 MiB"},
		{"ratio in tgz", gz(t, makeTar(t, file{"z.zip", zipBomb})), scanner.Limits{}, "zip bomb"},
	}
	for _, tt := range tests {
		for _, stream := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/stream=%v", tt.name, stream), func(t *testing.T) {
				res := scan(t, "bomb.zip", tt.data, stream, tt.lim)
				got := res.paths()
				if _, ok := got[fp(before)]; !ok {
					t.Errorf("key before the limit not reported")
				}
				if _, ok := got[fp(after)]; ok {
					t.Errorf("key after the limit reported: the limit did not hold")
				}
				if !res.skipped(tt.reason) {
					t.Errorf("skips %v, want %q", res.skips, tt.reason)
				}
			})
		}
	}
	// The same content, unlimited, shows both keys: the limits are what
	// stopped the scan above.
	res := scan(t, "bomb.zip", zipBomb, false, scanner.Limits{MaxRatio: -1})
	if len(res.paths()) != 2 || len(res.skips) != 0 {
		t.Errorf("unlimited: found %d keys, skips %v", len(res.paths()), res.skips)
	}
}

// Overlapping entries (one compressed stream, many central directory
// entries) are caught by the ratio over the whole archive.
func TestOverlappingZipBomb(t *testing.T) {
	k := testkit.NewKey(t, patterns.Production)
	one := bomb(t, k, k, 2<<20)
	zr, err := zip.NewReader(bytes.NewReader(one), int64(len(one)))
	if err != nil {
		t.Fatal(err)
	}
	f := zr.File[0]
	raw, _ := f.OpenRaw()
	comp, _ := io.ReadAll(raw)
	var b bytes.Buffer
	w := zip.NewWriter(&b)
	fh := f.FileHeader
	rw, _ := w.CreateRaw(&fh)
	rw.Write(comp)
	w.Close()
	// Copy the central directory entry 500 times, all pointing at offset 0.
	data := b.Bytes()
	cdStart := bytes.Index(data, []byte("PK\x01\x02"))
	eocd := bytes.Index(data, []byte("PK\x05\x06"))
	entry := data[cdStart:eocd]
	var out bytes.Buffer
	out.Write(data[:cdStart])
	for range 500 {
		out.Write(entry)
	}
	end := slices.Clone(data[eocd:])
	n := uint16(500)
	end[8], end[9], end[10], end[11] = byte(n), byte(n>>8), byte(n), byte(n>>8)
	size := uint32(len(entry) * 500)
	end[12], end[13], end[14], end[15] = byte(size), byte(size>>8), byte(size>>16), byte(size>>24)
	off := uint32(cdStart)
	end[16], end[17], end[18], end[19] = byte(off), byte(off>>8), byte(off>>16), byte(off>>24)
	out.Write(end)

	res := scan(t, "overlap.zip", out.Bytes(), false, scanner.Limits{})
	if !res.skipped("zip bomb") {
		t.Errorf("skips %v", res.skips)
	}
	if len(res.hits) == 0 {
		t.Errorf("no key reported before the limit")
	}
}

func TestHostile(t *testing.T) {
	k1, k2 := testkit.NewKey(t, patterns.Production), testkit.NewKey(t, patterns.Production)
	twoFiles := makeZip(t, file{"first.txt", text(k1)}, file{"second.txt", bytes.Repeat([]byte("filler "), 20000)}, file{"third.txt", text(k2)})
	tgz := gz(t, makeTar(t, file{"package/a.js", text(k1)}, file{"package/b.js", bytes.Repeat([]byte("x"), 200000)}, file{"package/c.js", text(k2)}))

	encrypted := func() []byte {
		var b bytes.Buffer
		w := zip.NewWriter(&b)
		fw, _ := w.CreateRaw(&zip.FileHeader{Name: "secret.txt", Flags: 1, Method: zip.Store,
			CompressedSize64: 100, UncompressedSize64: 88})
		fw.Write(bytes.Repeat([]byte{0x55}, 100))
		fw2, _ := w.Create("open.txt")
		fw2.Write(text(k2))
		w.Close()
		return b.Bytes()
	}()
	symlinks := func() []byte {
		var b bytes.Buffer
		w := tar.NewWriter(&b)
		w.WriteHeader(&tar.Header{Name: "link", Linkname: "/etc/passwd", Typeflag: tar.TypeSymlink})
		w.WriteHeader(&tar.Header{Name: "hard", Linkname: "real.txt", Typeflag: tar.TypeLink})
		w.WriteHeader(&tar.Header{Name: "fifo", Typeflag: tar.TypeFifo})
		d := text(k1)
		w.WriteHeader(&tar.Header{Name: "real.txt", Size: int64(len(d)), Mode: 0o644, Typeflag: tar.TypeReg})
		w.Write(d)
		w.Close()
		return b.Bytes()
	}()
	unsupported := func() []byte {
		var b bytes.Buffer
		w := zip.NewWriter(&b)
		fw, _ := w.CreateRaw(&zip.FileHeader{Name: "lzma.bin", Method: 14, CompressedSize64: 10, UncompressedSize64: 10})
		fw.Write(make([]byte, 10))
		fw2, _ := w.Create("ok.txt")
		fw2.Write(text(k2))
		w.Close()
		return b.Bytes()
	}()
	decoy := k1[:46] // 46 characters: not a key

	tests := []struct {
		name    string
		file    string
		data    []byte
		want    map[string][]string
		skipped string // a substring of a skip reason; "" for none
	}{
		{"truncated zip: entries recovered from local headers", "t.zip", twoFiles[:len(twoFiles)*2/3],
			map[string][]string{fp(k1): {"t.zip!first.txt"}}, "entries recovered from local headers"},
		{"zip without its end", "t.zip", twoFiles[:bytes.Index(twoFiles, []byte("PK\x01\x02"))],
			map[string][]string{fp(k1): {"t.zip!first.txt"}, fp(k2): {"t.zip!third.txt"}}, "3 entries recovered"},
		{"truncated tgz", "t.tgz", tgz[:len(tgz)/2],
			map[string][]string{fp(k1): {"t.tgz!package/a.js"}}, "unexpected EOF"},
		{"truncated gzip member", "x.txt.gz", gz(t, text(k1))[:30], map[string][]string{}, "gzip"},
		{"path traversal names are labels", "evil.zip",
			makeZip(t, file{"../../../../tmp/evil.sh", text(k1)}, file{"/etc/cron.d/x", text(k2)}),
			map[string][]string{fp(k1): {"evil.zip!../../../../tmp/evil.sh"}, fp(k2): {"evil.zip!/etc/cron.d/x"}}, ""},
		{"control characters in names", "c.tar", makeTar(t, file{"a\x1b[2Jb\n.txt", text(k1)}),
			map[string][]string{fp(k1): {"c.tar!a\uFFFD[2Jb\uFFFD.txt"}}, ""},
		{"key in a member name is redacted", "n.zip", makeZip(t, file{k2 + ".txt", text(k1)}),
			map[string][]string{fp(k1): {"n.zip!" + patterns.Redact([]byte(k2)) + ".txt"}}, ""},
		{"encrypted entry", "e.zip", encrypted, map[string][]string{fp(k2): {"e.zip!open.txt"}}, "encrypted zip entry"},
		{"symlinks are not followed", "s.tar", symlinks, map[string][]string{fp(k1): {"s.tar!real.txt"}}, ""},
		{"unsupported method", "u.zip", unsupported, map[string][]string{fp(k2): {"u.zip!ok.txt"}}, "method 14"},
		{"46-character decoy", "d.tgz", gz(t, makeTar(t, file{"x.js", text(decoy)})), map[string][]string{}, ""},
		{"not a zip despite its name", "fake.jar", text(k1), map[string][]string{fp(k1): {"fake.jar"}}, "zip: not a valid zip file"},
		{"empty zip", "empty.zip", makeZip(t), map[string][]string{}, ""},
		{"empty gzip", "empty.gz", gz(t, nil), map[string][]string{}, ""},
		{"absurd tar size", "big.tar", func() []byte {
			h := makeTar(t, file{"x", text(k1)})
			// Claim 8 GiB for the member: the stream ends long before.
			copy(h[124:136], fmt.Sprintf("%011o\x00", int64(8<<30)))
			fixTarChecksum(h[:512])
			return h
		}(), map[string][]string{fp(k1): {"big.tar!x"}}, "unexpected EOF"},
	}
	for _, tt := range tests {
		for _, stream := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/stream=%v", tt.name, stream), func(t *testing.T) {
				res := scan(t, tt.file, tt.data, stream, scanner.Limits{})
				if got := res.paths(); !mapsEqual(got, tt.want) {
					t.Errorf("found %v, want %v", got, tt.want)
				}
				if tt.skipped == "" && len(res.skips) > 0 {
					t.Errorf("unexpected skips %v", res.skips)
				}
				if tt.skipped != "" && !res.skipped(tt.skipped) {
					t.Errorf("skips %v, want one with %q", res.skips, tt.skipped)
				}
			})
		}
	}
}

func fixTarChecksum(h []byte) {
	copy(h[148:156], "        ")
	var sum int
	for _, c := range h[:512] {
		sum += int(c)
	}
	copy(h[148:156], fmt.Sprintf("%06o\x00 ", sum))
}

// A zip that comes as a stream larger than MemLimit goes through a
// temporary file, and the file is gone afterwards.
func TestZipSpill(t *testing.T) {
	k := testkit.NewKey(t, patterns.Production)
	noise := make([]byte, 3<<20)
	for i := range noise {
		noise[i] = byte(i*7919>>3) | 0x80 // incompressible enough, no key
	}
	var b bytes.Buffer
	w := zip.NewWriter(&b)
	fw, _ := w.CreateHeader(&zip.FileHeader{Name: "noise.bin", Method: zip.Store})
	fw.Write(noise)
	fw2, _ := w.Create("k.txt")
	fw2.Write(text(k))
	w.Close()

	dir := t.TempDir()
	res := &result{}
	e := &scanner.Engine{Expanders: []scanner.Expander{&archive.Expander{MemLimit: 1 << 20, TempDir: dir}},
		OnSkip: func(s scanner.Skip) { res.skips = append(res.skips, s) }}
	data := b.Bytes()
	it := scanner.Item{Loc: finding.Location{Source: "stdin"}, Size: -1,
		Open: func() (io.ReadCloser, error) { return io.NopCloser(onlyReader{bytes.NewReader(data)}), nil }}
	if _, err := e.Run(context.Background(), items{it}, res); err != nil {
		t.Fatal(err)
	}
	if got := res.paths()[fp(k)]; !slices.Equal(got, []string{"!k.txt"}) {
		t.Errorf("found at %v, skips %v", got, res.skips)
	}
	if left, _ := filepathGlob(dir); len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}
}

// bombTarGz is a tgz of a member of n zeros followed by more members,
// written as a stream so that the test holds only the compressed bytes.
func bombTarGz(t testing.TB, n int64, after ...file) []byte {
	t.Helper()
	var b bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&b, gzip.BestCompression)
	w := tar.NewWriter(zw)
	if err := w.WriteHeader(&tar.Header{Name: "zeros.bin", Mode: 0o644, Size: n, Typeflag: tar.TypeReg}); err != nil {
		t.Fatal(err)
	}
	z := zeros(n)
	if _, err := io.Copy(w, &z); err != nil {
		t.Fatal(err)
	}
	for _, f := range after {
		if err := w.WriteHeader(&tar.Header{Name: f.name, Mode: 0o644, Size: int64(len(f.data)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		w.Write(f.data)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// A member cut short by the ratio limit is a skip of that member: its
// siblings are still scanned, so a key behind a bomb is found.
func TestBombMemberSiblings(t *testing.T) {
	k1, k2 := testkit.NewKey(t, patterns.Production), testkit.NewKey(t, patterns.Production)
	var zb bytes.Buffer
	w := zip.NewWriter(&zb)
	fw, _ := w.Create("zeros.bin")
	z := zeros(16 << 20)
	io.Copy(fw, &z)
	fw, _ = w.Create("config.js")
	fw.Write(text(k1))
	w.Close()
	tests := []struct {
		name, file string
		data       []byte
		key        string
	}{
		{"zip", "bomb.zip", zb.Bytes(), k1},
		{"tgz", "bomb.tgz", bombTarGz(t, 16<<20, file{"package/config.js", text(k2)}), k2},
	}
	for _, tt := range tests {
		for _, stream := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/stream=%v", tt.name, stream), func(t *testing.T) {
				res := scan(t, tt.file, tt.data, stream, scanner.Limits{})
				if _, ok := res.paths()[fp(tt.key)]; !ok {
					t.Errorf("key beside the bomb member not found")
				}
				var bomb bool
				for _, s := range res.skips {
					if strings.Contains(s.Reason, "zip bomb") && strings.HasSuffix(s.Where, "zeros.bin") {
						bomb = true
					}
				}
				if !bomb {
					t.Errorf("skips %+v, want the bomb member skipped as a zip bomb", res.skips)
				}
			})
		}
	}
}

// Many bomb members (or one compressed stream behind many entries) cost
// bounded work: after 9 members cut by the ratio the archive is given up,
// and says so.
func TestManyBombMembers(t *testing.T) {
	var zb bytes.Buffer
	w := zip.NewWriter(&zb)
	for i := range 12 {
		fw, _ := w.Create(fmt.Sprintf("zeros%02d.bin", i))
		z := zeros(4 << 20)
		io.Copy(fw, &z)
	}
	w.Close()
	res := scan(t, "bombs.zip", zb.Bytes(), false, scanner.Limits{MaxRatio: 10})
	if !res.skipped("rest of the archive not scanned") {
		t.Errorf("skips %+v", res.skips)
	}
	if n := len(res.skips); n != 9 {
		t.Errorf("%d skips, want 8 members and the archive", n)
	}
}

// A stream decompressed ahead of its scan (a file or bytes in memory) is
// stopped where the scan stops, a bomb cut short or a total limit
// reached, and leaves no goroutine behind; what it holds is found either
// way, before the cut and whole.
func TestReadAheadStops(t *testing.T) {
	k1, k2 := testkit.NewKey(t, patterns.Production), testkit.NewKey(t, patterns.Production)
	z := zeros(64 << 20)
	var zb bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&zb, gzip.BestCompression)
	zw.Write(text(k1))
	io.Copy(zw, &z)
	zw.Write(text(k2))
	zw.Close()
	plain := gz(t, bytes.Repeat(append(text(k2), strings.Repeat("x", 1000)+"\n"...), 2000))
	// bzip2 blocks decoded ahead, in goroutines of their own, stop too.
	bzBomb := bz2(t, append(append(append(text(k1), logLines(2<<20)...), bytes.Repeat([]byte{0}, 128<<20)...), text(k2)...))
	before := runtime.NumGoroutine()
	for _, tt := range []struct {
		name string
		data []byte
		lim  scanner.Limits
		want []string // keys found
		skip string
	}{
		{"ratio", zb.Bytes(), scanner.Limits{}, []string{k1}, "zip bomb"},
		{"total", zb.Bytes(), scanner.Limits{MaxRatio: -1, MaxTotalBytes: 1 << 20}, []string{k1}, "expansion limit"},
		{"whole", plain, scanner.Limits{}, []string{k2}, ""},
		{"bzip2 ratio", bzBomb, scanner.Limits{}, []string{k1}, "zip bomb"},
		{"bzip2 total", bzBomb, scanner.Limits{MaxRatio: -1, MaxTotalBytes: 4 << 20}, []string{k1}, "expansion limit"},
	} {
		res := scan(t, "z.gz", tt.data, false, tt.lim)
		if got := res.paths(); len(got) != len(tt.want) || got[fp(tt.want[0])] == nil {
			t.Errorf("%s: found %v, want %d key(s)", tt.name, got, len(tt.want))
		}
		if tt.skip != "" && !res.skipped(tt.skip) {
			t.Errorf("%s: skips %+v, want %q", tt.name, res.skips, tt.skip)
		}
	}
	for i := 0; runtime.NumGoroutine() > before && i < 100; i++ {
		time.Sleep(10 * time.Millisecond) // the engine's own workers wind down
	}
	if n := runtime.NumGoroutine(); n > before {
		t.Errorf("%d goroutines left running", n-before)
	}
}
