package gitsource

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/atomyx/atomyx-guard/scanner"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/format/index"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// staged scans what the index would commit: every index entry whose blob
// differs from HEAD's at that path (everything, before the first commit).
func (s *scan) staged(ctx context.Context, eng *scanner.Engine) error {
	path := s.opts.IndexFile
	if path == "" {
		path = filepath.Join(s.repo.GitDir, "index")
	}
	path, err := filepath.Abs(path)
	if err != nil {
		return fmt.Errorf("index file: %w", err)
	}
	s.resolved = resolution{intros: map[string][]intro{}, limited: true}
	err = checkFile(nil, path, false) // a FIFO would block forever
	if errors.Is(err, os.ErrNotExist) && s.opts.IndexFile == "" {
		return nil // nothing was ever staged
	}
	if err != nil {
		return fmt.Errorf("read index: %w", err)
	}
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("read index: %w", err)
	}
	defer f.Close()
	var idx index.Index
	if err := index.NewDecoder(f).Decode(&idx); err != nil {
		return fmt.Errorf("read index %s: %w", path, err)
	}
	inHead, err := s.headLookup(ctx)
	if err != nil {
		return err
	}
	var ids []plumbing.Hash
	for _, e := range idx.Entries {
		if e.Mode == filemode.Submodule || e.Mode == filemode.Dir || e.Hash.IsZero() || e.IntentToAdd {
			continue
		}
		if h, ok := inHead(e.Name); ok && h == e.Hash {
			continue
		}
		id := e.Hash.String()
		if len(s.resolved.intros[id]) == 0 {
			ids = append(ids, e.Hash)
		}
		dup := false
		for _, in := range s.resolved.intros[id] {
			dup = dup || in.path == e.Name
		}
		if !dup {
			s.resolved.intros[id] = append(s.resolved.intros[id], intro{path: e.Name})
		}
	}
	return s.run(ctx, eng, func(ctx context.Context, st store, fn func(storedObject) error) error {
		return st.read(ctx, ids, fn)
	})
}

// headLookup returns the blob id HEAD's tree has at a path. With the git
// binary it lists HEAD's tree with one ls-tree: go-git would first index
// every object of the pack to read one tree, a cost that grows with the
// history rather than with the staged change (seconds in a repository of
// 200k commits). go-git is the fallback.
func (s *scan) headLookup(ctx context.Context) (func(path string) (plumbing.Hash, bool), error) {
	if g, ok := s.st.(*gitBin); ok {
		if m, err := headBlobs(ctx, g); err == nil {
			return func(p string) (plumbing.Hash, bool) { h, ok := m[p]; return h, ok }, nil
		}
		// An unborn HEAD, or git could not say: go-git decides.
	}
	head, err := s.headTree()
	if err != nil {
		// HEAD's tree cannot be read (a missing object, never fetched):
		// every staged entry counts as new, so nothing staged goes
		// unscanned.
		s.skip("HEAD", err.Error())
		head = nil
	}
	return func(p string) (plumbing.Hash, bool) {
		if head == nil {
			return plumbing.ZeroHash, false
		}
		te, err := head.FindEntry(p)
		if err != nil {
			return plumbing.ZeroHash, false
		}
		return te.Hash, true
	}, nil
}

// headBlobs maps every path of HEAD's tree to its blob id.
func headBlobs(ctx context.Context, g *gitBin) (map[string]plumbing.Hash, error) {
	cmd, stop := g.command(ctx, "ls-tree", "-r", "-z", "--full-tree", "HEAD")
	defer stop()
	errb := g.tail()
	cmd.Stderr = errb
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("ls-tree HEAD: %s", errb.msg())
	}
	m := map[string]plumbing.Hash{}
	for _, rec := range bytes.Split(out, []byte{0}) {
		// "<mode> SP <type> SP <id> TAB <path>"
		meta, path, ok := bytes.Cut(rec, []byte{'\t'})
		if !ok {
			continue
		}
		f := bytes.Fields(meta)
		if len(f) != 3 || string(f[1]) != "blob" {
			continue
		}
		if h, ok := parseHex(f[2]); ok {
			m[string(path)] = h
		}
	}
	return m, nil
}

// headTree is HEAD's tree, nil when HEAD is unborn.
func (s *scan) headTree() (*object.Tree, error) {
	ref, err := s.repo.repo.Head()
	if errors.Is(err, plumbing.ErrReferenceNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read HEAD: %w", err)
	}
	c, err := object.GetCommit(s.repo.storage, ref.Hash())
	if err != nil {
		return nil, fmt.Errorf("read HEAD commit: %w", err)
	}
	t, err := c.Tree()
	if err != nil {
		return nil, fmt.Errorf("read HEAD tree: %w", err)
	}
	return t, nil
}
