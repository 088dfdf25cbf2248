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
// its redacted form, whether written out or under the encodings the
// detector sees through (percent, JS escapes, HTML references, UTF-16,
// base64; see mask.go). Text that holds none is returned as is.
func Scrub(s string) string { return mask(s, keyShape) }

// RedactRuns cuts every run that starts with the key prefix and goes on in
// base62 and '_' to at most its redacted form, whatever its length,
// environment or checksum, written out or encoded as Scrub sees through. It
// is the bluntest mask, for text from outside (archive member names, URLs,
// server messages) where a key may sit glued to anything.
func RedactRuns(s string) string { return mask(s, anyRun) }
