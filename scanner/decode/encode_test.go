package decode

import (
	"encoding/base64"
	"fmt"
	"strings"
	"unicode/utf16"
)

// Encoders for the tests: each writes s the way some tool would.

func b64std(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
func b64url(s string) string { return base64.URLEncoding.EncodeToString([]byte(s)) }
func b64raw(s string) string { return base64.RawStdEncoding.EncodeToString([]byte(s)) }
func b64rawURL(s string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(s))
}

// wrap breaks s into lines of width characters joined by eol and indent.
func wrap(s string, width int, eol, indent string) string {
	var b strings.Builder
	for i := 0; i < len(s); i += width {
		if i > 0 {
			b.WriteString(eol + indent)
		}
		b.WriteString(s[i:min(len(s), i+width)])
	}
	return b.String()
}

func pctAll(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		fmt.Fprintf(&b, "%%%02X", s[i])
	}
	return b.String()
}

// pctSome escapes the bytes of s that are in set.
func pctSome(s, set string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if strings.IndexByte(set, s[i]) >= 0 {
			fmt.Fprintf(&b, "%%%02x", s[i])
		} else {
			b.WriteByte(s[i])
		}
	}
	return b.String()
}

func jsU(s string) string {
	var b strings.Builder
	for _, u := range utf16.Encode([]rune(s)) {
		fmt.Fprintf(&b, `\u%04x`, u)
	}
	return b.String()
}

func jsX(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		fmt.Fprintf(&b, `\x%02X`, s[i])
	}
	return b.String()
}

func jsBrace(s string) string {
	var b strings.Builder
	for _, r := range s {
		fmt.Fprintf(&b, `\u{%x}`, r)
	}
	return b.String()
}

func htmlDec(s string) string {
	var b strings.Builder
	for _, r := range s {
		fmt.Fprintf(&b, "&#%d;", r)
	}
	return b.String()
}

func htmlHex(s string) string {
	var b strings.Builder
	for _, r := range s {
		fmt.Fprintf(&b, "&#x%X;", r)
	}
	return b.String()
}

func utf16le(s string, bom bool) string {
	var b []byte
	if bom {
		b = append(b, 0xFF, 0xFE)
	}
	for _, u := range utf16.Encode([]rune(s)) {
		b = append(b, byte(u), byte(u>>8))
	}
	return string(b)
}

func utf16be(s string, bom bool) string {
	var b []byte
	if bom {
		b = append(b, 0xFE, 0xFF)
	}
	for _, u := range utf16.Encode([]rune(s)) {
		b = append(b, byte(u>>8), byte(u))
	}
	return string(b)
}

// badKey returns k with its last checksum digit changed.
func badKey(k string) string {
	c := byte('a')
	if k[46] == 'a' {
		c = 'b'
	}
	return k[:46] + string(c)
}
