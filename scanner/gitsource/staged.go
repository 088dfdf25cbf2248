package gitsource

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha1"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/atomyx/atomyx-guard/scanner"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/format/index"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/klauspost/compress/zlib"
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
	ids, ok := s.stagedByGit(ctx, path)
	if !ok {
		if ids, err = s.stagedByIndex(path); err != nil {
			return err
		}
	}
	return s.run(ctx, eng, func(ctx context.Context, st store, fn func(storedObject) error) error {
		// What git add just wrote is loose: read it directly, sparing
		// the hook a git process (or go-git's object lookup); the store
		// reads the rest.
		lr := s.repo.newLooseReader()
		defer lr.close()
		var rest []plumbing.Hash
		for _, id := range ids {
			o, ok := lr.blob(id)
			if !ok {
				rest = append(rest, id)
				continue
			}
			if err := fn(o); err != nil {
				return err
			}
		}
		if len(rest) == 0 {
			return nil
		}
		return st.read(ctx, rest, fn)
	})
}

// looseReader reads blobs stored as loose objects of the repository's
// own object directory, opened through an os.Root of it: a path that
// resolves outside it (a symlinked loose directory or object) is refused
// by the kernel walk, with no symlink resolution of each path here
// (which cost a 200-file hook 3,000 stats). A repository whose objects
// directory is itself a link has none read this way: the store reads them.
type looseReader struct {
	objs  *os.Root // nil: read nothing
	large int64
	zr    io.ReadCloser // reused across objects (zlib.Resetter)
	br    *bufio.Reader
}

func (r *Repo) newLooseReader() *looseReader {
	lr := &looseReader{large: r.large}
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

// blob reads loose object id when it is a regular file in the objects
// directory, a whole blob not larger than the large limit, whose content
// hashes to id; ok is false otherwise (packed, corrupt, anything else:
// the store decides).
func (lr *looseReader) blob(id plumbing.Hash) (o storedObject, ok bool) {
	if lr.objs == nil {
		return o, false
	}
	hex := id.String()
	// O_NONBLOCK: opening a FIFO must not block; it is refused below.
	f, err := lr.objs.OpenFile(hex[:2]+"/"+hex[2:], os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return o, false
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		return o, false
	}
	if lr.zr == nil {
		if lr.zr, err = zlib.NewReader(f); err != nil {
			lr.zr = nil
			return o, false
		}
		lr.br = bufio.NewReaderSize(lr.zr, 64)
	} else if err := lr.zr.(zlib.Resetter).Reset(f, nil); err != nil {
		return o, false
	} else {
		lr.br.Reset(lr.zr)
	}
	// "blob <size>" NUL, then the content.
	hdr, err := lr.br.ReadSlice(0)
	size, perr := strconv.ParseInt(strings.TrimPrefix(string(hdr[:max(len(hdr)-1, 0)]), "blob "), 10, 64)
	if err != nil || !bytes.HasPrefix(hdr, []byte("blob ")) || perr != nil || size < 0 || size > lr.large {
		return o, false
	}
	h := sha1.New()
	h.Write(hdr)
	data, release := getBuf(int(size))
	if _, err := io.ReadFull(lr.br, data); err != nil {
		release()
		return o, false
	}
	h.Write(data)
	if !bytes.Equal(h.Sum(nil), id[:]) {
		release()
		return o, false
	}
	return storedObject{id: id, typ: plumbing.BlobObject, size: size, data: data, release: release}, true
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
	g, isBin := s.st.(*gitBin)
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

// stagedByIndex reads the index and keeps the entries whose blob differs
// from HEAD's at that path. HEAD's trees are read lazily, each once, and
// a directory whose cache-tree entry is HEAD's tree there is skipped
// whole (parseIndex). An index parseIndex does not read is decoded with
// go-git, without the cache-tree.
func (s *scan) stagedByIndex(path string) ([]plumbing.Hash, error) {
	es, ct, err := s.readIndex(path)
	if err != nil {
		return nil, err
	}
	head, err := s.headTree()
	if err != nil {
		// HEAD's tree cannot be read (a missing object, never fetched):
		// every staged entry counts as new, so nothing staged goes
		// unscanned.
		s.skip("HEAD", err.Error())
		head = nil
	}
	h := newHeadIndex(s.repo, head)
	var ids []plumbing.Hash
	seen := map[string]bool{} // directories whose cache-tree entry was tried
	for i := 0; i < len(es); i++ {
		if n := h.cachedSkip(es, i, ct, seen); n > 0 {
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
		}
	}
	return ids, nil
}

// readIndex reads the index at path with parseIndex, or, when that does
// not read it, with go-git's decoder (no cache-tree then).
func (s *scan) readIndex(path string) ([]ixEntry, map[string]cachedTree, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("read index: %w", err)
	}
	if es, ct, err := parseIndex(b); err == nil {
		return es, ct, nil
	}
	var idx index.Index
	if err := index.NewDecoder(bytes.NewReader(b)).Decode(&idx); err != nil {
		return nil, nil, fmt.Errorf("read index %s: %w", path, err)
	}
	es := make([]ixEntry, len(idx.Entries))
	for i, e := range idx.Entries {
		es[i] = ixEntry{name: e.Name, mode: e.Mode, hash: e.Hash, ita: e.IntentToAdd}
	}
	return es, nil, nil
}

// cachedSkip returns how many entries from es[i] on lie in a directory
// whose cache-tree entry is HEAD's tree at that directory, 0 if none:
// the shallowest such directory that starts at es[i] and was not tried
// before. The entry's count must cover exactly the entries under the
// directory, or it is not trusted.
func (h *headIndex) cachedSkip(es []ixEntry, i int, ct map[string]cachedTree, seen map[string]bool) int {
	if len(ct) == 0 {
		return 0
	}
	name := es[i].name
	for dir, rest := "", name; ; {
		if !seen[dir] {
			seen[dir] = true
			if c, ok := ct[dir]; ok && c.entries > 0 && c.entries <= len(es)-i && covers(es[i:], dir, c.entries) {
				if id, ok := h.treeID(dir); ok && id == c.hash {
					return c.entries
				}
			}
		}
		j := strings.IndexByte(rest, '/')
		if j < 0 {
			return 0
		}
		if dir != "" {
			dir += "/"
		}
		dir += rest[:j]
		rest = rest[j+1:]
	}
}

// covers reports whether the first n of es, and no more, lie under dir
// ("" holds everything).
func covers(es []ixEntry, dir string, n int) bool {
	if dir == "" {
		return n == len(es)
	}
	prefix := dir + "/"
	for _, e := range es[:n] {
		if !strings.HasPrefix(e.name, prefix) {
			return false
		}
	}
	return n == len(es) || !strings.HasPrefix(es[n].name, prefix)
}

// headIndex answers "does HEAD hold this blob at this path" one path at a
// time, reading each of HEAD's trees once, on demand, instead of listing
// the whole tree first. (The index's cache-tree could spare the trees of
// unchanged directories, but go-git drops its invalidated entries, which
// loses the extension's shape.)
type headIndex struct {
	r     *Repo
	trees map[string]*object.Tree // by directory ("" the root); nil: none
}

func newHeadIndex(r *Repo, head *object.Tree) *headIndex {
	return &headIndex{r: r, trees: map[string]*object.Tree{"": head}}
}

// tree is HEAD's tree at dir, nil when HEAD has none there.
func (h *headIndex) tree(dir string) *object.Tree {
	if t, ok := h.trees[dir]; ok {
		return t
	}
	parent, name := "", dir
	if i := strings.LastIndexByte(dir, '/'); i >= 0 {
		parent, name = dir[:i], dir[i+1:]
	}
	var t *object.Tree
	if pt := h.tree(parent); pt != nil {
		if te, err := pt.FindEntry(name); err == nil && te.Mode == filemode.Dir {
			t, _ = object.GetTree(h.r.storage, te.Hash)
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
			return t.Hash, true
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
	te, err := pt.FindEntry(name)
	if err != nil || te.Mode != filemode.Dir {
		return id, false
	}
	return te.Hash, true
}

// unchanged reports whether HEAD has blob id at path.
func (h *headIndex) unchanged(path string, id plumbing.Hash) bool {
	dir, name := "", path
	if i := strings.LastIndexByte(path, '/'); i >= 0 {
		dir, name = path[:i], path[i+1:]
	}
	t := h.tree(dir)
	if t == nil {
		return false
	}
	te, err := t.FindEntry(name)
	return err == nil && te.Mode != filemode.Dir && te.Hash == id
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
