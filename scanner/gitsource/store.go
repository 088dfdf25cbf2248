package gitsource

import (
	"context"
	"io"
	"math/bits"
	"sync"

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

// bufPool hands out byte buffers in power-of-two size classes (1 KiB to
// 32 MiB), so that blob contents reuse memory instead of churning the
// garbage collector. Items return them through scanner.Item.Release.
var bufPool [26]sync.Pool

func getBuf(n int) ([]byte, func()) {
	if n > largeBlob {
		return make([]byte, n), func() {}
	}
	c := 10
	if n > 1<<10 {
		c = bits.Len(uint(n - 1))
	}
	p := &bufPool[c]
	if v, ok := p.Get().(*[]byte); ok {
		return (*v)[:n], func() { p.Put(v) }
	}
	b := make([]byte, n, 1<<c)
	return b, func() { p.Put(&b) }
}
