package scanner

import (
	"encoding/base32"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"

	"github.com/atomyx/atomyx-guard/internal/finding"
	"github.com/atomyx/atomyx-guard/patterns"
)

// TestNoFalsePositiveOnGeneratedCorpora: the new passes (glued keys, hex,
// byte arrays, base32, split literals) report nothing on large text,
// minified JS, base64, binary input, nor on key-shaped decoys in every new
// syntax whose checksum fails: those are near misses at most.
func TestNoFalsePositiveOnGeneratedCorpora(t *testing.T) {
	if testing.Short() {
		t.Skip("large inputs")
	}
	r := newRand(7)
	alpha := patterns.Alphabet
	fake := func(env string) string { // key-shaped, checksum almost surely wrong
		b := []byte("atmx_" + env + "_")
		for range 38 {
			b = append(b, alpha[r.intn(len(alpha))])
		}
		return string(b)
	}
	var decoys strings.Builder
	for i := range 2000 {
		f := fake([]string{"prd", "stg", "dev"}[i%3])
		switch i % 8 {
		case 0:
			decoys.WriteString("x" + f + "Q\n")
		case 1:
			decoys.WriteString(hex.EncodeToString([]byte(f)) + "\n")
		case 2:
			fmt.Fprintf(&decoys, "new Uint8Array(%s)\n", strings.ReplaceAll(fmt.Sprint([]byte(f)), " ", ", "))
		case 3:
			decoys.WriteString(base32.StdEncoding.EncodeToString([]byte(f)) + "\n")
		case 4:
			decoys.WriteString(`k="` + f[:9] + `"+"` + f[9:] + "\";\n")
		case 5:
			decoys.WriteString("`" + f[:12] + "${'" + f[12:20] + "'}" + f[20:] + "`\n")
		case 6:
			decoys.WriteString("\x05k" + f + "\x00")
		default:
			decoys.WriteString(strings.ToUpper(hex.EncodeToString([]byte(f))) + "\n")
		}
	}
	for _, kind := range []string{"text", "minjs", "base64", "binary", "decoys"} {
		t.Run(kind, func(t *testing.T) {
			data := []byte(decoys.String())
			if kind != "decoys" {
				data = benchData(kind, 4<<20)
			}
			var s detSink
			(&Detector{NearMisses: true}).ScanBytes(data, finding.Location{}, &s)
			if len(s.hits) != 0 {
				t.Fatalf("%d findings in generated %s input", len(s.hits), kind)
			}
			if kind == "decoys" && len(s.nears) < 2000 {
				t.Errorf("%d near misses for 2000 decoys: some decoy syntax is not read", len(s.nears))
			}
		})
	}
}

// TestNewKindsStreamed: keys in every new syntax are found the same,
// lines and columns included, whole or streamed in windows of any size.
func TestNewKindsStreamed(t *testing.T) {
	var b strings.Builder
	var want []string
	for i := range 24 {
		k := detKey(t, patterns.Environments[i%3])
		want = append(want, patterns.Fingerprint([]byte(k)))
		b.WriteString(strings.Repeat("filler text, 0x1f; 97 116 ", i*7%23) + "\n")
		switch i % 6 {
		case 0:
			b.WriteString("k" + k + "Q\n")
		case 1:
			b.WriteString("h = " + hex.EncodeToString([]byte(k)) + "\n")
		case 2:
			fmt.Fprintf(&b, "b := []byte{%s}\n", strings.Join(strings.Fields(fmt.Sprintf("% #x", []byte(k))), ", "))
		case 3:
			b.WriteString(strings.ToLower(base32.StdEncoding.EncodeToString([]byte("xy"+k))) + "\n")
		case 4:
			b.WriteString(`k = ("` + k[:9] + "\"\n     \"" + k[9:] + "\")\n")
		default:
			b.WriteString("`" + k[:12] + "${'" + k[12:20] + "'}" + k[20:] + "`\n")
		}
	}
	data := []byte(b.String())
	var whole detSink
	(&Detector{}).ScanBytes(data, finding.Location{}, &whole)
	if got := whole.lines(); len(got) != len(want) {
		t.Fatalf("whole: %d hits, want %d", len(got), len(want))
	}
	kinds := map[string]int{}
	for _, h := range whole.lines() {
		kinds[h.decoded]++
	}
	for _, k := range []string{"", "hex", "byte-array", "base32", "split-literal"} {
		if kinds[k] == 0 {
			t.Errorf("no hit decoded as %q: %v", k, kinds)
		}
	}
	for _, win := range []int{1, 7, 100, 4096} {
		var s detSink
		if _, err := (&Detector{Window: win}).ScanReader(t.Context(), strings.NewReader(b.String()), finding.Location{}, &s); err != nil {
			t.Fatal(err)
		}
		got, w := s.lines(), whole.lines()
		if len(got) != len(w) {
			t.Fatalf("window %d: %d hits, want %d", win, len(got), len(w))
		}
		for i := range got {
			if got[i].fp != w[i].fp || got[i].line != w[i].line || got[i].col != 0 && got[i].col != w[i].col || got[i].decoded != w[i].decoded {
				t.Errorf("window %d: %+v, whole %+v", win, got[i], w[i])
			}
		}
	}
}
