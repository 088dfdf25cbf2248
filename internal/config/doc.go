// Package config reads .atomyx-guard.toml, a repository's own policy for
// atomyx-guard: what to leave out of findings (path globs, keys allowed by
// fingerprint with a reason) and how to respond to a live key in each
// environment (report, revoke, or rotate and deliver the new key).
//
// The file is parsed strictly: an unknown key is an error that names it, so
// a typo cannot silently turn a policy off. A key is never allowlisted by
// value: anything in the file shaped like a key is refused, and the error
// shows its redacted form only.
//
//	[allow]
//	paths = ["testdata/**", "docs/*.md"]
//
//	[[allow.fingerprints]]
//	fingerprint = "sha256:…"
//	reason = "revoked demo key used in docs"
//
//	[respond]
//	issue_repo = "acme/security"     # default: the scanned repository
//	labels = ["security"]
//	recipient = "age1…"              # operator's age X25519 recipient
//
//	[respond.environments.production]
//	action = "rotate"                # report | revoke | rotate
//	revoke_old = "immediately"       # or a grace period up to 24h, e.g. "15m"
//	deliver = ["github-secret:acme/app:ATOMYX_API_KEY"]
//
// Without a file, production and staging keys are rotated, development keys
// revoked, and nothing is allowed beyond inline atomyx-guard:allow markers.
package config
