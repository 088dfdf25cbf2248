package decode

import (
	"encoding/base32"
	"encoding/hex"
	"fmt"
	"github.com/atomyx/atomyx-guard/internal/testkit"
	"strings"
	"testing"

	"github.com/atomyx/atomyx-guard/patterns"
)

// list writes the bytes of s with format f, joined by sep, wrapping a line
// every perLine bytes with indent.
func list(s, f, sep string, perLine int, indent string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if i > 0 {
			b.WriteString(sep)
			if perLine > 0 && i%perLine == 0 {
				b.WriteString("\n" + indent)
			}
		}
		fmt.Fprintf(&b, f, s[i])
	}
	return b.String()
}

func hexPairs(s string, group int, sep string) string {
	h := hex.EncodeToString([]byte(s))
	var b strings.Builder
	for i := 0; i < len(h); i += 2 * group {
		if i > 0 {
			b.WriteString(sep)
		}
		b.WriteString(h[i:min(i+2*group, len(h))])
	}
	return b.String()
}

func b32(s string) string { return base32.StdEncoding.EncodeToString([]byte(s)) }

// TestByteListsAndBase32 hides a fresh key as hex, byte arrays and base32
// and wants it found once, with the right chain and position.
func TestByteListsAndBase32(t *testing.T) {
	type enc struct {
		name   string
		before string // text before the key's encoding, on the same line
		enc    func(k string) string
		chain  string
		at     func(k string) int // start of the key's encoding in enc(k)
	}
	at0 := func(string) int { return 0 }
	cases := []enc{
		{"hex", "h = '", func(k string) string { return hex.EncodeToString([]byte(k)) + "'" }, "hex", at0},
		{"hex upper", "H=", func(k string) string { return strings.ToUpper(hex.EncodeToString([]byte(k))) }, "hex", at0},
		{"hex glued", "blob ", func(k string) string { return "deadbeef" + hex.EncodeToString([]byte(k)) + "00ff" }, "hex", func(string) int { return 8 }},
		{"hex colons", "", func(k string) string { return hexPairs(k, 1, ":") }, "hex", at0},
		{"hex spaces", "", func(k string) string { return hexPairs(k, 1, " ") }, "hex", at0},
		{"hex groups of two", "", func(k string) string { return hexPairs(k, 2, " ") }, "hex", at0},
		{"go byte slice", "var k = []byte{", func(k string) string { return list(k, "0x%02x", ", ", 12, "\t") + "}" }, "byte-array", at0},
		{"java upper 0X", "byte[] k = {", func(k string) string { return list(k, "0X%02X", ",", 0, "") + "};" }, "byte-array", at0},
		{"js Uint8Array", "new Uint8Array([", func(k string) string { return list(k, "%d", ", ", 0, "") + "])" }, "byte-array", at0},
		{"python bytes", "bytes([", func(k string) string { return list(k, "%d", ", ", 16, "    ") + "])" }, "byte-array", at0},
		{"c decimal", "char k[] = {", func(k string) string { return list(k, "%d", ",", 0, "") + "};" }, "byte-array", at0},
		{"decimal glued", "[", func(k string) string { return "1, 2, 250, " + list(k, "%d", ", ", 0, "") + ", 0]" }, "byte-array", func(string) int { return 11 }},
		{"base32", "", b32, "base32", at0},
		{"base32 lower", "", func(k string) string { return strings.ToLower(b32(k)) }, "base32", at0},
		{"base32 unpadded", "", func(k string) string { return strings.TrimRight(b32(k), "=") }, "base32", at0},
		{"base64 of hex", "", func(k string) string { return b64std(hex.EncodeToString([]byte(k))) }, "base64,hex", at0},
	}
	for r := 1; r < 5; r++ {
		cases = append(cases, enc{fmt.Sprintf("base32 at byte %d", r), "", func(k string) string { return b32("QRST"[:r] + k) }, "base32",
			func(string) int { return 8 * r / 5 }})
	}
	for _, e := range cases {
		t.Run(e.name, func(t *testing.T) {
			for _, env := range patterns.Environments {
				k := testkit.NewKey(t, env)
				prefix := "// junk before, 50% & more \\ 0x1f 97 116\nline two: " + e.before
				text := prefix + e.enc(k) + " and junk after\n"
				var valid []got
				for _, g := range scanAll(text, Options{AtEOF: true}) {
					if g.valid {
						valid = append(valid, g)
					}
				}
				if len(valid) != 1 || valid[0].key != k {
					t.Fatalf("want the key once, got %+v", redact(valid))
				}
				if valid[0].chain != e.chain {
					t.Errorf("chain %q, want %q", valid[0].chain, e.chain)
				}
				if want := len(prefix) + e.at(k); e.chain != "base64,hex" && valid[0].start != want {
					t.Errorf("start %d, want %d", valid[0].start, want)
				}
			}
		})
	}
}

// TestByteListNearMisses: a hex run or byte array that decodes to a bad
// checksum is a near miss, never a key; a list broken by a wrong byte or a
// foreign separator is nothing.
func TestByteListNearMisses(t *testing.T) {
	k := testkit.NewKey(t, patterns.Production)
	bad := badKey(k)
	for name, text := range map[string]string{
		"hex":        hex.EncodeToString([]byte(bad)),
		"byte array": "[]byte{" + list(bad, "0x%02x", ", ", 0, "") + "}",
		"decimal":    "[" + list(bad, "%d", ",", 0, "") + "]",
		"base32":     b32(bad),
	} {
		t.Run(name, func(t *testing.T) {
			gs := scanAll("x = "+text+"\n", Options{AtEOF: true, NearMisses: true})
			if len(gs) != 1 || gs[0].valid {
				t.Fatalf("want one near miss, got %+v", redact(gs))
			}
		})
	}
	for name, text := range map[string]string{
		"hex with a byte missing":  hex.EncodeToString([]byte(k[:20] + k[21:])),
		"decimal with a 256":       strings.Replace(list(k, "%d", ", ", 0, ""), "95", "256", 1),
		"hex with a slash":         strings.Replace(hexPairs(k, 1, " "), " ", "/", 10),
		"decimal without commas":   list(k, "%d", "", 0, ""),
		"upper case prefix, hex":   hex.EncodeToString([]byte(strings.ToUpper(k[:9]) + k[9:])),
		"truncated base32":         b32(k)[:70],
		"base32 one character off": b32(k)[:30] + string("AB"[strings.IndexByte("A", b32(k)[30])+1]) + b32(k)[31:],
	} {
		t.Run(name, func(t *testing.T) {
			for _, g := range scanAll("x = "+text+"\n", Options{AtEOF: true}) {
				if g.valid {
					t.Fatalf("reported %s (chain %q)", patterns.Redact([]byte(g.key)), g.chain)
				}
			}
		})
	}
}

// TestByteListBudget: inputs made of nothing but anchors and key heads,
// in every syntax, stay well inside the decoding budget.
func TestByteListBudget(t *testing.T) {
	head := "atmx_prd_"
	for name, unit := range map[string]string{
		"hex anchors":      "6d",
		"hex heads":        hex.EncodeToString([]byte(head)),
		"spaced hex heads": hexPairs(head, 1, " ") + " ",
		"0x heads":         list(head, "0x%02x", ",", 0, "") + ",",
		"decimal heads":    list(head, "%d", ",", 0, "") + ",",
		"decimal anchors":  "109,",
		"base32 heads":     strings.TrimRight(b32(head+"x"), "="),
	} {
		t.Run(name, func(t *testing.T) {
			data := []byte(strings.Repeat(unit, (1<<20)/len(unit)))
			s := NewScanner()
			res := s.Scan(data, Options{Depth: DefaultDepth, AtEOF: true}, func(Match) {})
			if spent := s.spent; res.Exhausted || spent > 4*len(data) {
				t.Fatalf("%d bytes in, %d decoded, exhausted %v", len(data), spent, res.Exhausted)
			}
		})
	}
}
