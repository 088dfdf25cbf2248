package gitsource

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// ErrTooLarge is returned by FileAt for a blob over the size asked for.
var ErrTooLarge = errors.New("file too large")

// FileAt returns the content of the file at path (slash-separated, from the
// root of the tree) in commit rev. It exists so that a pull-request gate can
// read the policy of the base commit, not the one the change brings.
//
// It reads through go-git only: no git process starts, so nothing the
// repository configures can run, fetch or hang, and a missing object is an
// error, never a fetch. Only a regular file's blob of at most max bytes is
// read: a symbolic link, a submodule or a tree is refused (a link could
// point the reader anywhere; the caller asked for a file). A path absent
// from the tree gives an error wrapping fs.ErrNotExist.
func (r *Repo) FileAt(ctx context.Context, rev, path string, max int64) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	h, err := (&goGit{r: r}).resolve(ctx, rev)
	if err != nil {
		return nil, err
	}
	c, err := object.GetCommit(r.storage, h)
	if err != nil {
		return nil, fmt.Errorf("commit %s: %w", h, err)
	}
	tree, err := object.GetTree(r.storage, c.TreeHash)
	if err != nil {
		return nil, fmt.Errorf("tree of %s: %w", h, err)
	}
	e, err := tree.FindEntry(path)
	if errors.Is(err, object.ErrEntryNotFound) || errors.Is(err, object.ErrDirectoryNotFound) {
		return nil, fmt.Errorf("%s at %s: %w", path, short(h), fs.ErrNotExist)
	}
	if err != nil {
		return nil, fmt.Errorf("%s at %s: %w", path, short(h), err)
	}
	if e.Mode != filemode.Regular && e.Mode != filemode.Executable && e.Mode != filemode.Deprecated {
		return nil, fmt.Errorf("%s at %s: not a regular file (mode %s)", path, short(h), e.Mode)
	}
	obj, err := r.storage.EncodedObject(plumbing.BlobObject, e.Hash)
	if err != nil {
		return nil, fmt.Errorf("%s at %s: %w", path, short(h), err)
	}
	if obj.Size() > max {
		return nil, fmt.Errorf("%s at %s: %d bytes: %w (limit %d)", path, short(h), obj.Size(), ErrTooLarge, max)
	}
	rd, err := obj.Reader()
	if err != nil {
		return nil, fmt.Errorf("%s at %s: %w", path, short(h), err)
	}
	defer rd.Close()
	b, err := io.ReadAll(io.LimitReader(rd, max+1))
	if err != nil {
		return nil, fmt.Errorf("%s at %s: %w", path, short(h), err)
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("%s at %s: %w (limit %d)", path, short(h), ErrTooLarge, max)
	}
	return b, nil
}

func short(h plumbing.Hash) string { return h.String()[:12] }
