package patterns_test

import (
	"encoding/base64"
	"fmt"
	"strings"
	"testing"
	"unicode/utf16"

	"github.com/atomyx/atomyx-guard/patterns"
	"github.com/atomyx/atomyx-guard/scanner/decode"
)

func genKey(t testing.TB) string {
	t.Helper()
	k, err := patterns.Generate(patterns.Production)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// encodings are ways a key hides that the detector sees through.
var encodings = map[string]func(string) string{
	"plain":         func(k string) string { return k },
	"percent upper": func(k string) string { return strings.ReplaceAll(k, "_", "%5F") },
	"percent lower": func(k string) string { return strings.ReplaceAll(k, "_", "%5f") },
	"percent all": func(k string) string {
		var b strings.Builder
		for i := 0; i < len(k); i++ {
			fmt.Fprintf(&b, "%%%02X", k[i])
		}
		return b.String()
	},
	"double percent": func(k string) string { return strings.ReplaceAll(k, "_", "%255F") },
	"js u":           func(k string) string { return strings.ReplaceAll(k, "_", `\u005f`) },
	"js x":           func(k string) string { return strings.ReplaceAll(k, "_", `\x5f`) },
	"js u braces":    func(k string) string { return strings.ReplaceAll(k, "_", `\u{5f}`) },
	"js escaped u":   func(k string) string { return strings.ReplaceAll(k, "_", `\\u005f`) },
	"html dec":       func(k string) string { return strings.ReplaceAll(k, "_", "&#95;") },
	"html hex":       func(k string) string { return strings.ReplaceAll(k, "_", "&#x5F;") },
	"html named":     func(k string) string { return strings.ReplaceAll(k, "_", "&lowbar;") },
	"html amp":       func(k string) string { return strings.ReplaceAll(k, "_", "&amp;#95;") },
	"utf16le": func(k string) string {
		var b strings.Builder
		for _, u := range utf16.Encode([]rune(k)) {
			b.WriteByte(byte(u))
			b.WriteByte(byte(u >> 8))
		}
		return b.String()
	},
	"base64":    func(k string) string { return base64.StdEncoding.EncodeToString([]byte("k=" + k)) },
	"base64url": func(k string) string { return base64.RawURLEncoding.EncodeToString([]byte(k)) },
	"base64 wrapped": func(k string) string {
		e := base64.StdEncoding.EncodeToString([]byte("the key is " + k))
		return e[:40] + "\r\n    " + e[40:]
	},
	"percent base64": func(k string) string {
		return strings.ReplaceAll(base64.StdEncoding.EncodeToString([]byte(k)), "=", "%3D")
	},
	"base64 percent": func(k string) string {
		return base64.StdEncoding.EncodeToString([]byte(strings.ReplaceAll(k, "_", "%5F")))
	},
}

// detectable reports whether the detector finds a valid key in s.
func detectable(s string) bool {
	found := false
	decode.NewScanner().Scan([]byte(s), decode.Options{Depth: decode.DefaultDepth, AtEOF: true}, func(m decode.Match) {
		if m.Valid {
			found = true
		}
	})
	return found
}

// The mask sees through every encoding the detector does: in a URL, a
// file name, a message, no key comes out whole, written out or encoded.
func TestMaskSeesThroughEncodings(t *testing.T) {
	k := genKey(t)
	body := k[patterns.RedactedLen:] // what must never show
	for name, enc := range encodings {
		for _, wrap := range []string{"%s", "https://app.example/cb?token=%s&x=1", "dir/%s.txt", "skipped %s: HTTP 404"} {
			in := fmt.Sprintf(wrap, enc(k))
			if !detectable(in) {
				t.Fatalf("%s: the detector does not see the key in %q: the test is wrong", name, in)
			}
			for mname, m := range map[string]func(string) string{"RedactRuns": patterns.RedactRuns, "Scrub": patterns.Scrub} {
				out := m(in)
				if detectable(out) {
					t.Errorf("%s %s: key still detectable in %q", mname, name, out)
				}
				if strings.Contains(out, body[:8]) || strings.Contains(out, body[len(body)-8:]) {
					t.Errorf("%s %s: part of the key body in %q", mname, name, out)
				}
				if len(out) > len(in)+4 {
					t.Errorf("%s %s: %d bytes out of %d", mname, name, len(out), len(in))
				}
			}
		}
	}
}

// Text without a key, encoded or not, comes out unchanged.
func TestMaskLeavesText(t *testing.T) {
	for _, s := range []string{
		"", "config/settings.py", "https://app.example/a%20b?q=%5Fx&y=\\u0041", "&amp;&lt;",
		"c29tZSBiYXNlNjQgdGV4dA==", "atmx_prd_sh", "dir/atmx%5Fprd%5Fab.txt", "\x00a\x00b",
	} {
		if got := patterns.RedactRuns(s); got != s {
			t.Errorf("RedactRuns(%q) = %q", s, got)
		}
		if got := patterns.Scrub(s); got != s {
			t.Errorf("Scrub(%q) = %q", s, got)
		}
	}
}

// FuzzMask: whatever the text, nothing the detector finds survives the
// mask, and the mask never makes text much longer.
func FuzzMask(f *testing.F) {
	k := genKey(f)
	for _, enc := range encodings {
		f.Add("x=" + enc(k) + ";")
	}
	f.Add("%%%5F\\u\\u{}&#;&#x&lowbar")
	f.Fuzz(func(t *testing.T, s string) {
		for _, m := range []func(string) string{patterns.RedactRuns, patterns.Scrub} {
			out := m(s)
			if detectable(out) {
				t.Fatalf("key detectable after the mask: %q -> %q", s, out)
			}
			if len(out) > len(s)+len(s)/7+4 {
				t.Fatalf("%d bytes out of %d", len(out), len(s))
			}
		}
	})
}
