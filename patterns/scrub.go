package patterns

import "strings"

// IndexKeyShape returns the index of the first run in s shaped like a key
// (prefix, a known environment code, '_' and 38 base62 characters), or -1.
// Unlike Find it ignores boundaries and the checksum: it is for refusing or
// masking text that must never hold a key (configuration, report fields),
// where a near miss or a key glued to a word is as unwelcome as a clean one.
func IndexKeyShape(s string) int {
	for off := 0; ; {
		i := strings.Index(s[off:], Prefix)
		if i < 0 {
			return -1
		}
		start := off + i
		if start+KeyLen <= len(s) && shapeOK([]byte(s[start:start+KeyLen])) {
			return start
		}
		off = start + 1
	}
}

// Scrub returns s with every key-shaped run (see IndexKeyShape) replaced by
// its redacted form. Text that holds none is returned as is.
func Scrub(s string) string {
	i := IndexKeyShape(s)
	if i < 0 {
		return s
	}
	var b strings.Builder
	for i >= 0 {
		b.WriteString(s[:i])
		b.WriteString(Redact([]byte(s[i : i+KeyLen])))
		s = s[i+KeyLen:]
		i = IndexKeyShape(s)
	}
	b.WriteString(s)
	return b.String()
}
