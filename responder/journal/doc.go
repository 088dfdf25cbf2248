// Package journal is the responder's memory on disk: one record per
// incident (a leaked key, by fingerprint) that says which steps of its
// response are done and when, so that a responder killed half-way resumes
// where it stopped and never repeats a step.
//
// It is a bbolt database: every step is its own transaction, fsync'd before
// the step counts as done. A replacement key is never written in the clear:
// it is sealed with age to a journal-local X25519 key (kept beside the
// journal, mode 0600) while it still has to be delivered, or to an
// operator's recipient when there is nowhere to deliver it.
package journal
