package patterns

import (
	"encoding/json"
	"fmt"
)

// Secret holds a whole key in memory on its way to a secret store. Every way
// of printing or marshalling it yields the redacted form, so that a Secret
// that strays into a log, an error or a report leaks nothing. Only Reveal
// gives the key, and only code that hands it to a secret store calls it.
type Secret struct{ v string }

// NewSecret wraps a key.
func NewSecret(key string) Secret { return Secret{v: key} }

// Reveal returns the whole key.
func (s Secret) Reveal() string { return s.v }

// IsZero reports whether s holds nothing.
func (s Secret) IsZero() bool { return s.v == "" }

// Fingerprint returns the key's fingerprint.
func (s Secret) Fingerprint() string { return Fingerprint([]byte(s.v)) }

// String returns the redacted form.
func (s Secret) String() string {
	if s.v == "" {
		return ""
	}
	return Redact([]byte(s.v))
}

// GoString keeps %#v redacted too.
func (s Secret) GoString() string { return fmt.Sprintf("patterns.Secret(%q)", s.String()) }

// Format makes every verb print the redacted form.
func (s Secret) Format(f fmt.State, verb rune) { fmt.Fprint(f, s.String()) }

// MarshalJSON writes the redacted form; a Secret is never serialised whole.
func (s Secret) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }

// MarshalText writes the redacted form.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }
