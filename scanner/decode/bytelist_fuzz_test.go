package decode

import (
	"encoding/base32"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/atomyx/atomyx-guard/patterns"
)

// FuzzByteList: whatever the input, the list parser stays in bounds,
// decodes at most what it is asked, records increasing positions inside
// the input, and reads back what list() and hexPairs() write.
func FuzzByteList(f *testing.F) {
	k, _ := patterns.Generate(patterns.Production)
	f.Add("0x61, 0x74, 0x6d, 0x78", uint8(0))
	f.Add(list(k, "%d", ", ", 10, "  "), uint8(2))
	f.Add(hexPairs(k, 2, ":"), uint8(0))
	f.Add("0x6d0x6d 109 109109 6d6D", uint8(1))
	f.Fuzz(func(t *testing.T, s string, mode uint8) {
		b := []byte(s)
		m := listMode(mode % 3)
		for i := 0; i < len(b); i++ {
			d, pos := decodeList(nil, nil, b, i, 0, patterns.KeyLen, m)
			if len(d) > patterns.KeyLen || len(d) != len(pos) {
				t.Fatalf("%d bytes, %d positions", len(d), len(pos))
			}
			for j := range pos {
				if int(pos[j]) < i || int(pos[j]) >= len(b) || j > 0 && pos[j] <= pos[j-1] {
					t.Fatalf("position %d out of order or bounds: %v", j, pos)
				}
			}
			if p, ok := listBack(b, 0, i, m); ok && (p < 0 || p > i) {
				t.Fatalf("listBack(%d) = %d", i, p)
			}
		}
		// Round trips: any bytes written as a list read back whole.
		src := s[:min(len(s), patterns.KeyLen)]
		for _, c := range []struct {
			text string
			m    listMode
		}{
			{hex.EncodeToString([]byte(src)), listHex},
			{hexPairs(src, 1, ", "), listHex},
			{list(src, "0x%02x", ",\n\t", 0, ""), listHex0x},
			{list(src, "%d", ", ", 8, "    "), listDecimal},
		} {
			if d, _ := decodeList(nil, nil, []byte(c.text), 0, 0, patterns.KeyLen, c.m); string(d) != src {
				t.Fatalf("mode %d: %q read back as %q", c.m, src, d)
			}
		}
	})
}

// FuzzBase32: Base32 agrees with encoding/base32 on what it encodes, in
// either case, and never panics or grows past its input on anything else.
func FuzzBase32(f *testing.F) {
	f.Add([]byte("atmx_prd_"), "MF2G26C7")
	f.Fuzz(func(t *testing.T, raw []byte, junk string) {
		enc := base32.StdEncoding.EncodeToString(raw)
		if got := Base32(nil, []byte(enc)); string(got) != string(raw) {
			t.Fatalf("Base32(%q) = %x, want %x", enc, got, raw)
		}
		if got := Base32(nil, []byte(strings.ToLower(enc))); string(got) != string(raw) {
			t.Fatalf("lower case: %x, want %x", got, raw)
		}
		if got := Base32(nil, []byte(junk)); len(got) > len(junk)*5/8 {
			t.Fatalf("%d bytes out of %d characters", len(got), len(junk))
		}
	})
}
