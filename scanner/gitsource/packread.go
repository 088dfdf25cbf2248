package gitsource

import (
	"bytes"
	"context"
	"crypto/sha1"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/klauspost/compress/flate"
)

// A full scan reads the packs itself rather than through git cat-file:
// each pack's index and objects are parsed in-process (pack.go) and every
// delta family (a base and everything that deltas against it, directly or
// not) is inflated by one goroutine, depth first, so that each object is
// inflated and each delta applied exactly once, and families run on every
// core the scan may use. Trees are never inflated. git's own reading
// (C zlib, but one process a reader, a lookup and a pipe write per object,
// and a delta base cache that re-inflates evicted bases) costs twice the
// CPU for the same objects.
//
// Anything the reader does not handle goes to the cat-file readers as
// before: loose objects, objects larger than the large-blob limit (git
// streams them) and their deltas, deltas whose base is in another pack,
// and objects the reader found corrupt while git may still hold another
// copy. A repository it cannot read at all (alternates, a promisor pack,
// an index or pack it finds malformed) is read the old way, wholly by
// git.

// maxPacks is the most packs read in-process (each is mapped).
const maxPacks = 256

// maxDeltaDepth bounds a delta chain; git writes at most 4095.
const maxDeltaDepth = 10000

// mappedBudget is how many bytes of a pack are read between two
// releases of its mapped pages (a variable: tests lower it).
var mappedBudget int64 = 256 << 20

// maxHeld bounds the bytes of delta bases the readers together keep
// while they descend families (each its share); what needs more is left
// to git, whose base cache is bounded.
const maxHeld = 512 << 20

// noBase and extBase mark a pack object that is no delta, and a
// reference delta whose base is not in its pack.
const (
	noBase  = -1
	extBase = -2
)

// packObj is one object of a pack, in pack order.
type packObj struct {
	off  int64 // where its header starts
	size int64 // its size, or a delta's instruction size
	idx  int32 // its position in the index, which names it
	base int32 // its delta base's position in pack order, noBase or extBase
	typ  int8
	hdr  uint8 // header length
	emit bool  // the copy of its id that is read (each id once)
	need bool  // emitted, or a base of one
	bad  bool  // its header could not be parsed (pack.bad says why)
}

// pack is one mapped pack, with its objects in pack order and each one's
// delta children.
type pack struct {
	name  string
	data  []byte
	unmap func()
	// read counts the compressed bytes read from data.
	read atomic.Int64
	x    *packIndex
	objs []packObj
	// kids[first[k]:first[k+1]] are object k's delta children.
	first, kids []int32
	// bad says why an object's header could not be parsed.
	bad map[int32]error
}

// end is where object k's zlib stream ends at the latest: the next
// object, or the pack's checksum.
func (p *pack) end(k int32) int64 {
	if int(k)+1 < len(p.objs) {
		return p.objs[k+1].off
	}
	return int64(len(p.data)) - packSum
}

func (p *pack) children(k int32) []int32 { return p.kids[p.first[k]:p.first[k+1]] }

// packReader reads a repository's packs.
type packReader struct {
	packs []*pack
	// loose are the loose object ids, packed or not.
	loose map[plumbing.Hash]bool
	// families are the roots (pack, object) of the delta families with
	// something to read, in pack order.
	families [][2]int32
	// git reads by id: loose objects, deltas on bases in other packs.
	git []plumbing.Hash
	// cycles are objects whose delta chain loops.
	cycles []plumbing.Hash
}

func (pr *packReader) close() {
	for _, p := range pr.packs {
		if p.unmap != nil {
			p.unmap()
		}
	}
}

// errNoPackReader says the repository is read by git instead, and why.
type errNoPackReader struct{ why string }

func (e errNoPackReader) Error() string { return "packs read by git: " + e.why }

// openPacks maps the packs of objDir (the shadow's objects directory, as
// git would see them) and plans their reading. Every file must be a
// regular file inside roots.
func openPacks(objDir string, roots []string) (*packReader, error) {
	packDir := filepath.Join(objDir, "pack")
	if _, err := os.Lstat(filepath.Join(objDir, "info", "alternates")); err == nil {
		return nil, errNoPackReader{"alternates"}
	}
	des, err := os.ReadDir(packDir)
	if err != nil {
		return nil, errNoPackReader{"no pack directory"}
	}
	type named struct {
		base  string
		mtime int64
	}
	var names []named
	for _, de := range des {
		n := de.Name()
		if strings.HasSuffix(n, ".promisor") {
			return nil, errNoPackReader{"promisor pack"}
		}
		base, ok := strings.CutSuffix(n, ".pack")
		if !ok {
			continue
		}
		// git uses a pack only with its index.
		if _, err := os.Lstat(filepath.Join(packDir, base+".idx")); err != nil {
			continue
		}
		var mt int64
		if fi, err := de.Info(); err == nil {
			mt = fi.ModTime().UnixNano()
		}
		names = append(names, named{base, mt})
	}
	if len(names) == 0 {
		return nil, errNoPackReader{"no packs"}
	}
	if len(names) > maxPacks {
		return nil, errNoPackReader{fmt.Sprintf("more than %d packs", maxPacks)}
	}
	// Newest first, as git looks objects up.
	slices.SortFunc(names, func(a, b named) int {
		if a.mtime != b.mtime {
			return int(min(max(b.mtime-a.mtime, -1), 1))
		}
		return strings.Compare(a.base, b.base)
	})
	pr := &packReader{}
	for _, n := range names {
		p, err := mapPack(filepath.Join(packDir, n.base), roots)
		if err != nil {
			pr.close()
			return nil, errNoPackReader{fmt.Sprintf("%s: %v", n.base, err)}
		}
		pr.packs = append(pr.packs, p)
	}
	loose, err := looseIDs(objDir)
	if err != nil {
		pr.close()
		return nil, errNoPackReader{err.Error()}
	}
	pr.loose = loose
	pr.plan()
	return pr, nil
}

// mapPack maps base.idx and base.pack and lists the pack's objects.
func mapPack(base string, roots []string) (*pack, error) {
	p := &pack{name: filepath.Base(base)}
	idx, unmapIdx, err := mapRegular(base+".idx", roots)
	if err != nil {
		return nil, err
	}
	data, unmapPack, err := mapRegular(base+".pack", roots)
	if err != nil {
		unmapIdx()
		return nil, err
	}
	p.data = data
	p.unmap = func() { unmapIdx(); unmapPack() }
	sum := make(chan error, 1)
	go func() { sum <- checkPackSum(data) }()
	err = p.list(idx)
	if serr := <-sum; err == nil {
		err = serr
	}
	if err != nil {
		p.unmap()
		return nil, err
	}
	return p, nil
}

// errPackSum says a pack's content does not hash to its trailing
// checksum: some object in it is corrupt, and only git (which checks
// every object's zlib checksum) can say which.
var errPackSum = errors.New("pack checksum mismatch")

// checkPackSum hashes the pack and compares the result with its trailing
// checksum. The reader checks no zlib checksum (that would cost far
// more: it covers every inflated byte), so this is what keeps a
// corrupt object from being scanned as if it were intact; a SHA-1 of the
// compressed pack costs a few percent of reading it. Pages are given back
// as they are hashed, as the readers do.
func checkPackSum(data []byte) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			if _, ok := r.(interface{ Addr() uintptr }); !ok {
				panic(r)
			}
			err = fmt.Errorf("a pack changed while it was hashed: %v", r)
		}
	}()
	if len(data) < packSum {
		return fmt.Errorf("%w: truncated pack", errPackFormat)
	}
	n := len(data) - packSum
	h := sha1.New()
	const chunk = 64 << 20 // a multiple of the page size
	for at := 0; at < n; at += chunk {
		part := data[at:min(at+chunk, n)]
		h.Write(part)
		if n > chunk {
			dropMapped(part)
		}
	}
	if !bytes.Equal(h.Sum(nil), data[n:]) {
		return errPackSum
	}
	return nil
}

// mapRegular maps a regular file inside roots read-only.
func mapRegular(path string, roots []string) ([]byte, func(), error) {
	if err := checkFile(roots, path, false); err != nil {
		return nil, nil, err
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	return mapOpened(f)
}

// mapOpened maps f read-only if it is a regular file (a file swapped for
// a FIFO or device after a check is refused here).
func mapOpened(f *os.File) ([]byte, func(), error) {
	fi, err := f.Stat()
	if err != nil {
		return nil, nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, nil, errNotRegular
	}
	return mapFile(f, fi.Size())
}

// list parses the index and every object header, and links each delta
// to its base.
func (p *pack) list(idxData []byte) error {
	x, err := parseIdx(idxData, int64(len(p.data)))
	if err != nil {
		return err
	}
	if err := checkPackHeader(p.data, x); err != nil {
		return err
	}
	p.x = x
	n := x.n
	order := make([]int32, n)
	offs := make([]int64, n)
	for i := range n {
		order[i] = int32(i)
		offs[i], _ = x.offset(i) // parseIdx checked every offset
	}
	slices.SortFunc(order, func(a, b int32) int {
		return int(min(max(offs[a]-offs[b], -1), 1))
	})
	pos := make([]int32, n) // index position → pack order
	p.objs = make([]packObj, n)
	for k, i := range order {
		if k > 0 && offs[i] == offs[order[k-1]] {
			return fmt.Errorf("%w: two objects at one offset", errPackFormat)
		}
		pos[i] = int32(k)
		p.objs[k] = packObj{off: offs[i], idx: i, base: noBase}
	}
	sorted := func(off int64) int32 {
		k, ok := slices.BinarySearchFunc(p.objs, off, func(o packObj, off int64) int {
			return int(min(max(o.off-off, -1), 1))
		})
		if !ok {
			return -1
		}
		return int32(k)
	}
	nkids := make([]int32, n+1)
	for k := range p.objs {
		o := &p.objs[k]
		h, err := parseEntryHeader(p.data[o.off:p.end(int32(k))], o.off)
		if err != nil || h.hdrLen > 255 {
			p.setBad(k, fmt.Errorf("%w: object header", errPackFormat))
			continue
		}
		o.typ, o.size, o.hdr = int8(h.typ), h.size, uint8(h.hdrLen)
		switch h.typ {
		case packOfsDelta:
			b := sorted(h.baseOff)
			if b < 0 {
				p.setBad(k, fmt.Errorf("%w: delta base offset is no object", errPackFormat))
				continue
			}
			o.base = b
		case packRefDelta:
			o.base = extBase
			if i := x.find(h.baseID); i >= 0 {
				o.base = pos[i]
			}
		}
		if o.base >= 0 {
			nkids[o.base+1]++
		}
	}
	for k := 1; k <= n; k++ {
		nkids[k] += nkids[k-1]
	}
	p.first = nkids
	p.kids = make([]int32, nkids[n])
	fill := slices.Clone(nkids[:n])
	for k := range p.objs {
		if b := p.objs[k].base; b >= 0 {
			p.kids[fill[b]] = int32(k)
			fill[b]++
		}
	}
	return nil
}

func (p *pack) setBad(k int, err error) {
	if p.bad == nil {
		p.bad = map[int32]error{}
	}
	p.bad[int32(k)] = err
	p.objs[k].bad = true
}

// looseIDs lists the loose objects (objects/xx/<38 hex digits>).
func looseIDs(objDir string) (map[plumbing.Hash]bool, error) {
	des, err := os.ReadDir(objDir)
	if err != nil {
		return nil, err
	}
	out := map[plumbing.Hash]bool{}
	for _, de := range des {
		d := de.Name()
		if len(d) != 2 || !isHex(d) {
			continue
		}
		ents, err := os.ReadDir(filepath.Join(objDir, d))
		if err != nil {
			continue // git sees none either
		}
		for _, e := range ents {
			if id, ok := parseHex(d + e.Name()); ok {
				out[id] = true
			}
		}
	}
	return out, nil
}

// plan decides who reads what: which copy of each id is read (the first
// pack, newest first, that holds it; a pack before a loose copy), which
// delta families hold something to read, and what git reads instead.
func (pr *packReader) plan() {
	unpacked := maps.Clone(pr.loose)
	var seen map[plumbing.Hash]bool
	if len(pr.packs) > 1 {
		seen = map[plumbing.Hash]bool{}
	}
	for pi, p := range pr.packs {
		for k := range p.objs {
			o := &p.objs[k]
			id := p.x.id(int(o.idx))
			delete(unpacked, id)
			if seen != nil {
				if seen[id] {
					continue
				}
				seen[id] = true
			}
			o.emit = true
		}
		// Children after parents, from every root; what is never
		// reached hangs off a base outside the pack, or off a cycle.
		order := make([]int32, 0, len(p.objs))
		for k := range p.objs {
			if p.objs[k].base == noBase {
				order = append(order, int32(k))
			}
		}
		for i := 0; i < len(order); i++ {
			order = append(order, p.children(order[i])...)
		}
		for i := len(order) - 1; i >= 0; i-- {
			o := &p.objs[order[i]]
			o.need = o.need || o.emit
			if o.need && o.base >= 0 {
				p.objs[o.base].need = true
			}
		}
		for k := range p.objs {
			o := &p.objs[k]
			if o.base == noBase && o.need && (o.typ != packTree || o.bad) {
				pr.families = append(pr.families, [2]int32{int32(pi), int32(k)})
			}
		}
		if len(order) < len(p.objs) {
			pr.unreached(p, order)
		}
	}
	for id := range unpacked {
		pr.git = append(pr.git, id)
	}
	slices.SortFunc(pr.git, func(a, b plumbing.Hash) int { return bytes.Compare(a[:], b[:]) })
}

// unreached sorts the objects no root reaches: those whose chain ends at
// a base in another pack are read by git, which finds it; those whose
// chain loops cannot be read by anyone.
func (pr *packReader) unreached(p *pack, reached []int32) {
	const (
		unknown = iota
		onPath
		viaGit
		inCycle
		fromRoot
	)
	state := make([]uint8, len(p.objs))
	for _, k := range reached {
		state[k] = fromRoot
	}
	var path []int32
	for k := range p.objs {
		if state[k] != unknown {
			continue
		}
		path = path[:0]
		j := int32(k)
		for state[j] == unknown {
			state[j] = onPath
			path = append(path, j)
			if p.objs[j].base < 0 {
				break
			}
			j = p.objs[j].base
		}
		end := uint8(viaGit)
		switch {
		case state[j] == onPath && p.objs[j].base >= 0:
			end = inCycle
		case state[j] == inCycle:
			end = inCycle
		}
		for _, m := range path {
			state[m] = end
			if !p.objs[m].emit {
				continue
			}
			id := p.x.id(int(p.objs[m].idx))
			if end == inCycle {
				pr.cycles = append(pr.cycles, id)
			} else {
				pr.git = append(pr.git, id)
			}
		}
	}
}

// elsewhere reports whether id has a copy outside pack p, which git may
// read when p's copy is corrupt.
func (pr *packReader) elsewhere(p *pack, id plumbing.Hash) bool {
	if pr.loose[id] {
		return true
	}
	for _, q := range pr.packs {
		if q != p && q.x.find(id[:]) >= 0 {
			return true
		}
	}
	return false
}

// sharedBuf is an object's content, held by the scan and by the reader
// while it is the base of deltas still to apply.
type sharedBuf struct {
	data []byte
	put  func()
	refs atomic.Int32
}

func (b *sharedBuf) unref() {
	if b.refs.Add(-1) == 0 {
		b.put()
	}
}

// packWorker is one goroutine's reading state.
type packWorker struct {
	pr    *packReader
	fn    func(storedObject) error
	large int64
	// maxHeld is this reader's share of maxHeld.
	maxHeld int64
	// skip records an object that cannot be read; git lists objects for
	// git to read by id.
	skip func(id plumbing.Hash, reason string)
	git  func(id plumbing.Hash)
	fr   io.ReadCloser
	br   bytes.Reader
	// delta is the scratch buffer deltas are inflated into.
	delta []byte
}

// inflate inflates the zlib stream at the start of z into out, which
// must be exactly the stream's size. The checksum is not verified (git
// cat-file does, for 3% of its time); every length is.
func (w *packWorker) inflate(z, out []byte) error {
	if len(z) < 2+4 {
		return fmt.Errorf("%w: truncated object", errPackFormat)
	}
	cmf, flg := z[0], z[1]
	if cmf&0x0f != 8 || cmf>>4 > 7 || (uint(cmf)<<8|uint(flg))%31 != 0 || flg&0x20 != 0 {
		return fmt.Errorf("%w: bad zlib header", errPackFormat)
	}
	w.br.Reset(z[2:])
	if w.fr == nil {
		w.fr = flate.NewReader(&w.br)
	} else if err := w.fr.(flate.Resetter).Reset(&w.br, nil); err != nil {
		return err
	}
	if _, err := io.ReadFull(w.fr, out); err != nil {
		return fmt.Errorf("%w: inflate: %v", errPackFormat, err)
	}
	var one [1]byte
	if n, err := w.fr.Read(one[:]); n != 0 || !errors.Is(err, io.EOF) {
		return fmt.Errorf("%w: object longer than its size", errPackFormat)
	}
	if w.br.Len() < 4 {
		return fmt.Errorf("%w: truncated object", errPackFormat)
	}
	return nil
}

func (w *packWorker) zdata(p *pack, k int32) []byte {
	o := &p.objs[k]
	z := p.data[o.off+int64(o.hdr) : p.end(k)]
	// Pages of the mapping count as the process's memory once touched:
	// every mappedBudget bytes read, they are given back (the page cache
	// keeps them; a page read again is mapped again), so that a pack of
	// gigabytes does not show as gigabytes resident.
	if n := p.read.Add(int64(len(z))); n/mappedBudget != (n-int64(len(z)))/mappedBudget {
		dropMapped(p.data)
	}
	return z
}

// frame is an object on the way down a family: its content, and the next
// child to apply against it.
type frame struct {
	k     int32
	next  int32
	depth int
	buf   *sharedBuf
}

// family reads the delta family rooted at object root of p.
func (w *packWorker) family(ctx context.Context, p *pack, root int32) error {
	o := &p.objs[root]
	if o.bad {
		w.lost(p, root, p.bad[root].Error(), true)
		return nil
	}
	if o.size > w.large {
		w.toGit(p, root, true)
		return nil
	}
	typ := o.typ
	data, put := getBuf(int(o.size))
	buf := &sharedBuf{data: data, put: put}
	buf.refs.Store(1)
	if err := w.inflate(w.zdata(p, root), data); err != nil {
		buf.unref()
		w.lost(p, root, err.Error(), true)
		return nil
	}
	if err := w.emit(p, root, typ, buf); err != nil {
		return err
	}
	stack := []frame{{k: root, buf: buf}}
	held := int64(len(data))
	pop := func() {
		top := stack[len(stack)-1]
		held -= int64(len(top.buf.data))
		top.buf.unref()
		stack = stack[:len(stack)-1]
	}
	for len(stack) > 0 {
		top := &stack[len(stack)-1]
		kids := p.children(top.k)
		for int(top.next) < len(kids) && !p.objs[kids[top.next]].need {
			top.next++
		}
		if int(top.next) == len(kids) {
			pop()
			continue
		}
		c := kids[top.next]
		top.next++
		if err := ctx.Err(); err != nil {
			for len(stack) > 0 {
				pop()
			}
			return errFn{err}
		}
		depth := top.depth + 1
		base := top.buf
		base.refs.Add(1) // c's own reference while it is built
		last := true
		for _, m := range kids[top.next:] {
			if p.objs[m].need {
				last = false
				break
			}
		}
		if last {
			pop() // nothing more to apply against it: free it early
		}
		cb, err := w.apply(p, c, depth, base)
		base.unref()
		if err != nil {
			var fe errFn
			if errors.As(err, &fe) {
				for len(stack) > 0 {
					pop()
				}
				return err
			}
			continue
		}
		if cb == nil {
			continue // left to git or lost
		}
		if err := w.emit(p, c, typ, cb); err != nil {
			cb.unref()
			for len(stack) > 0 {
				pop()
			}
			return err
		}
		if p.first[c] == p.first[c+1] {
			cb.unref()
			continue
		}
		if held+int64(len(cb.data)) > w.maxHeld {
			// Too much held on the way down: git reads the rest.
			for _, m := range p.children(c) {
				w.toGit(p, m, true)
			}
			cb.unref()
			continue
		}
		held += int64(len(cb.data))
		stack = append(stack, frame{k: c, depth: depth, buf: cb})
	}
	return nil
}

// apply builds delta object c against base. A nil buffer and nil error
// mean c (and what deltas against it) was left to git or reported lost.
func (w *packWorker) apply(p *pack, c int32, depth int, base *sharedBuf) (*sharedBuf, error) {
	o := &p.objs[c]
	if o.bad {
		w.lost(p, c, p.bad[c].Error(), true)
		return nil, nil
	}
	if depth > maxDeltaDepth {
		w.lost(p, c, fmt.Sprintf("delta chain deeper than %d", maxDeltaDepth), true)
		return nil, nil
	}
	if o.size > 2*w.large+64 {
		w.toGit(p, c, true)
		return nil, nil
	}
	if cap(w.delta) < int(o.size) {
		w.delta = make([]byte, o.size)
	}
	d := w.delta[:o.size]
	if err := w.inflate(w.zdata(p, c), d); err != nil {
		w.lost(p, c, err.Error(), true)
		return nil, nil
	}
	src, dst, ops, err := deltaSizes(d)
	if err == nil && src != int64(len(base.data)) {
		err = fmt.Errorf("%w: delta base size", errPackFormat)
	}
	if err != nil {
		w.lost(p, c, err.Error(), true)
		return nil, nil
	}
	if dst > w.large {
		w.toGit(p, c, true)
		return nil, nil
	}
	data, put := getBuf(int(dst))
	cb := &sharedBuf{data: data, put: put}
	cb.refs.Store(1)
	if err := applyDelta(base.data, ops, data); err != nil {
		cb.unref()
		w.lost(p, c, err.Error(), true)
		return nil, nil
	}
	return cb, nil
}

// emit hands object k to the scan when it is the copy to read. The scan
// gets its own reference to buf.
func (w *packWorker) emit(p *pack, k int32, typ int8, buf *sharedBuf) error {
	o := &p.objs[k]
	if !o.emit || typ == packTree {
		return nil
	}
	var t plumbing.ObjectType
	switch typ {
	case packCommit:
		t = plumbing.CommitObject
	case packBlob:
		t = plumbing.BlobObject
	case packTag:
		t = plumbing.TagObject
	default:
		return nil
	}
	buf.refs.Add(1)
	so := storedObject{id: p.x.id(int(o.idx)), typ: t, size: int64(len(buf.data)), data: buf.data, release: buf.unref}
	if err := w.fn(so); err != nil {
		return errFn{err}
	}
	return nil
}

// toGit leaves object k, and with sub what deltas against it, to git.
func (w *packWorker) toGit(p *pack, k int32, sub bool) {
	w.walk(p, k, sub, func(m int32) { w.git(p.x.id(int(p.objs[m].idx))) })
}

// lost reports object k, and with sub what deltas against it, as
// unreadable here: git reads those with another copy; the rest are
// skipped.
func (w *packWorker) lost(p *pack, k int32, reason string, sub bool) {
	root := p.x.id(int(p.objs[k].idx))
	w.walk(p, k, sub, func(m int32) {
		id := p.x.id(int(p.objs[m].idx))
		switch {
		case w.pr.elsewhere(p, id):
			w.git(id)
		case m == k:
			w.skip(id, fmt.Sprintf("%s: %s", p.name, reason))
		default:
			w.skip(id, fmt.Sprintf("%s: its delta base %s is unreadable", p.name, root))
		}
	})
}

// walk calls fn for k and (with sub) every object below it that is read.
func (w *packWorker) walk(p *pack, k int32, sub bool, fn func(int32)) {
	todo := []int32{k}
	for len(todo) > 0 {
		m := todo[len(todo)-1]
		todo = todo[:len(todo)-1]
		if p.objs[m].emit {
			fn(m)
		}
		if sub {
			for _, c := range p.children(m) {
				if p.objs[c].need {
					todo = append(todo, c)
				}
			}
		}
	}
}

// allFromPacks reads every object but trees: the packs in-process, on
// g.readers goroutines that take whole delta families in pack order, and
// the rest (loose objects, what the reader leaves) with cat-file.
func (g *gitBin) allFromPacks(ctx context.Context, pr *packReader, fn func(storedObject) error) error {
	life := ctx
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var mu sync.Mutex // fn is called by one reader at a time
	locked := func(o storedObject) error {
		mu.Lock()
		defer mu.Unlock()
		return fn(o)
	}
	for _, id := range pr.cycles {
		g.skip("object "+id.String(), "its delta chain loops")
	}
	gitDone := make(chan error, 1)
	go func() {
		var err error
		if len(pr.git) > 0 {
			if err = g.readFor(ctx, life, pr.git, locked); err != nil {
				cancel()
			}
		}
		gitDone <- err
	}()
	left, err := pr.read(ctx, g.readers, g.large, locked, func(id plumbing.Hash, reason string) {
		g.skip("object "+id.String(), reason)
	})
	if err != nil {
		cancel()
	}
	if gerr := <-gitDone; err == nil || (errors.Is(err, context.Canceled) && gerr != nil) {
		err = gerr
	}
	if err != nil {
		return err
	}
	if len(left) > 0 {
		return g.readFor(ctx, life, left, locked)
	}
	return nil
}

// read reads every family on n goroutines, calling fn (which must be safe
// for concurrent use) with each object and skip with each that cannot be
// read; it returns, sorted, the ids it leaves to git.
func (pr *packReader) read(ctx context.Context, n int, large int64, fn func(storedObject) error, skip func(plumbing.Hash, string)) ([]plumbing.Hash, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		mu    sync.Mutex
		left  []plumbing.Hash
		first error
		wg    sync.WaitGroup
		next  atomic.Int64
	)
	n = min(max(n, 1), max(len(pr.families), 1))
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := &packWorker{pr: pr, fn: fn, large: large, maxHeld: maxHeld / int64(n), skip: skip,
				git: func(id plumbing.Hash) {
					mu.Lock()
					left = append(left, id)
					mu.Unlock()
				}}
			if err := w.run(ctx, &next); err != nil {
				mu.Lock()
				if first == nil {
					first = err
				}
				mu.Unlock()
				cancel()
			}
		}()
	}
	wg.Wait()
	if first != nil {
		return nil, first
	}
	slices.SortFunc(left, func(a, b plumbing.Hash) int { return bytes.Compare(a[:], b[:]) })
	return slices.Compact(left), nil
}

// run reads families from the shared queue until it is empty. A pack
// that shrinks under the mapping faults; that ends the scan with an
// error instead of a crash.
func (w *packWorker) run(ctx context.Context, next *atomic.Int64) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			if _, ok := r.(interface{ Addr() uintptr }); ok {
				err = fmt.Errorf("a pack changed while it was read: %v", r)
				return
			}
			panic(r)
		}
	}()
	defer func() {
		if w.fr != nil {
			w.fr.Close()
		}
	}()
	for {
		i := next.Add(1) - 1
		if i >= int64(len(w.pr.families)) {
			return nil
		}
		if err := ctx.Err(); err != nil {
			return errFn{err}
		}
		f := w.pr.families[i]
		if err := w.family(ctx, w.pr.packs[f[0]], f[1]); err != nil {
			return err
		}
	}
}
