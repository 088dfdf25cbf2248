package decode

import (
	"crypto/rand"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/atomyx/atomyx-guard/internal/testkit"
	"github.com/atomyx/atomyx-guard/patterns"
)

// base64TextSlow is base64Text by definition: decode at every alignment
// and look for a stretch of minText ASCII bytes.
func base64TextSlow(chars []byte) bool {
	for m := range 4 {
		if m >= len(chars) {
			break
		}
		d := decodeChars(nil, chars[m:], 0)
		run := 0
		for _, c := range d {
			if c < 0x80 {
				run++
				if run >= minText+2 { // a stretch the probe must see
					return true
				}
			} else {
				run = 0
			}
		}
	}
	return false
}

// The prefilter never passes over a run that decodes to a key's worth of
// ASCII at any alignment, whatever surrounds it, and passes over random
// binary.
func TestBase64TextSeesEveryAlignment(t *testing.T) {
	k := testkit.NewKey(t, patterns.Production)
	for lead := range 6 {
		for trail := range 4 {
			junk := make([]byte, 300)
			rand.Read(junk)
			for i := range junk {
				junk[i] |= 0x80
			}
			payload := string(junk[:100+lead]) + k + string(junk[200:200+trail])
			chars := []byte(base64.RawStdEncoding.EncodeToString([]byte(payload)))
			for cut := range 4 { // the run seen from a stray character on
				if !base64Text(chars[cut:]) {
					t.Fatalf("lead %d trail %d cut %d: key's run passed over", lead, trail, cut)
				}
			}
		}
	}
	junk := make([]byte, 1<<16)
	rand.Read(junk)
	if base64Text([]byte(base64.StdEncoding.EncodeToString(junk))) {
		t.Fatal("random binary under base64 not passed over")
	}
	if !hasText([]byte(strings.Repeat("\xff", 100) + k + strings.Repeat("\xff", 7))) {
		t.Fatal("hasText missed a key between binary")
	}
}

// FuzzBase64Text: what the probe says agrees with decoding at every
// alignment: it never passes over a run whose decoding holds a stretch
// long enough to be seen (minText plus a group's slack).
func FuzzBase64Text(f *testing.F) {
	f.Add([]byte("YXRteF9wcmRf"), uint8(0))
	f.Add([]byte(strings.Repeat("QUFB", 40)), uint8(1))
	f.Fuzz(func(t *testing.T, raw []byte, shift uint8) {
		chars := []byte(base64.RawStdEncoding.EncodeToString(raw))
		chars = chars[min(int(shift&3), len(chars)):]
		if base64TextSlow(chars) && !base64Text(chars) {
			t.Fatalf("passed over a run whose decoding holds ASCII text")
		}
	})
}
