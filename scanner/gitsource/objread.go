package gitsource

import (
	"bufio"
	"bytes"
	"crypto/sha1"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/klauspost/compress/zlib"
)

// objReader reads single objects by id, in-process, for the pre-commit
// hook: HEAD's commit, the trees along the staged change, the staged
// blobs. Spawning git for them (diff-index, cat-file) cost the hook a
// third of its run, most of it process start. Loose objects are read
// through an os.Root of the objects directory (looseReader); packed ones
// from the packs' indexes and mapped data, deltas resolved here (pack.go).
// Every object read is checked against its id (SHA-1 of its type, size
// and content), so a corrupt or lying pack or index can make an object
// unreadable here, never make it read as another: any error sends the
// caller to git.
//
// The pack indexes are not validated whole as the full scan's reader does
// (parseIdx checks every id and offset: milliseconds for a pack of
// hundreds of thousands of objects, for the few objects a hook reads):
// the fan-out and sizes are checked when an index is opened, and each
// looked-up entry's offset when it is used. An index whose ids are not
// sorted can only make a lookup miss, which is an error too.
type objReader struct {
	lr *looseReader
	// packs are opened on the first packed read; packErr says why they
	// cannot be read.
	packs   []*idxPack
	opened  bool
	packErr error
	large   int64
	w       packWorker // its inflate, with reused state
	// bases caches delta bases (cached counts their bytes).
	bases  map[packPlace]cachedBase
	cached int64
}

// idxPack is one pack and its index, mapped.
type idxPack struct {
	name string
	x    *packIndex
	data []byte
	// unmap releases both mappings.
	unmap func()
}

// errObjRead says the in-process reader cannot answer; git (or go-git)
// reads instead.
var errObjRead = errors.New("object not read in-process")

// errNotPacked says no pack holds an object.
var errNotPacked = fmt.Errorf("%w: not in a pack", errObjRead)

// errDeltaLoop says an object's delta chain comes back to itself: git
// follows such a chain until its deadline, so only go-git is asked then.
var errDeltaLoop = errors.New("delta chain loops")

// maxTreeSize bounds a tree read here (git's largest real trees are a few
// MiB).
const maxTreeSize = 64 << 20

func (r *Repo) newObjReader() *objReader {
	return &objReader{lr: r.newLooseReader(), large: r.large}
}

func (or *objReader) close() {
	or.lr.close()
	for _, p := range or.packs {
		p.unmap()
	}
	if or.w.fr != nil {
		or.w.fr.Close()
	}
}

// read returns object id's type and content, at most limit bytes, checked
// against id. A pack that shrinks under its mapping faults: that is an
// error, not a crash.
func (or *objReader) read(id plumbing.Hash, limit int64) (typ plumbing.ObjectType, data []byte, release func(), err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			if _, ok := r.(interface{ Addr() uintptr }); !ok {
				panic(r)
			}
			err = fmt.Errorf("%w: a pack changed while it was read", errObjRead)
		}
	}()
	// The packs first: a miss there is a binary search in memory, one in
	// the loose objects two system calls.
	p, off, err := or.find(id)
	if errors.Is(err, errNotPacked) {
		return or.loose(id, limit)
	}
	if err != nil {
		return 0, nil, nil, err
	}
	t, data, release, err := or.packed(p, off, limit)
	if err != nil {
		return 0, nil, nil, err
	}
	typ = packType(t)
	if !checkID(id, typ, data) {
		release()
		return 0, nil, nil, fmt.Errorf("%w: %s does not hash to its id", errObjRead, id)
	}
	return typ, data, release, nil
}

// checkID reports whether an object of type typ and content data has
// the given id.
func checkID(id plumbing.Hash, typ plumbing.ObjectType, data []byte) bool {
	h := sha1.New()
	h.Write(typ.Bytes())
	h.Write([]byte{' '})
	h.Write(strconv.AppendInt(nil, int64(len(data)), 10))
	h.Write([]byte{0})
	h.Write(data)
	return bytes.Equal(h.Sum(nil), id[:])
}

func packType(t int) plumbing.ObjectType {
	switch t {
	case packCommit:
		return plumbing.CommitObject
	case packTree:
		return plumbing.TreeObject
	case packBlob:
		return plumbing.BlobObject
	case packTag:
		return plumbing.TagObject
	}
	return plumbing.InvalidObject
}

// loose reads loose object id.
func (or *objReader) loose(id plumbing.Hash, limit int64) (plumbing.ObjectType, []byte, func(), error) {
	lr := or.lr
	if lr.objs == nil {
		return 0, nil, nil, fmt.Errorf("%w: objects directory not plain", errObjRead)
	}
	hex := id.String()
	// O_NONBLOCK: opening a FIFO must not block; it is refused below.
	f, err := lr.objs.OpenFile(hex[:2]+"/"+hex[2:], os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return 0, nil, nil, fmt.Errorf("%w: loose %s: %v", errObjRead, id, err)
	}
	defer f.Close()
	typ, data, release, err := lr.object(f, limit)
	if err != nil {
		return 0, nil, nil, fmt.Errorf("%w: loose %s: %v", errObjRead, id, err)
	}
	if !checkID(id, typ, data) {
		release()
		return 0, nil, nil, fmt.Errorf("%w: loose %s does not hash to its id", errObjRead, id)
	}
	return typ, data, release, nil
}

// object inflates the loose object f: "<type> <size>" NUL, then the
// content, at most limit bytes of it.
func (lr *looseReader) object(f *os.File, limit int64) (plumbing.ObjectType, []byte, func(), error) {
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		return 0, nil, nil, errNotRegular
	}
	// The compressed file is read whole, with one read, and inflated from
	// memory: half the cost of inflating from the file through a buffered
	// reader. zlib adds a few bytes to what it cannot compress.
	if fi.Size() > limit+limit/16+4096 {
		return 0, nil, nil, fmt.Errorf("object file of %d bytes, more than %d", fi.Size(), limit)
	}
	if int64(cap(lr.raw)) < fi.Size() {
		lr.raw = make([]byte, fi.Size())
	}
	raw := lr.raw[:fi.Size()]
	if _, err := io.ReadFull(f, raw); err != nil {
		return 0, nil, nil, err
	}
	lr.rd.Reset(raw)
	if lr.zr == nil {
		zr, err := zlib.NewReader(&lr.rd)
		if err != nil {
			return 0, nil, nil, err
		}
		lr.zr = zr
		lr.br = bufio.NewReaderSize(lr.zr, 64)
	} else if err := lr.zr.(zlib.Resetter).Reset(&lr.rd, nil); err != nil {
		return 0, nil, nil, err
	} else {
		lr.br.Reset(lr.zr)
	}
	hdr, err := lr.br.ReadSlice(0)
	if err != nil {
		return 0, nil, nil, fmt.Errorf("object header: %v", err)
	}
	ts, ss, ok := strings.Cut(string(hdr[:len(hdr)-1]), " ")
	typ, terr := plumbing.ParseObjectType(ts)
	size, serr := strconv.ParseInt(ss, 10, 64)
	if !ok || terr != nil || serr != nil || size < 0 || ss != strconv.FormatInt(size, 10) {
		return 0, nil, nil, errors.New("malformed object header")
	}
	if size > limit {
		return 0, nil, nil, fmt.Errorf("object of %d bytes, more than %d", size, limit)
	}
	data, release := getBuf(int(size))
	if _, err := io.ReadFull(lr.br, data); err != nil {
		release()
		return 0, nil, nil, fmt.Errorf("truncated object: %v", err)
	}
	return typ, data, release, nil
}

// openPacks maps every pack of the objects directory that has an index,
// through the root (nothing outside it is read), and checks each index's
// fan-out and size and the pack's header against it.
func (or *objReader) openPacks() error {
	or.opened = true
	root := or.lr.objs
	if root == nil {
		return fmt.Errorf("%w: objects directory not plain", errObjRead)
	}
	d, err := root.Open("pack")
	if errors.Is(err, os.ErrNotExist) {
		return nil // no packs: every object is loose
	}
	if err != nil {
		return fmt.Errorf("%w: %v", errObjRead, err)
	}
	names, err := d.Readdirnames(-1)
	d.Close()
	if err != nil {
		return fmt.Errorf("%w: %v", errObjRead, err)
	}
	slices.Sort(names)
	for _, n := range names {
		base, ok := strings.CutSuffix(n, ".idx")
		if !ok || !slices.Contains(names, base+".pack") {
			continue
		}
		if len(or.packs) == maxPacks {
			return fmt.Errorf("%w: more than %d packs", errObjRead, maxPacks)
		}
		p, err := openIdxPack(root, "pack/"+base)
		if err != nil {
			return fmt.Errorf("%w: %s: %v", errObjRead, base, err)
		}
		or.packs = append(or.packs, p)
	}
	return nil
}

func openIdxPack(root *os.Root, base string) (*idxPack, error) {
	idx, unmapIdx, err := mapInRoot(root, base+".idx")
	if err != nil {
		return nil, err
	}
	data, unmapPack, err := mapInRoot(root, base+".pack")
	if err != nil {
		unmapIdx()
		return nil, err
	}
	p := &idxPack{name: base, data: data, unmap: func() { unmapIdx(); unmapPack() }}
	if p.x, err = openIdx(idx, int64(len(data))); err == nil {
		err = checkPackHeader(data, p.x)
	}
	if err != nil {
		p.unmap()
		return nil, err
	}
	return p, nil
}

// mapInRoot maps the regular file name of root read-only.
func mapInRoot(root *os.Root, name string) ([]byte, func(), error) {
	f, err := root.OpenFile(name, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	return mapOpened(f)
}

// find locates id in the packs (the first that holds it: any copy that
// hashes to id is the object) and checks the entry's offset.
func (or *objReader) find(id plumbing.Hash) (*idxPack, int64, error) {
	if !or.opened {
		or.packErr = or.openPacks()
	}
	if or.packErr != nil {
		return nil, 0, or.packErr
	}
	for _, p := range or.packs {
		i := p.x.find(id[:])
		if i < 0 {
			continue
		}
		off, ok := p.x.offset(i)
		if !ok || off < packHeader || off >= int64(len(p.data))-packSum {
			return nil, 0, fmt.Errorf("%w: %s: offset of %s outside the pack", errObjRead, p.name, id)
		}
		return p, off, nil
	}
	return nil, 0, errNotPacked
}

// packed reads the object at off in p, resolving its delta chain: the
// chain is walked down to its base recording each delta's place (a
// visited set stops a cycle, maxDeltaDepth a long chain), then the deltas
// are inflated and applied one at a time on the way up, so that only a
// base and its result are held. A reference delta's base may lie in any
// pack or be loose.
func (or *objReader) packed(p *idxPack, off int64, limit int64) (typ int, data []byte, release func(), err error) {
	type link struct {
		packPlace
		h entryHeader
	}
	var chain []link
	seen := map[packPlace]bool{}
	// Deltas' results (and so their bases) may be as large as the large
	// limit; only the object asked for is held to limit.
	inner := max(limit, or.large)
	for {
		l := link{packPlace: packPlace{p, off}}
		if seen[l.packPlace] {
			return 0, nil, nil, fmt.Errorf("%w: %s: %w", errObjRead, p.name, errDeltaLoop)
		}
		seen[l.packPlace] = true
		if len(chain) > maxDeltaDepth {
			return 0, nil, nil, fmt.Errorf("%w: delta chain deeper than %d", errObjRead, maxDeltaDepth)
		}
		if c, ok := or.bases[l.packPlace]; ok && len(chain) > 0 {
			typ, data, release = c.typ, c.data, func() {}
			break
		}
		h, err := parseEntryHeader(p.data[off:len(p.data)-packSum], off)
		if err != nil {
			return 0, nil, nil, fmt.Errorf("%w: %s: %v", errObjRead, p.name, err)
		}
		l.h = h
		if h.typ == packOfsDelta || h.typ == packRefDelta {
			if h.size > 2*inner+64 {
				return 0, nil, nil, fmt.Errorf("%w: delta of %d bytes", errObjRead, h.size)
			}
			chain = append(chain, l)
			if h.typ == packOfsDelta {
				off = h.baseOff
				continue
			}
			var base plumbing.Hash
			copy(base[:], h.baseID)
			bp, boff, ferr := or.find(base)
			if ferr == nil {
				p, off = bp, boff
				continue
			}
			// A base that is loose (or nowhere: an error).
			t, d, rel, lerr := or.loose(base, inner)
			if lerr != nil {
				return 0, nil, nil, fmt.Errorf("%w: delta base %s: %v", errObjRead, base, ferr)
			}
			typ, data, release = packTypeOf(t), d, rel
			break
		}
		size := limit
		if len(chain) > 0 {
			size = inner
		}
		if h.size > size {
			return 0, nil, nil, fmt.Errorf("%w: object of %d bytes, more than %d", errObjRead, h.size, size)
		}
		data, release = getBuf(int(h.size))
		if err := or.w.inflate(p.data[off+int64(h.hdrLen):len(p.data)-packSum], data); err != nil {
			release()
			return 0, nil, nil, fmt.Errorf("%w: %s: %v", errObjRead, p.name, err)
		}
		typ = h.typ
		if len(chain) > 0 {
			or.keep(l.packPlace, typ, data, &release)
		}
		break
	}
	for i := len(chain) - 1; i >= 0; i-- {
		l := chain[i]
		d := or.delta(int(l.h.size))
		if err := or.w.inflate(l.p.data[l.off+int64(l.h.hdrLen):len(l.p.data)-packSum], d); err != nil {
			release()
			return 0, nil, nil, fmt.Errorf("%w: %s: %v", errObjRead, l.p.name, err)
		}
		src, dst, ops, err := deltaSizes(d)
		switch {
		case err != nil:
		case src != int64(len(data)):
			err = fmt.Errorf("%w: delta base size", errPackFormat)
		case dst > inner || (i == 0 && dst > limit):
			err = fmt.Errorf("delta result of %d bytes", dst)
		}
		if err != nil {
			release()
			return 0, nil, nil, fmt.Errorf("%w: %s: %v", errObjRead, l.p.name, err)
		}
		out, put := getBuf(int(dst))
		err = applyDelta(data, ops, out)
		release()
		if err != nil {
			put()
			return 0, nil, nil, fmt.Errorf("%w: %s: %v", errObjRead, l.p.name, err)
		}
		data, release = out, put
		if i > 0 {
			or.keep(l.packPlace, typ, data, &release)
		}
	}
	return typ, data, release, nil
}

// packPlace is where an object lies in a pack.
type packPlace struct {
	p   *idxPack
	off int64
}

// cachedBase is a delta base kept for the next chains through it.
type cachedBase struct {
	typ  int
	data []byte
}

// maxBaseCache bounds the bytes of delta bases kept. The trees along a
// change share their chains' bases (a pack deltas a directory's tree
// against its older versions): kept, each is inflated once, as git's
// delta base cache does.
const maxBaseCache = 16 << 20

// keep caches a delta base while the budget allows; the cache then owns
// its buffer (*release becomes a no-op).
func (or *objReader) keep(at packPlace, typ int, data []byte, release *func()) {
	if or.cached+int64(len(data)) > maxBaseCache {
		return
	}
	if or.bases == nil {
		or.bases = map[packPlace]cachedBase{}
	}
	or.bases[at] = cachedBase{typ: typ, data: data}
	or.cached += int64(len(data))
	*release = func() {}
}

// delta is the scratch buffer a delta's instructions are inflated into.
func (or *objReader) delta(n int) []byte {
	if cap(or.w.delta) < n {
		or.w.delta = make([]byte, n)
	}
	return or.w.delta[:n]
}

func packTypeOf(t plumbing.ObjectType) int {
	switch t {
	case plumbing.CommitObject:
		return packCommit
	case plumbing.TreeObject:
		return packTree
	case plumbing.BlobObject:
		return packBlob
	case plumbing.TagObject:
		return packTag
	}
	return 0
}

// treeEntry is one entry of a tree object.
type treeEntry struct {
	name string
	mode filemode.FileMode
	id   plumbing.Hash
}

// parseTree reads a tree object: entries "mode SP name NUL id(20)", in
// git's order (a subtree sorts as its name followed by '/'). A name
// given twice (a file and a directory) is left to the lookups
// (headIndex.find). The tree is untrusted: a mode that is not octal, an empty name or
// one with '/', entries out of order or repeated, a truncated entry are
// errors, never skipped (git would read such a tree its own way).
func parseTree(b []byte) ([]treeEntry, error) {
	// The names are cut from one string of the whole tree.
	str, at := string(b), 0
	var out []treeEntry
	var prev string
	prevDir := false
	for len(b) > 0 {
		sp := bytes.IndexByte(b, ' ')
		if sp <= 0 || sp > 7 {
			return nil, errors.New("tree entry mode")
		}
		var mode uint32
		for _, c := range b[:sp] {
			if c < '0' || c > '7' {
				return nil, errors.New("tree entry mode")
			}
			mode = mode<<3 | uint32(c-'0')
		}
		b, at = b[sp+1:], at+sp+1
		nul := bytes.IndexByte(b, 0)
		if nul <= 0 || len(b)-nul-1 < 20 {
			return nil, errors.New("tree entry name")
		}
		name := str[at : at+nul]
		if strings.IndexByte(name, '/') >= 0 {
			return nil, errors.New("tree entry name")
		}
		dir := filemode.FileMode(mode) == filemode.Dir
		if len(out) > 0 && treeCompare(prev, prevDir, name, dir) >= 0 {
			return nil, errors.New("tree entries out of order")
		}
		e := treeEntry{name: name, mode: filemode.FileMode(mode)}
		copy(e.id[:], b[nul+1:nul+21])
		out = append(out, e)
		prev, prevDir = name, dir
		b, at = b[nul+21:], at+nul+21
	}
	return out, nil
}

// treeCompare orders tree entry names as git does: a directory's name is
// compared as if it ended with '/'.
func treeCompare(a string, aDir bool, b string, bDir bool) int {
	n := min(len(a), len(b))
	if c := strings.Compare(a[:n], b[:n]); c != 0 {
		return c
	}
	at, bt := byte(0), byte(0)
	if len(a) > n {
		at = a[n]
	} else if aDir {
		at = '/'
	}
	if len(b) > n {
		bt = b[n]
	} else if bDir {
		bt = '/'
	}
	return int(at) - int(bt)
}
