// Package gitsource finds every Atomyx key that ever entered a git
// repository's history, and says where it entered.
//
// Diffs (git log -p) miss keys that enter in a merge's conflict resolution,
// a stash or an object no ref reaches any more, so the source works on
// objects instead: every blob in the object store is read and scanned once,
// however many commits hold it, and commit and tag messages are scanned too.
// Only the blobs that hold a key are then resolved to where they entered
// history: each (path, commit) whose tree has the blob at that path while
// none of the commit's parents does. A blob no ref reaches is reported as
// unreachable, with its id.
//
// When a git binary is present, objects stream through one
// `git cat-file --batch-all-objects` process and history through one
// `git log --raw`; both run with every setting that could execute code from
// the scanned repository neutralised. Without git, go-git does both (slower,
// same results). Refs, tags, the index and the reflog are read with go-git.
package gitsource
