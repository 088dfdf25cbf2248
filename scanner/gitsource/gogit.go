package gitsource

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/format/idxfile"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// goGit is the store that needs no git binary: objects and history through
// go-git, with its own walk from every tip (go-git's Log(All) misses
// commits only an annotated tag reaches, and holds the whole graph).
type goGit struct {
	r       *Repo
	skip    skipFunc
	shallow map[string]bool
	refs    func() *refInfo
}

// all lists every loose and packed object id, then reads each, in pack
// offset order so that go-git's delta cache helps.
func (g *goGit) all(ctx context.Context, fn func(storedObject) error) error {
	var ids []plumbing.Hash
	seen := map[plumbing.Hash]struct{}{}
	addID := func(h plumbing.Hash) {
		if _, ok := seen[h]; !ok {
			seen[h] = struct{}{}
			ids = append(ids, h)
		}
	}
	if err := g.r.storage.ForEachObjectHash(func(h plumbing.Hash) error { addID(h); return nil }); err != nil {
		g.skip("loose objects", err.Error())
	}
	packs, err := g.r.storage.ObjectPacks()
	if err != nil {
		g.skip("packs", err.Error())
	}
	for _, p := range packs {
		if err := g.packIDs(p, addID); err != nil {
			g.skip("pack "+p.String(), err.Error())
		}
	}
	for name, why := range g.r.badPacks() {
		g.skip("pack "+name, why)
	}
	return g.read(ctx, ids, fn)
}

func (g *goGit) packIDs(pack plumbing.Hash, add func(plumbing.Hash)) error {
	p := g.r.commonPath("objects", "pack", "pack-"+pack.String()+".idx")
	if err := checkFile(g.r.roots(), p, false); err != nil {
		return err
	}
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	idx := idxfile.NewMemoryIndex()
	if err := idxfile.NewDecoder(f).Decode(idx); err != nil {
		return fmt.Errorf("read pack index: %w", err)
	}
	it, err := idx.EntriesByOffset()
	if err != nil {
		return err
	}
	defer it.Close()
	for {
		e, err := it.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		add(e.Hash)
	}
}

func (g *goGit) read(ctx context.Context, ids []plumbing.Hash, fn func(storedObject) error) error {
	for _, id := range ids {
		if err := ctx.Err(); err != nil {
			return err
		}
		o, err := g.object(id)
		if err != nil {
			g.skip("object "+id.String(), err.Error())
			continue
		}
		if o.data == nil && o.open == nil {
			continue // tree
		}
		if err := fn(o); err != nil {
			return err
		}
	}
	return nil
}

func (g *goGit) object(id plumbing.Hash) (storedObject, error) {
	obj, err := g.r.storage.EncodedObject(plumbing.AnyObject, id)
	if err != nil {
		return storedObject{}, err
	}
	o := storedObject{id: id, typ: obj.Type(), size: obj.Size()}
	switch o.typ {
	case plumbing.BlobObject, plumbing.CommitObject, plumbing.TagObject:
	default:
		return o, nil
	}
	if o.size > g.r.large {
		typ := o.typ
		o.open = func() (io.ReadCloser, error) {
			obj, err := g.r.storage.EncodedObject(typ, id)
			if err != nil {
				return nil, err
			}
			return obj.Reader()
		}
		if typ == plumbing.BlobObject {
			return o, nil
		}
	}
	rd, err := obj.Reader()
	if err != nil {
		return o, err
	}
	defer rd.Close()
	if o.open != nil {
		// A large commit or tag: its header here, its message streamed
		// (see largeMessage).
		o.data, o.release = getBuf(int(min(o.size, maxHeaderPrefix)))
		if _, err := io.ReadFull(rd, o.data); err != nil {
			o.release()
			return o, fmt.Errorf("read: %w", err)
		}
		return o, nil
	}
	o.data, o.release = getBuf(int(o.size))
	if _, err := io.ReadFull(rd, o.data); err != nil {
		o.release()
		return o, fmt.Errorf("read: %w", err)
	}
	return o, nil
}

func (g *goGit) resolve(ctx context.Context, rev string) (plumbing.Hash, error) {
	h, err := g.r.repo.ResolveRevision(plumbing.Revision(rev))
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("unknown revision %q", rev)
	}
	for range 32 {
		obj, err := g.r.storage.EncodedObject(plumbing.AnyObject, *h)
		if err != nil {
			return plumbing.ZeroHash, fmt.Errorf("revision %q: %w", rev, err)
		}
		switch obj.Type() {
		case plumbing.CommitObject:
			return *h, nil
		case plumbing.TagObject:
			t, err := tagTarget(obj)
			if err != nil {
				return plumbing.ZeroHash, fmt.Errorf("revision %q: %w", rev, err)
			}
			h = &t
		default:
			return plumbing.ZeroHash, fmt.Errorf("revision %q is not a commit", rev)
		}
	}
	return plumbing.ZeroHash, fmt.Errorf("revision %q: tag chain too long", rev)
}

// commit reads and parses one commit; a shallow boundary has no parents.
func (g *goGit) commit(h plumbing.Hash) (rawCommit, error) {
	obj, err := g.r.storage.EncodedObject(plumbing.CommitObject, h)
	if err != nil {
		return rawCommit{}, err
	}
	rd, err := obj.Reader()
	if err != nil {
		return rawCommit{}, err
	}
	defer rd.Close()
	// The header only: a message can be of any size, and the walk needs
	// the parents and the tree.
	header, complete, err := readHeader(rd, maxWalkHeader)
	if err != nil {
		return rawCommit{}, err
	}
	if !complete && obj.Size() > maxWalkHeader {
		return rawCommit{}, fmt.Errorf("commit header larger than %d bytes", maxWalkHeader)
	}
	c := parseCommit(h.String(), header)
	c.Message = nil
	if g.shallow[c.ID] {
		c.Parents = nil
	}
	return c, nil
}

// walk visits each selected commit once, depth first from the tips.
func (g *goGit) walk(ctx context.Context, spec walkSpec, fn func(commitMeta, []entry) error) error {
	excluded := map[plumbing.Hash]bool{}
	if err := g.ancestors(ctx, spec.exclude, func(h plumbing.Hash, _ rawCommit) error {
		excluded[h] = true
		return nil
	}, nil); err != nil {
		return err
	}
	tips := append([]plumbing.Hash{}, spec.include...)
	if spec.all {
		tips = append(tips, g.refs().commits...)
	}
	if spec.reflog {
		tips = append(tips, g.r.reflogTips(g.skip)...)
	}
	var es []entry
	return g.ancestors(ctx, tips, func(h plumbing.Hash, c rawCommit) error {
		es = es[:0]
		if !spec.noDiff {
			parents := make([]plumbing.Hash, len(c.Parents))
			for i, p := range c.Parents {
				pc, err := g.commit(p)
				if err != nil {
					g.skip("commit "+p.String(), err.Error())
					continue
				}
				parents[i] = pc.Tree
			}
			var err error
			if es, err = g.diff(c.Tree, parents, "", es); err != nil {
				g.skip("commit "+c.ID, err.Error())
			}
		}
		return fn(c.commitMeta, es)
	}, excluded)
}

// ancestors calls fn for every commit reachable from tips, stopping at
// commits in stop. Missing commits are skipped (reported), not fatal.
func (g *goGit) ancestors(ctx context.Context, tips []plumbing.Hash, fn func(plumbing.Hash, rawCommit) error, stop map[plumbing.Hash]bool) error {
	seen := map[plumbing.Hash]bool{}
	stack := append([]plumbing.Hash{}, tips...)
	for len(stack) > 0 {
		if err := ctx.Err(); err != nil {
			return err
		}
		h := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if seen[h] || stop[h] {
			continue
		}
		seen[h] = true
		c, err := g.commit(h)
		if err != nil {
			if !errors.Is(err, plumbing.ErrObjectNotFound) || len(tips) > 0 {
				g.skip("commit "+h.String(), err.Error())
			}
			continue
		}
		if err := fn(h, c); err != nil {
			return err
		}
		for i := len(c.Parents) - 1; i >= 0; i-- {
			if p := c.Parents[i]; !seen[p] {
				stack = append(stack, p)
			}
		}
	}
	return nil
}

// diff appends the blobs of tree that no parent tree has at the same path,
// descending only into subtrees that differ from every parent's.
func (g *goGit) diff(tree plumbing.Hash, parents []plumbing.Hash, prefix string, out []entry) ([]entry, error) {
	t, err := object.GetTree(g.r.storage, tree)
	if err != nil {
		return out, fmt.Errorf("tree %s: %w", tree, err)
	}
	pts := make([]*object.Tree, len(parents))
	for i, p := range parents {
		if p.IsZero() {
			continue
		}
		if pts[i], err = object.GetTree(g.r.storage, p); err != nil {
			return out, fmt.Errorf("tree %s: %w", p, err)
		}
	}
	for _, e := range t.Entries {
		if e.Mode == filemode.Submodule {
			continue
		}
		same := false
		sub := make([]plumbing.Hash, len(pts))
		for i, pt := range pts {
			if pt == nil {
				continue
			}
			pe, err := pt.FindEntry(e.Name)
			if err != nil {
				continue
			}
			if pe.Hash == e.Hash {
				same = true
				break
			}
			if pe.Mode == filemode.Dir {
				sub[i] = pe.Hash
			}
		}
		if same {
			continue
		}
		if e.Mode == filemode.Dir {
			if out, err = g.diff(e.Hash, sub, prefix+e.Name+"/", out); err != nil {
				return out, err
			}
			continue
		}
		out = append(out, entry{path: prefix + e.Name, blob: e.Hash})
	}
	return out, nil
}
