// Package responder closes the door on a live leaked key: it reissues a
// replacement through the Atomyx Vault, delivers it to the GitHub Actions
// secrets where the key is used, checks that the replacement is active,
// revokes the leaked key, and opens one GitHub issue that tells the owner
// what happened and what is left to do.
//
// Every step is recorded in a journal (package journal) before the next
// one starts, and every Vault call carries an Idempotency-Key derived from
// the key's fingerprint, so that a run killed half-way resumes where it
// stopped, and that retries, resumed runs and several machines racing on
// the same key converge on one replacement and one issue.
package responder
