// Package patterns is the one place that knows the Atomyx API key format
// (../shared/atomyx/key-format.md): how to find candidates in bytes, how to
// check them, how to name them (fingerprint) and how to show them (redacted).
//
// A change of key format is a change of this package alone. Nothing outside
// it parses keys, and nothing it returns, apart from Generate, holds a whole
// key: callers get offsets into their own buffer, fingerprints and redacted
// forms.
package patterns
