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
// When a git binary is present, a full scan reads the packs in-process
// (packread.go: each delta family inflated once, on every core) and
// leaves to `git cat-file` what it does not handle (loose objects, large
// blobs, unusual repositories); history comes from one `git log --raw`.
// Without git, go-git does both (slower, same results). Refs, tags and
// the reflog are read with go-git. A staged scan (the pre-commit hook)
// reads the index, HEAD's trees along the change and the staged blobs
// in-process (objread.go, every object checked against its id), and asks
// git diff-index, then go-git, only what that cannot answer.
//
// The scanned repository is untrusted (sandbox.go): git never reads its
// config, hooks or alternates, since it runs in a private shadow git
// directory that links only to the repository's refs and objects, with no
// transport allowed and a deadline per child; go-git reads through a
// filesystem that refuses the repository's config, FIFOs, devices and
// files outside the repository. A missing object is a skip, never a
// fetch; a scan in which nothing could be read is ErrNothingReadable.
package gitsource
