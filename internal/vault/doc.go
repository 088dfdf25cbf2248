// Package vault is the client of the Atomyx Vault key API
// (../shared/atomyx/vault-api.md): verify keys by fingerprint, read a key's
// metadata, list an org's keys (list.go: pages and an iterator, never a
// key or a fingerprint), revoke, reissue and issue.
//
// It is the one package that speaks that contract from the scanner's side,
// so that the day Atomyx publishes its own API, one package changes. The
// client is careful where the network is not: it sends fingerprints, never
// keys; it retries only what is safe to retry (rate limits, 5xx, timeouts,
// dropped connections), always with the same Idempotency-Key for a mutating
// call, so that a lost reissue response never makes two keys; and its errors
// never carry a key, the bearer key or a response body as it came.
//
// The wire types in api.go are shared with the local Vault in vault/server.
package vault
