// Package finding is the data that flows from the detector to the report and
// the responder: a Finding per key (by fingerprint) with every Location where
// it was seen, its verification status, and what the Vault says of it.
//
// A Finding never holds a key: only its fingerprint and redacted form. That
// is what keeps whole keys out of reports, logs and issues by construction.
package finding
