package gitsource

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/atomyx/atomyx-guard/scanner"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/format/index"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// staged scans what the index would commit: every index entry whose blob
// differs from HEAD's at that path (everything, before the first commit).
//
// What changed is found in-process first (stagedInProcess: the index and
// its cache-tree, HEAD's trees along the change, each object checked
// against its id); whatever that cannot answer (an index extension it
// does not know, a split index, a missing or corrupt object) is asked of
// git diff-index, then of go-git, as before. The staged blobs are read
// in-process too; the store reads the rest (large, unreadable here).
func (s *scan) staged(ctx context.Context, eng *scanner.Engine) error {
	path := s.opts.IndexFile
	if path == "" {
		path = filepath.Join(s.repo.GitDir, "index")
	}
	path, err := filepath.Abs(path)
	if err != nil {
		return fmt.Errorf("index file: %w", err)
	}
	err = checkFile(nil, path, false) // a FIFO would block forever
	if errors.Is(err, os.ErrNotExist) && s.opts.IndexFile == "" {
		s.resolved = resolution{intros: map[string][]intro{}, limited: true}
		return nil // nothing was ever staged
	}
	if err != nil {
		return fmt.Errorf("read index: %w", err)
	}
	or := s.repo.newObjReader()
	defer or.close()
	s.resolved = resolution{intros: map[string][]intro{}, limited: true}
	ids, err := s.stagedInProcess(path, or)
	if err != nil {
		// What the in-process reading recorded before it gave up is
		// dropped: the next reading records its own.
		ok := false
		s.resolved.intros, s.stagedFiles = map[string][]intro{}, nil
		if !errors.Is(err, errDeltaLoop) {
			ids, ok = s.stagedByGit(ctx, path)
		}
		if !ok {
			s.resolved.intros, s.stagedFiles = map[string][]intro{}, nil
			if ids, err = s.stagedByIndex(path); err != nil {
				return err
			}
		}
	}
	return s.run(ctx, eng, func(ctx context.Context, st store, fn func(storedObject) error) error {
		rest, err := s.readBlobs(ctx, or, ids, fn)
		if err != nil || len(rest) == 0 {
			return err
		}
		return st.read(ctx, rest, fn)
	})
}

// parallelBlobs is the fewest staged blobs read on two goroutines.
const parallelBlobs = 16

// readBlobs reads the staged blobs in-process and hands each to fn (on
// the calling goroutine), and returns the ids it leaves to the store
// (larger than the large limit, unreadable here). Each blob comes from
// its work-tree file when that still hashes to it (worktree.go), else
// from the object store. A large staged change is read on two
// goroutines, the second with its own object reader.
func (s *scan) readBlobs(ctx context.Context, or *objReader, ids []plumbing.Hash, fn func(storedObject) error) ([]plumbing.Hash, error) {
	type result struct {
		o  storedObject
		ok bool
	}
	wt := s.newWorktreeFiles()
	defer wt.close()
	readOne := func(or *objReader, id plumbing.Hash) result {
		if o, ok := wt.blob(id); ok {
			return result{o: o, ok: true}
		}
		typ, data, release, err := or.read(id, s.repo.large)
		if err != nil {
			return result{o: storedObject{id: id}}
		}
		if typ != plumbing.BlobObject {
			release()
			return result{o: storedObject{id: id}}
		}
		return result{o: storedObject{id: id, typ: typ, size: int64(len(data)), data: data, release: release}, ok: true}
	}
	var rest []plumbing.Hash
	if len(ids) < parallelBlobs || runtime.GOMAXPROCS(0) < 2 {
		for _, id := range ids {
			r := readOne(or, id)
			if !r.ok {
				rest = append(rest, id)
				continue
			}
			if err := fn(r.o); err != nil {
				return nil, err
			}
		}
		return rest, nil
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	out := make(chan result, 8)
	var next atomic.Int64
	var wg sync.WaitGroup
	work := func(or *objReader) {
		defer wg.Done()
		for {
			i := next.Add(1) - 1
			if i >= int64(len(ids)) {
				return
			}
			r := readOne(or, ids[i])
			select {
			case out <- r:
			case <-ctx.Done():
				if r.ok {
					r.o.release()
				}
				return
			}
		}
	}
	second := s.repo.newObjReader()
	wg.Add(2)
	go work(or)
	go work(second)
	go func() {
		wg.Wait()
		second.close()
		close(out)
	}()
	var err error
	for r := range out {
		switch {
		case err != nil:
			if r.ok {
				r.o.release()
			}
		case !r.ok:
			rest = append(rest, r.o.id)
		default:
			if err = fn(r.o); err != nil {
				cancel()
			}
		}
	}
	if err != nil {
		return nil, err
	}
	slices.SortFunc(rest, func(a, b plumbing.Hash) int { return bytes.Compare(a[:], b[:]) })
	return rest, nil
}

// looseReader reads loose objects of the repository's own object
// directory (for objReader), opened through an os.Root of it: a path that
// resolves outside it (a symlinked loose directory or object) is refused
// by the kernel walk, with no symlink resolution of each path here
// (which cost a 200-file hook 3,000 stats). A repository whose objects
// directory is itself a link has none read this way: git reads them.
type looseReader struct {
	objs *os.Root // nil: read nothing
	// raw holds an object's file, rd reads it to zr (reused across
	// objects: zlib.Resetter), br finds the header.
	raw []byte
	rd  bytes.Reader
	zr  io.ReadCloser
	br  *bufio.Reader
}

func (r *Repo) newLooseReader() *looseReader {
	lr := &looseReader{}
	if !r.objectsLinked() {
		lr.objs, _ = os.OpenRoot(r.commonPath("objects"))
	}
	return lr
}

func (lr *looseReader) close() {
	if lr.objs != nil {
		lr.objs.Close()
	}
	if lr.zr != nil {
		lr.zr.Close()
	}
}

// emptyTree is the id git gives the empty tree, which it knows without
// storing it: what an unborn HEAD is compared with.
const emptyTree = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"

// stage records one staged (path, blob) and says whether the blob is new
// to the list of blobs to read.
func (s *scan) stage(name string, h plumbing.Hash) bool {
	id := h.String()
	ins := s.resolved.intros[id]
	for _, in := range ins {
		if in.path == name {
			return false
		}
	}
	s.resolved.intros[id] = append(ins, intro{path: name})
	return len(ins) == 0
}

// stagedByGit lists what the index changes against HEAD with one
// `git diff-index --cached --raw`, in the shadow directory, with
// GIT_INDEX_FILE naming the index: git reads only the index and the trees
// along changed paths (the index's cache-tree tells it which directories
// are unchanged), so the cost follows the staged change rather than the
// repository. The index is data git parses; no setting in it can make git
// run a program (core.fsmonitor is forced off). ok is false when git is
// not there or could not say (a split index, a conflict in progress, a
// HEAD that cannot be read): the go-git reading decides then.
func (s *scan) stagedByGit(ctx context.Context, index string) (ids []plumbing.Hash, ok bool) {
	g, isBin := s.gitBin()
	if !isBin {
		return nil, false
	}
	out, err := g.diffIndex(ctx, index, "HEAD")
	if err != nil {
		if _, herr := s.repo.repo.Head(); !errors.Is(herr, plumbing.ErrReferenceNotFound) {
			return nil, false
		}
		if out, err = g.diffIndex(ctx, index, emptyTree); err != nil {
			return nil, false
		}
	}
	es, ok := parseDiffIndex(out)
	if !ok {
		return nil, false
	}
	for _, e := range es {
		if s.stage(e.path, e.blob) {
			ids = append(ids, e.blob)
		}
	}
	return ids, true
}

// diffIndex runs diff-index --cached against tree with the given index.
func (g *gitBin) diffIndex(ctx context.Context, index, tree string) ([]byte, error) {
	cmd, stop := g.command(ctx, "diff-index", "--cached", "--raw", "-z", "--no-renames", "--no-abbrev",
		"--ignore-submodules=none", "--end-of-options", tree, "--")
	cmd.Env = append(cmd.Env, "GIT_INDEX_FILE="+index)
	errb := g.tail()
	cmd.Stderr = errb
	out, err := cmd.Output()
	if de := stop(); de != nil {
		return nil, de
	}
	if err != nil {
		return nil, fmt.Errorf("diff-index: %s: %w", errb.msg(), err)
	}
	return out, nil
}

// parseDiffIndex reads `diff-index --raw -z` output: ":srcmode dstmode
// srcid dstid status" NUL path NUL, and returns the entries that bring a
// blob HEAD does not have at that path. ok is false on an unmerged entry
// (its stages are read from the index itself) or output it cannot read.
func parseDiffIndex(out []byte) (es []entry, ok bool) {
	toks := bytes.Split(out, []byte{0})
	if len(toks) > 0 && len(toks[len(toks)-1]) == 0 {
		toks = toks[:len(toks)-1]
	}
	if len(toks)%2 != 0 {
		return nil, false
	}
	for i := 0; i < len(toks); i += 2 {
		meta, path := toks[i], toks[i+1]
		f := bytes.Fields(meta)
		if len(f) != 5 || len(meta) == 0 || meta[0] != ':' || len(path) == 0 {
			return nil, false
		}
		if string(f[4]) == "U" {
			return nil, false
		}
		if blob, keep := parseRawEntry(meta); keep {
			es = append(es, entry{path: string(path), blob: blob})
		}
	}
	return es, true
}

// stagedInProcess is stagedByIndex with the in-process reader: the index
// parsed with its cache-tree, HEAD read as git reads it without replace
// refs, every tree checked against its id. Any error means it cannot
// answer as git would (an index parseIndex does not read, a HEAD that is
// not plainly readable, a missing, corrupt or malformed object); the
// caller asks git then. Unlike the go-git reading, a tree that cannot be
// read is never taken for an absent one.
func (s *scan) stagedInProcess(path string, or *objReader) ([]plumbing.Hash, error) {
	b, err := readIndexString(path)
	if err != nil {
		return nil, fmt.Errorf("read index: %w", err)
	}
	es, ct, err := parseIndex(b)
	if err != nil {
		return nil, err
	}
	var root *headTree
	ref, err := s.repo.repo.Head()
	switch {
	case errors.Is(err, plumbing.ErrReferenceNotFound):
		// Unborn: everything staged is new.
	case err != nil:
		return nil, fmt.Errorf("read HEAD: %w", err)
	default:
		typ, data, release, err := or.read(ref.Hash(), s.repo.large)
		if err != nil {
			return nil, err
		}
		tree, ok := commitTree(data)
		release()
		if typ != plumbing.CommitObject || !ok {
			return nil, fmt.Errorf("%w: HEAD is no commit", errObjRead)
		}
		if root, err = or.tree(tree); err != nil {
			return nil, err
		}
	}
	h := &headIndex{r: s.repo, trees: map[string]*headTree{"": root}, strict: true, load: or.tree}
	ids := s.changed(es, ct, h)
	if h.err != nil {
		return nil, h.err
	}
	return ids, nil
}

// commitTree is the tree a commit's content names on its first line.
func commitTree(data []byte) (plumbing.Hash, bool) {
	line, ok := bytes.CutPrefix(data, []byte("tree "))
	if !ok || len(line) < 41 || line[40] != '\n' {
		return plumbing.ZeroHash, false
	}
	return parseHex(line[:40])
}

// tree reads tree id and indexes its entries by name.
func (or *objReader) tree(id plumbing.Hash) (*headTree, error) {
	typ, data, release, err := or.read(id, maxTreeSize)
	if err != nil {
		return nil, err
	}
	defer release()
	if typ != plumbing.TreeObject {
		return nil, fmt.Errorf("%w: %s is no tree", errObjRead, id)
	}
	ents, err := parseTree(data)
	if err != nil {
		return nil, fmt.Errorf("%w: tree %s: %v", errObjRead, id, err)
	}
	if nameTwice(ents) {
		return nil, fmt.Errorf("%w: tree %s names a file and a directory alike", errObjRead, id)
	}
	return &headTree{id: id, ents: ents}, nil
}

// stagedByIndex reads the index and keeps the entries whose blob differs
// from HEAD's at that path, with go-git reading HEAD's trees: the last
// resort, when neither the in-process reader nor git could answer. An
// index parseIndex does not read is decoded with go-git, without the
// cache-tree; a tree go-git cannot read counts as absent (everything
// under it is scanned).
func (s *scan) stagedByIndex(path string) ([]plumbing.Hash, error) {
	es, ct, err := s.readIndex(path)
	if err != nil {
		return nil, err
	}
	load := func(id plumbing.Hash) (*headTree, error) {
		t, err := object.GetTree(s.repo.storage, id)
		if err != nil {
			return nil, err
		}
		ht := &headTree{id: id, ents: make([]treeEntry, 0, len(t.Entries))}
		for _, e := range t.Entries {
			ht.ents = append(ht.ents, treeEntry{name: e.Name, mode: e.Mode, id: e.Hash})
		}
		// In git's order, for find (go-git keeps the object's order).
		slices.SortStableFunc(ht.ents, func(a, b treeEntry) int {
			return treeCompare(a.name, a.mode == filemode.Dir, b.name, b.mode == filemode.Dir)
		})
		return ht, nil
	}
	root, err := s.headRoot(load)
	if err != nil {
		// HEAD's tree cannot be read (a missing object, never fetched):
		// every staged entry counts as new, so nothing staged goes
		// unscanned.
		s.skip("HEAD", err.Error())
		root = nil
	}
	return s.changed(es, ct, &headIndex{r: s.repo, trees: map[string]*headTree{"": root}, load: load}), nil
}

// changed lists the blobs of the index entries that HEAD (h) does not
// have at their path, skipping whole the directories whose cache-tree
// entry is HEAD's tree there, and records each (path, blob).
func (s *scan) changed(es []ixEntry, ct map[string]cachedTree, h *headIndex) []plumbing.Hash {
	var ids []plumbing.Hash
	known := indexTrees(es, ct)
	for i := 0; i < len(es); i++ {
		if n := h.cachedSkip(es, i, ct, known); n > 0 {
			i += n - 1
			continue
		}
		e := es[i]
		if e.mode == filemode.Submodule || e.mode == filemode.Dir || e.hash.IsZero() || e.ita {
			continue
		}
		if h.unchanged(e.name, e.hash) {
			continue
		}
		if s.stage(e.name, e.hash) {
			ids = append(ids, e.hash)
			if e.mode.IsRegular() && e.size > 0 {
				if s.stagedFiles == nil {
					s.stagedFiles = map[plumbing.Hash]stagedFile{}
				}
				s.stagedFiles[e.hash] = stagedFile{path: e.name, size: e.size}
			}
		}
	}
	return ids
}

// readIndex reads the index at path with parseIndex, or, when that does
// not read it, with go-git's decoder (no cache-tree then).
func (s *scan) readIndex(path string) ([]ixEntry, map[string]cachedTree, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("read index: %w", err)
	}
	if es, ct, err := parseIndex(string(b)); err == nil {
		return es, ct, nil
	}
	var idx index.Index
	if err := index.NewDecoder(bytes.NewReader(b)).Decode(&idx); err != nil {
		return nil, nil, fmt.Errorf("read index %s: %w", path, err)
	}
	es := make([]ixEntry, len(idx.Entries))
	for i, e := range idx.Entries {
		es[i] = ixEntry{name: e.Name, mode: e.Mode, hash: e.Hash, ita: e.IntentToAdd, unmerged: e.Stage != 0, size: e.Size}
	}
	return es, nil, nil
}

// cachedSkip returns how many entries from es[i] on lie in a directory
// whose tree, as the index would commit it, is HEAD's tree there, 0 if
// none: the shallowest such directory that es[i] enters (one es[i-1] is
// not in). The ids are known's (indexTrees), or, for an index it does not
// compute, the cache-tree's, whose count must then cover exactly the
// entries under the directory. In a sorted index each directory is
// entered once; an unsorted one only has some tried again.
func (h *headIndex) cachedSkip(es []ixEntry, i int, ct map[string]cachedTree, known map[string]knownTree) int {
	if len(ct) == 0 && len(known) == 0 {
		return 0
	}
	name := es[i].name
	// The directories of name ending before common are es[i-1]'s too.
	common := 0
	if i > 0 {
		prev := es[i-1].name
		for common < min(len(prev), len(name)) && prev[common] == name[common] {
			common++
		}
	}
	// Each directory is a prefix of the name: no string is built.
	for end := 0; ; {
		if i == 0 || end > 0 && end >= common {
			dir := name[:end]
			if known != nil {
				if k, ok := known[dir]; ok && k.start == i && k.count > 0 {
					if id, ok := h.treeID(dir); ok && id == k.id {
						return k.count
					}
				}
			} else if c, ok := ct[dir]; ok && c.entries > 0 && c.entries <= len(es)-i && covers(es[i:], dir, c.entries) {
				if id, ok := h.treeID(dir); ok && id == c.hash {
					return c.entries
				}
			}
		}
		from := end
		if end > 0 {
			from++ // past the '/'
		}
		j := strings.IndexByte(name[from:], '/')
		if j < 0 {
			return 0
		}
		end = from + j
	}
}

// covers reports whether the first n of es, and no more, lie under dir
// ("" holds everything).
func covers(es []ixEntry, dir string, n int) bool {
	if dir == "" {
		return n == len(es)
	}
	for _, e := range es[:n] {
		if !inDir(e.name, dir) {
			return false
		}
	}
	return n == len(es) || !inDir(es[n].name, dir)
}

// inDir reports whether name lies under dir (not "").
func inDir(name, dir string) bool {
	return len(name) > len(dir) && name[len(dir)] == '/' && name[:len(dir)] == dir
}

// headIndex answers "does HEAD hold this blob at this path" one path at a
// time, reading each of HEAD's trees once, on demand, instead of listing
// the whole tree first.
type headIndex struct {
	r     *Repo
	trees map[string]*headTree // by directory ("" the root); nil: none
	load  func(plumbing.Hash) (*headTree, error)
	// strict: a tree that cannot be loaded is an error (err, the first),
	// not an absent tree.
	strict bool
	err    error
	// last is the tree of lastDir.
	last    *headTree
	lastDir string
}

// headTree is one of HEAD's trees, its entries in git's order.
type headTree struct {
	id   plumbing.Hash
	ents []treeEntry
	next int // where find looks first
}

// find is t's entry called name, a directory or not. Index entries come
// in the order of tree entries, so the entry after the last one found is
// tried first.
func (t *headTree) find(name string, dir bool) (treeEntry, bool) {
	if t.next < len(t.ents) {
		if e := t.ents[t.next]; e.name == name && (e.mode == filemode.Dir) == dir {
			t.next++
			return e, true
		}
	}
	i, ok := slices.BinarySearchFunc(t.ents, name, func(e treeEntry, k string) int {
		return treeCompare(e.name, e.mode == filemode.Dir, k, dir)
	})
	if !ok {
		return treeEntry{}, false
	}
	t.next = i + 1
	return t.ents[i], true
}

// nameTwice reports whether ents (in git's order) name a file and a
// directory alike: a malformed tree (git fsck: duplicateEntries) of
// which git may compare either entry with the index.
func nameTwice(ents []treeEntry) bool {
	for _, e := range ents {
		if e.mode != filemode.Dir {
			continue
		}
		if _, ok := slices.BinarySearchFunc(ents, e.name, func(f treeEntry, k string) int {
			return treeCompare(f.name, f.mode == filemode.Dir, k, false)
		}); ok {
			return true
		}
	}
	return false
}

// tree is HEAD's tree at dir, nil when HEAD has none there.
func (h *headIndex) tree(dir string) *headTree {
	if t, ok := h.trees[dir]; ok {
		return t
	}
	parent, name := "", dir
	if i := strings.LastIndexByte(dir, '/'); i >= 0 {
		parent, name = dir[:i], dir[i+1:]
	}
	var t *headTree
	if pt := h.tree(parent); pt != nil {
		if te, ok := pt.find(name, true); ok {
			var err error
			if t, err = h.load(te.id); err != nil && h.strict && h.err == nil {
				h.err = err
			}
			if h.r.onTree != nil {
				h.r.onTree(dir)
			}
		}
	}
	h.trees[dir] = t
	return t
}

// treeID is the id of HEAD's tree at dir; ok is false when HEAD has none
// there.
func (h *headIndex) treeID(dir string) (id plumbing.Hash, ok bool) {
	if dir == "" {
		if t := h.tree(""); t != nil {
			return t.id, true
		}
		return id, false
	}
	parent, name := "", dir
	if i := strings.LastIndexByte(dir, '/'); i >= 0 {
		parent, name = dir[:i], dir[i+1:]
	}
	pt := h.tree(parent)
	if pt == nil {
		return id, false
	}
	te, ok := pt.find(name, true)
	if !ok {
		return id, false
	}
	return te.id, true
}

// unchanged reports whether HEAD has blob id at path.
func (h *headIndex) unchanged(path string, id plumbing.Hash) bool {
	dir, name := "", path
	if i := strings.LastIndexByte(path, '/'); i >= 0 {
		dir, name = path[:i], path[i+1:]
	}
	// Entries come by directory: the last one's tree is most often this.
	t := h.last
	if dir != h.lastDir || t == nil {
		t = h.tree(dir)
		h.last, h.lastDir = t, dir
	}
	if t == nil {
		return false
	}
	te, ok := t.find(name, false)
	return ok && te.id == id
}

// headRoot is HEAD's tree as load reads it, nil when HEAD is unborn.
func (s *scan) headRoot(load func(plumbing.Hash) (*headTree, error)) (*headTree, error) {
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
	t, err := load(c.TreeHash)
	if err != nil {
		return nil, fmt.Errorf("read HEAD tree: %w", err)
	}
	return t, nil
}
