package scanner

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"testing/iotest"
	"time"

	"github.com/atomyx/atomyx-guard/internal/finding"
	"github.com/atomyx/atomyx-guard/patterns"
)

// detSink records what a Detector reports.
type detSink struct {
	mu    sync.Mutex
	hits  []finding.Hit
	nears []finding.NearMiss
}

func (s *detSink) Hit(h finding.Hit) { s.mu.Lock(); s.hits = append(s.hits, h); s.mu.Unlock() }
func (s *detSink) NearMiss(n finding.NearMiss) {
	s.mu.Lock()
	s.nears = append(s.nears, n)
	s.mu.Unlock()
}

// hitLine is a hit reduced to what the tests compare.
type hitLine struct {
	fp        string
	line, col int
	decoded   string
	allowed   bool
}

func (s *detSink) lines() []hitLine {
	var out []hitLine
	for _, h := range s.hits {
		out = append(out, hitLine{h.Fingerprint, h.Location.Line, h.Location.Column, strings.Join(h.Location.Decoded, ","), h.Location.Allowed != ""})
	}
	slices.SortFunc(out, func(a, b hitLine) int {
		if a.line != b.line {
			return a.line - b.line
		}
		return a.col - b.col
	})
	return out
}

func detKey(t testing.TB, env patterns.Environment) string {
	t.Helper()
	k, err := patterns.Generate(env)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func utf16LE(s string) string {
	var b strings.Builder
	b.WriteString("\xff\xfe")
	for i := 0; i < len(s); i++ {
		b.WriteByte(s[i])
		b.WriteByte(0)
	}
	return b.String()
}

func jsEscape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		fmt.Fprintf(&b, `\u%04x`, s[i])
	}
	return b.String()
}

// corpus is a text with keys in several encodings on known lines, and the
// hits the detector must report for it.
func corpus(t testing.TB) ([]byte, []hitLine) {
	var b bytes.Buffer
	var want []hitLine
	line := 1
	add := func(prefix, enc, chain string, col int, k string) {
		b.WriteString(prefix + enc + "\n")
		want = append(want, hitLine{patterns.Fingerprint([]byte(k)), line, col, chain, strings.Contains(prefix, AllowMarker)})
		line++
	}
	junk := func(n int) {
		for range n {
			b.WriteString("the quick brown fox jumps over the lazy dog 0123456789 +/=%& \\ ;\n")
			line++
		}
	}
	junk(3)
	k := detKey(t, patterns.Production)
	add("plain: ", k, "", 8, k)
	junk(2)
	k = detKey(t, patterns.Staging)
	add("b64: ", base64.StdEncoding.EncodeToString([]byte(k)), "base64", 6, k)
	k = detKey(t, patterns.Development)
	add("url: https://x.example/cb?token=", strings.ReplaceAll(k, "_", "%5F"), "percent", 33, k)
	junk(1)
	k = detKey(t, patterns.Production)
	add(`{"js": "`, jsEscape(k)+`"}`, "json-escape", 9, k)
	k = detKey(t, patterns.Production)
	add(`<input value="`, strings.ReplaceAll(k, "_", "&lowbar;")+`">`, "html-entity", 15, k)
	k = detKey(t, patterns.Staging)
	add("nested: ", base64.StdEncoding.EncodeToString([]byte(`{"k":"`+jsEscape(k)+`"}`)), "base64,json-escape", 9+8, k)
	k = detKey(t, patterns.Development)
	add("# atomyx-guard:allow ", base64.RawURLEncoding.EncodeToString([]byte(k)), "base64", 22, k)
	junk(2)
	// A wrapped block: the key starts on the block's second line.
	k = detKey(t, patterns.Production)
	payload := base64.StdEncoding.EncodeToString([]byte(strings.Repeat("p", 59) + " " + k + "\n"))
	b.WriteString("cert:\n")
	line++
	for i := 0; i < len(payload); i += 64 {
		b.WriteString("  " + payload[i:min(i+64, len(payload))] + "\r\n")
	}
	want = append(want, hitLine{patterns.Fingerprint([]byte(k)), line + 1, 3 + 80 - 64, "base64", false})
	line += (len(payload) + 63) / 64
	junk(1)
	pad := 0
	if b.Len()%2 == 1 { // even offset: read as little-endian
		b.WriteByte(' ')
		pad = 1
	}
	k = detKey(t, patterns.Staging)
	b.WriteString(utf16LE("key=" + k + "\n")) // its own line: "\n\x00" ends it
	want = append(want, hitLine{patterns.Fingerprint([]byte(k)), line, 1 + pad + 2 + 8, "utf-16le", false})
	line++
	junk(2)
	// Decoys: none of these may be reported.
	bad := detKey(t, patterns.Production)
	bad = bad[:46] + string("ab"[bytes.IndexByte([]byte("a"), bad[46])+1])
	b.WriteString(base64.StdEncoding.EncodeToString([]byte(bad)) + "\n")
	up := detKey(t, patterns.Staging)
	b.WriteString(base64.StdEncoding.EncodeToString([]byte(strings.ToUpper(up[:9])+up[9:])) + "\n")
	b.WriteString(base64.StdEncoding.EncodeToString([]byte(detKey(t, patterns.Staging)))[:60] + "\n")
	return b.Bytes(), want
}

func TestDetectorEncoded(t *testing.T) {
	data, want := corpus(t)
	var s detSink
	(&Detector{}).ScanBytes(data, finding.Location{Source: finding.SourceFile, Path: "c.txt"}, &s)
	if got := s.lines(); !slices.Equal(got, want) {
		t.Fatalf("hits:\n%v\nwant:\n%v", got, want)
	}
	for _, h := range s.hits {
		if h.Location.Path != "c.txt" || h.Environment == "" || !strings.HasSuffix(h.Redacted, "…") {
			t.Fatalf("hit lacks its location or metadata: %+v", h)
		}
	}
}

// TestDetectorStreaming: whatever the window, streaming reports exactly
// what scanning the whole buffer reports, lines and columns included
// (columns of lines that began in an earlier window are 0).
func TestDetectorStreaming(t *testing.T) {
	data, want := corpus(t)
	for _, win := range []int{1, 5, 64, 500, 4096, 1 << 20} {
		for _, oneByte := range []bool{false, true} {
			var s detSink
			var r = bytes.NewReader(data)
			var rd interface{ Read([]byte) (int, error) } = r
			if oneByte {
				rd = iotest.OneByteReader(r)
			}
			n, err := (&Detector{Window: win}).ScanReader(context.Background(), rd, finding.Location{Source: finding.SourceStdin}, &s)
			if err != nil || n != int64(len(data)) {
				t.Fatalf("window %d: read %d of %d, %v", win, n, len(data), err)
			}
			got := s.lines()
			if len(got) != len(want) {
				t.Fatalf("window %d: %d hits, want %d:\n%v\n%v", win, len(got), len(want), got, want)
			}
			for i := range got {
				w := want[i]
				if got[i].col == 0 { // the line began in an earlier window
					w.col = 0
				}
				if got[i] != w {
					t.Fatalf("window %d: hit %d = %+v, want %+v", win, i, got[i], w)
				}
			}
		}
	}
}

func TestDetectorPlain(t *testing.T) {
	data, _ := corpus(t)
	var s detSink
	(&Detector{Plain: true}).ScanBytes(data, finding.Location{}, &s)
	if len(s.hits) != 1 || s.hits[0].Location.Decoded != nil {
		t.Fatalf("plain detector: %d hits, want the literal key only", len(s.hits))
	}
}

func TestDetectorNearMissDecoded(t *testing.T) {
	k := detKey(t, patterns.Staging)
	bad := k[:46] + map[bool]string{true: "b", false: "a"}[k[46] == 'a']
	text := "x\n" + base64.StdEncoding.EncodeToString([]byte(bad)) + "\n"
	var s detSink
	(&Detector{NearMisses: true}).ScanBytes([]byte(text), finding.Location{}, &s)
	if len(s.hits) != 0 || len(s.nears) != 1 {
		t.Fatalf("%d hits, %d near misses; want 0, 1", len(s.hits), len(s.nears))
	}
	n := s.nears[0]
	if n.Location.Line != 2 || strings.Join(n.Location.Decoded, ",") != "base64" || n.Redacted != patterns.Redact([]byte(bad)) {
		t.Fatalf("near miss %+v", n)
	}
}

// The benchmarks: plain text, a minified bundle, base64-heavy text and
// random binary, each with one key at the end, with every decoder on
// (Detector) and off (Plain).

func benchData(kind string, size int) []byte {
	rng := newRand(1)
	var b bytes.Buffer
	switch kind {
	case "text":
		words := strings.Fields("the of and to in is that for it as was with be by on not he this are or his from at which but have an they you were her she there can all their has one been we if would more when will who so no other into out then my up its time only new also some could these two may first after any like than very where most over just made our state through back how such years under well same must many those way use here")
		for b.Len() < size {
			n := 6 + rng.intn(10)
			for i := range n {
				if i > 0 {
					b.WriteByte(' ')
				}
				b.WriteString(words[rng.intn(len(words))])
			}
			b.WriteString(".\n")
		}
	case "minjs":
		idents := []string{"e", "t", "n", "r", "o", "i", "a", "s", "u", "c", "l", "f", "d", "p", "h", "m", "exports", "default", "createElement", "useState", "props", "children", "__esModule", "Object", "defineProperty", "prototype", "call", "apply", "length", "push"}
		for b.Len() < size {
			switch rng.intn(12) {
			case 0:
				fmt.Fprintf(&b, `function(%s,%s){"use strict";`, idents[rng.intn(8)], idents[rng.intn(8)])
			case 1:
				fmt.Fprintf(&b, `var %s=%s.%s(%s,"%s",{value:!0});`, idents[rng.intn(16)], idents[rng.intn(30)], idents[rng.intn(30)], idents[rng.intn(16)], idents[rng.intn(30)])
			case 2:
				fmt.Fprintf(&b, `return %s&&%s.%s?%s:{default:%s}}`, idents[rng.intn(16)], idents[rng.intn(16)], idents[rng.intn(30)], idents[rng.intn(16)], idents[rng.intn(16)])
			case 3:
				b.WriteString(`"Hello, world!\n\tThe value is \"quoted\" and caf\u00e9 \u2014 done"`)
			case 4:
				b.WriteString(`/^\d+(\.\d+)?$/.test(`)
			case 5:
				fmt.Fprintf(&b, `%s[%d]=%s.%s(%d,%d);`, idents[rng.intn(16)], rng.intn(1000), idents[rng.intn(16)], idents[rng.intn(30)], rng.intn(100000), rng.intn(100))
			case 6:
				b.WriteString(`"https://cdn.example.com/assets/app-3f9c2a.js?v=1&amp;x=2"`)
			case 7:
				fmt.Fprintf(&b, `%s.className="btn btn-primary px-%d py-%d";`, idents[rng.intn(16)], rng.intn(9), rng.intn(9))
			case 8:
				b.WriteString(`}catch(e){console.error("failed: "+e.message)}`)
			case 9:
				fmt.Fprintf(&b, `case %d:return"%x";`, rng.intn(100), rng.intn(1<<30))
			default:
				fmt.Fprintf(&b, `%s=%s(%s,%s),`, idents[rng.intn(16)], idents[rng.intn(30)], idents[rng.intn(16)], idents[rng.intn(16)])
			}
		}
	case "base64":
		raw := make([]byte, 1200)
		for b.Len() < size {
			rng.read(raw)
			enc := base64.StdEncoding.EncodeToString(raw)
			b.WriteString("-----BEGIN CERTIFICATE-----\n")
			for i := 0; i < len(enc); i += 64 {
				b.WriteString(enc[i:min(i+64, len(enc))] + "\n")
			}
			b.WriteString("-----END CERTIFICATE-----\n")
		}
	case "binary":
		raw := make([]byte, size)
		rng.read(raw)
		b.Write(raw)
	case "zeros":
		// Sparse binaries (images, object files) are mostly NUL bytes.
		b.Write(make([]byte, size))
	}
	return b.Bytes()
}

// rng is a small deterministic generator, so the benchmarks measure the
// same bytes every run.
type rng struct{ x uint64 }

func newRand(seed uint64) *rng { return &rng{seed*0x9E3779B97F4A7C15 + 1} }
func (r *rng) next() uint64 {
	r.x ^= r.x << 13
	r.x ^= r.x >> 7
	r.x ^= r.x << 17
	return r.x
}
func (r *rng) intn(n int) int { return int(r.next() % uint64(n)) }
func (r *rng) read(p []byte) {
	for i := range p {
		p[i] = byte(r.next() >> 24)
	}
}

func BenchmarkDetector(b *testing.B) {
	k := detKey(b, patterns.Production)
	for _, kind := range []string{"text", "minjs", "base64", "binary", "zeros"} {
		data := append(benchData(kind, 8<<20), "\n"+k+"\n"...)
		for _, plain := range []bool{false, true} {
			name := kind + "/decode"
			if plain {
				name = kind + "/plain"
			}
			b.Run(name, func(b *testing.B) {
				d := &Detector{Plain: plain}
				b.SetBytes(int64(len(data)))
				cpu := cpuTime()
				for b.Loop() {
					var s detSink
					d.ScanBytes(data, finding.Location{}, &s)
					if len(s.hits) != 1 {
						b.Fatalf("%d hits", len(s.hits))
					}
				}
				reportCPU(b, cpu, len(data))
			})
		}
	}
}

// BenchmarkDetectorStream measures the streaming path with its default
// window on the minified bundle.
func BenchmarkDetectorStream(b *testing.B) {
	data := benchData("minjs", 8<<20)
	b.SetBytes(int64(len(data)))
	d := &Detector{}
	cpu := cpuTime()
	for b.Loop() {
		var s detSink
		if _, err := d.ScanReader(context.Background(), bytes.NewReader(data), finding.Location{}, &s); err != nil {
			b.Fatal(err)
		}
	}
	reportCPU(b, cpu, len(data))
}

// cpuTime is the process's CPU time: on a shared machine, throughput per
// CPU second says more about the code than wall time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func reportCPU(b *testing.B, since time.Duration, size int) {
	if d := cpuTime() - since; d > 0 {
		b.ReportMetric(float64(size)*float64(b.N)/1e6/d.Seconds(), "MB/cpu-s")
	}
}
