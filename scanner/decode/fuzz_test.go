package decode

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"html"
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/atomyx/atomyx-guard/patterns"
)

func FuzzBase64(f *testing.F) {
	f.Add([]byte("atmx_prd_0123456789ABCDEFGHIJKLMNOPQRSTUV1wkvFj"), uint8(0))
	f.Add([]byte{0xfb, 0xff, 0xfe, 0x00}, uint8(3))
	f.Add([]byte(""), uint8(5))
	f.Fuzz(func(t *testing.T, data []byte, mode uint8) {
		encs := []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding}
		enc := encs[mode%4].EncodeToString(data)
		switch mode / 4 % 4 {
		case 1:
			enc = wrap(enc, 64, "\n", "")
		case 2:
			enc = wrap(enc, 76, "\r\n", "  ")
		}
		if got := Base64(nil, []byte(enc)); !bytes.Equal(got, data) {
			t.Fatalf("Base64(%q) = %x, want %x", enc, got, data)
		}
		// Any input: no panic, never more than 3 bytes out per 4 in.
		if got := Base64(nil, data); len(got) > len(data)*3/4+2 {
			t.Fatalf("Base64 of %d bytes gave %d", len(data), len(got))
		}
		// decodeChars with a virtual prefix drops exactly the bytes that
		// depend on the missing characters.
		chars := []byte(base64.RawStdEncoding.EncodeToString(data))
		for p := 1; p < 4 && p < len(chars); p++ {
			full := decodeChars(nil, chars, 0)
			part := decodeChars(nil, chars[p:], p) // chars[p] keeps its place in the group
			if len(chars) >= 4 && !bytes.Equal(part, full[p:]) {
				t.Fatalf("phase %d: %x vs %x", p, part, full)
			}
		}
	})
}

func FuzzPercent(f *testing.F) {
	f.Add([]byte("atmx_prd_0123456789ABCDEFGHIJKLMNOPQRSTUV1wkvFj"))
	f.Add([]byte("%%41%g1%4"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if got := Percent(nil, []byte(pctAll(string(data)))); !bytes.Equal(got, data) {
			t.Fatalf("Percent(pctAll(%x)) = %x", data, got)
		}
		if got := Percent(nil, []byte(url.PathEscape(string(data)))); !bytes.Equal(got, data) {
			t.Fatalf("Percent(PathEscape(%x)) = %x", data, got)
		}
		if got := Percent(nil, data); len(got) > len(data) {
			t.Fatalf("Percent grew %d bytes to %d", len(data), len(got))
		}
		if want, err := url.PathUnescape(string(data)); err == nil {
			if got := Percent(nil, data); string(got) != want {
				t.Fatalf("Percent(%q) = %q, PathUnescape says %q", data, got, want)
			}
		}
	})
}

func FuzzJSEscape(f *testing.F) {
	f.Add("atmx_prd_0123456789ABCDEFGHIJKLMNOPQRSTUV1wkvFj")
	f.Add(`a\u{1F600}\uD83D\uDE00\x41\/\0\u12`)
	f.Fuzz(func(t *testing.T, s string) {
		if utf8.ValidString(s) {
			b, err := json.Marshal(s)
			if err != nil {
				t.Fatal(err)
			}
			if got := JSEscape(nil, b[1:len(b)-1]); string(got) != s {
				t.Fatalf("JSEscape(%s) = %q, want %q", b, got, s)
			}
			if got := JSEscape(nil, []byte(jsU(s))); string(got) != s && !strings.ContainsRune(s, utf8.RuneError) {
				t.Fatalf("JSEscape(jsU(%q)) = %q", s, got)
			}
			if got := JSEscape(nil, []byte(jsBrace(s))); string(got) != s {
				t.Fatalf("JSEscape(jsBrace(%q)) = %q", s, got)
			}
		}
		// Any input: no panic; at most 3 bytes out per byte in (\0 -> 1,
		// \x80 -> 2 bytes of UTF-8 for 4 in, a lone surrogate -> 3 for 6).
		if got := JSEscape(nil, []byte(s)); len(got) > len(s) {
			t.Fatalf("JSEscape grew %d bytes to %d", len(s), len(got))
		}
	})
}

func FuzzHTMLEntity(f *testing.F) {
	f.Add("atmx_prd_0123456789ABCDEFGHIJKLMNOPQRSTUV1wkvFj")
	f.Add("&lowbar;&UnderBar;&#95&#x5F;&amp;#95;&#1114112;&#xD800;&bogus;")
	f.Fuzz(func(t *testing.T, s string) {
		c1 := strings.ContainsFunc(s, func(r rune) bool { return 0x80 <= r && r < 0xA0 })
		if utf8.ValidString(s) && !strings.ContainsRune(s, 0) && !strings.ContainsRune(s, utf8.RuneError) && !c1 {
			for _, enc := range []string{htmlDec(s), htmlHex(s), html.EscapeString(s)} {
				if got := HTMLEntity(nil, []byte(enc)); string(got) != s {
					t.Fatalf("HTMLEntity(%q) = %q, want %q", enc, got, s)
				}
			}
		}
		got := HTMLEntity(nil, []byte(s))
		if len(got) > len(s) {
			t.Fatalf("HTMLEntity grew %d bytes to %d", len(s), len(got))
		}
		// Text without '&' passes through untouched; numeric references
		// decode as the standard library decodes them.
		if !strings.Contains(s, "&") && string(got) != s {
			t.Fatalf("HTMLEntity changed text without '&'")
		}
		if utf8.ValidString(s) && !strings.ContainsRune(s, 0) && !strings.ContainsRune(s, utf8.RuneError) {
			num := htmlDec(s) + htmlHex(s)
			if got, want := HTMLEntity(nil, []byte(num)), html.UnescapeString(num); string(got) != want {
				t.Fatalf("HTMLEntity(%q) = %q, html.UnescapeString = %q", num, got, want)
			}
		}
	})
}

func FuzzUTF16(f *testing.F) {
	f.Add("atmx_prd_0123456789ABCDEFGHIJKLMNOPQRSTUV1wkvFj", false)
	f.Add("\U0001F600 é", true)
	f.Fuzz(func(t *testing.T, s string, be bool) {
		if utf8.ValidString(s) && !strings.ContainsRune(s, utf8.RuneError) {
			for _, bom := range []bool{false, true} {
				enc := utf16le(s, bom)
				if be {
					enc = utf16be(s, bom)
				}
				if strings.HasPrefix(s, "\ufeff") || strings.HasPrefix(s, "\ufffe") {
					continue // a leading U+FEFF reads as a byte-order mark
				}
				if got := UTF16(nil, []byte(enc), be); string(got) != s {
					t.Fatalf("UTF16(%x) = %q, want %q", enc, got, s)
				}
			}
		}
		if got := UTF16(nil, []byte(s), be); !utf8.Valid(got) || len(got) > len(s)*3/2+3 {
			t.Fatalf("UTF16 of %d bytes: %d bytes, valid %v", len(s), len(got), utf8.Valid(got))
		}
	})
}

// FuzzScan: any input, no panic; every match is in bounds and, when
// valid, a key; every plain key is found; the work stays in the budget.
func FuzzScan(f *testing.F) {
	k, _ := patterns.Generate(patterns.Production)
	for _, e := range encodings() {
		f.Add([]byte("x " + e.enc(k) + " y"))
	}
	f.Add([]byte(strings.Repeat("%2525", 100)))
	f.Add([]byte(utf16le("a"+strings.Repeat("b", 100), false)))
	f.Fuzz(func(t *testing.T, data []byte) {
		s := NewScanner()
		plain := map[int]bool{}
		patterns.Find(data, 0, true, func(c patterns.Candidate) {
			if c.Valid {
				plain[c.Start] = true
			}
		})
		res := s.Scan(data, Options{Depth: DefaultDepth, AtEOF: true, NearMisses: true}, func(m Match) {
			if m.Start < 0 || m.End > len(data) || m.Start >= m.End {
				t.Fatalf("match span [%d, %d) outside [0, %d)", m.Start, m.End, len(data))
			}
			if len(m.Chain) > DefaultDepth {
				t.Fatalf("chain %v deeper than %d", m.Chain, DefaultDepth)
			}
			if m.Valid != patterns.Valid(m.Key) || len(m.Key) != patterns.KeyLen {
				t.Fatalf("match valid=%v but key validates %v", m.Valid, patterns.Valid(m.Key))
			}
			if m.Chain == nil && m.Valid {
				delete(plain, m.Start)
			}
		})
		if len(plain) != 0 {
			t.Fatalf("plain keys not reported at %v", plain)
		}
		// Decoding is bounded: small inputs never come near the budget.
		if spent := s.spent; res.Exhausted || spent > 4*len(data)+2*budgetBase/3 {
			t.Fatalf("%d bytes in, %d decoded, exhausted %v", len(data), spent, res.Exhausted)
		}
	})
}
