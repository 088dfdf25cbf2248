package gitsource

import (
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
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) && s.opts.IndexFile == "" {
		return nil // nothing was ever staged
	}
	if err != nil {
		return fmt.Errorf("read index: %w", err)
	}
	defer f.Close()
	var idx index.Index
	if err := index.NewDecoder(f).Decode(&idx); err != nil {
		return fmt.Errorf("read index %s: %w", path, err)
	}
	head, err := s.headTree()
	if err != nil {
		return err
	}
	var ids []plumbing.Hash
	for _, e := range idx.Entries {
		if e.Mode == filemode.Submodule || e.Mode == filemode.Dir || e.Hash.IsZero() || e.IntentToAdd {
			continue
		}
		if head != nil {
			if te, err := head.FindEntry(e.Name); err == nil && te.Hash == e.Hash {
				continue
			}
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
