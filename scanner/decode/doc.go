// Package decode finds Atomyx keys that content hides under an encoding:
// base64 (standard and URL alphabets, padded or not, line-wrapped, in data:
// URIs), percent-encoding, JS/JSON string escapes, HTML character
// references, UTF-16 (LE and BE), hex strings and byte-array literals
// (bytelist.go), base32 (base32.go), string literals joined in source
// (literal.go), and nestings of these up to a depth.
//
// Leaked keys are rarely pasted bare: they sit in a Kubernetes Secret
// (base64), a URL query (percent), a JSON blob or a minified bundle
// (\u escapes), an HTML attribute (&#95;), a PowerShell -EncodedCommand
// (base64 of UTF-16). A scanner that sees only the literal prefix misses all
// of them.
//
// Decoding everything would make every scan as slow as the slowest decoder,
// so the Scanner decodes only where a key can hide, with bounded work per
// input byte: base64 runs long enough to hold a key, escapes whose decoded
// character can belong to a key or to a nested encoding, byte lists around
// the anchors "6d", "6D", "109", UTF-16 runs (found by a vectorised search
// for NUL), and a small window around each of them. One vectorised pass
// per level (marks.go; AVX2, or byte searches without it) marks where the
// searches start: the ends of "atmx", the escape introducers that can
// start a relevant escape, the base64 characters, the byte-list anchors;
// the searches then walk set bits, not bytes. Every decoded candidate
// still has to pass patterns.Find, checksum included, on the decoded text.
//
// The work is bounded per region: each place an encoding may start (an
// escape's window, a base64 run, a UTF-16 run) has its own budget, so
// input made to multiply the work (escapes that decode to escapes of other
// kinds, three deep) runs out in its own region only; plain keys and keys
// one encoding deep are found everywhere, the regions after it are decoded
// as usual, and Result says where a budget ran out so that the caller can
// report it rather than pass over it in silence.
//
// The decoders themselves (Base64, Percent, JSEscape, HTMLEntity, UTF16) are
// exported for reuse and fuzzing; they are lenient: what does not decode is
// copied through.
package decode
