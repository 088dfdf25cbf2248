package gitsource

import (
	"context"
	"io"

	"github.com/go-git/go-git/v5/plumbing"
)

// storedObject is one object read from the store. Blobs up to the large limit,
// commits and tags come with data; larger blobs with an opener that streams
// them. Trees never reach callers: only blob paths matter, and those come
// from walks.
type storedObject struct {
	id      plumbing.Hash
	typ     plumbing.ObjectType
	size    int64
	data    []byte
	release func()
	open    func() (io.ReadCloser, error)
}

// entry is a (path, blob) a commit introduces.
type entry struct {
	path string
	blob plumbing.Hash
}

// walkSpec selects commits: reachable from the includes (and every ref and
// HEAD with all, the reflog with reflog), not reachable from the excludes.
type walkSpec struct {
	all, reflog bool
	include     []plumbing.Hash
	exclude     []plumbing.Hash
	// noDiff skips tree diffs: fn gets no entries (reachability only).
	noDiff bool
}

// store is what the scan needs of a repository's objects and history. Two
// implementations give the same answers: one drives the git binary (fast),
// one go-git (no binary needed).
type store interface {
	// all calls fn for every blob, commit and tag in the object store,
	// once each, reachable or not; it counts trees.
	all(ctx context.Context, fn func(storedObject) error) error
	// read calls fn for each of ids that can be read.
	read(ctx context.Context, ids []plumbing.Hash, fn func(storedObject) error) error
	// walk calls fn for each commit the spec selects, with the entries it
	// introduces: (path, blob) in its tree that none of its parents has.
	walk(ctx context.Context, spec walkSpec, fn func(c commitMeta, es []entry) error) error
	// resolve names a revision's commit.
	resolve(ctx context.Context, rev string) (plumbing.Hash, error)
}

// skipFunc records an object or pack that could not be read.
type skipFunc func(where, reason string)

// getBuf allocates an object's buffer. (A pool would save garbage
// collection work, but only if the engine told sources when it is done
// with an item; see scanner.Item.)
func getBuf(n int) ([]byte, func()) {
	return make([]byte, n), func() {}
}
