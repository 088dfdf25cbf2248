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
