// Package server is the local Vault: an HTTP server that implements the
// whole key API of ../shared/atomyx/vault-api.md on one machine, so that a
// new user can issue a key, leak it, scan, verify, revoke and reissue
// without an Atomyx account, and so that the client and the responder are
// tested against a real server rather than a mock.
//
// Keys live in a bbolt database (DIR/vault.db) by fingerprint only; the one
// response that must be replayable with a whole key in it (reissue, issue)
// is kept sealed with a per-directory secret (DIR/server.secret). On first
// start the server makes an administrator key with every role and writes it
// to DIR/admin.key (mode 0600) — the only place a whole key is written.
//
// GET /v1/keys lists an owner org's keys in key id order; its page tokens
// are sealed with the same secret, so they are opaque and bound to their
// query. POST /v1/keys accepts created_at, an extension of this server only,
// so that key-age tests and demos date keys in the past instead of
// sleeping.
//
// It can be told to misbehave (Faults): latency, 429 with Retry-After, 5xx,
// dropped connections, and a reissue whose response is lost after the new
// key is committed, from a seedable random source so that tests are
// deterministic.
package server
