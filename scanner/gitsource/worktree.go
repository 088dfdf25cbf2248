package gitsource

import (
	"io"
	"os"
	"syscall"

	"github.com/go-git/go-git/v5/plumbing"
)

// A staged blob is most often still the work-tree file it was staged
// from (git add, then git commit): reading that file and hashing it costs
// a read and a SHA-1, where the loose object costs the same plus an
// inflate, most of a large hook's CPU. The file is used only when its
// content hashes to the staged blob's id, so it is the blob, whatever
// filters, links or later edits lie between the two; anything else (a
// file edited since, a clean filter, a missing file) is read from the
// object store as before.

// stagedFile is where a staged blob's content may still be: the work-tree
// path it was staged from and that file's size then (the index's stat
// data, truncated to 32 bits).
type stagedFile struct {
	path string
	size uint32
}

// worktreeFiles reads staged blobs from the work tree, through an os.Root
// of it: a path that leaves the work tree through a link is refused by
// the kernel walk.
type worktreeFiles struct {
	root  *os.Root // nil: nothing is read from the work tree
	large int64
	files map[plumbing.Hash]stagedFile
}

func (s *scan) newWorktreeFiles() *worktreeFiles {
	w := &worktreeFiles{large: s.repo.large, files: s.stagedFiles}
	if s.repo.WorkTree != "" && len(s.stagedFiles) > 0 {
		w.root, _ = os.OpenRoot(s.repo.WorkTree)
	}
	return w
}

func (w *worktreeFiles) close() {
	if w.root != nil {
		w.root.Close()
	}
}

// blob returns blob id read from its work-tree file; ok is false when
// the file is not (or no longer) exactly the blob.
func (w *worktreeFiles) blob(id plumbing.Hash) (o storedObject, ok bool) {
	sf, known := w.files[id]
	if w.root == nil || !known {
		return o, false
	}
	// O_NONBLOCK: a FIFO put at the path must not block the hook.
	f, err := w.root.OpenFile(sf.path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return o, false
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() || uint32(fi.Size()) != sf.size || fi.Size() > w.large {
		return o, false
	}
	data, release := getBuf(int(fi.Size()))
	if _, err := io.ReadFull(f, data); err != nil || !checkID(id, plumbing.BlobObject, data) {
		release()
		return o, false
	}
	return storedObject{id: id, typ: plumbing.BlobObject, size: int64(len(data)), data: data, release: release}, true
}
