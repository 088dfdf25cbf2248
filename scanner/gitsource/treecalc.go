package gitsource

import (
	"crypto/sha1"
	"hash"
	"strconv"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
)

// A directory the index's cache-tree does not vouch for (git add
// invalidates the directories along what it adds; git reset --hard leaves
// them invalid) used to cost the hook a read of HEAD's tree there and a
// comparison of every entry under it: after a large change was reset,
// hundreds of trees for a one-file commit. indexTrees computes those
// directories' tree ids from the index instead, as git write-tree would
// write them for the commit; a directory whose id is HEAD's is then
// skipped whole, so HEAD's trees are read along the change only.
//
// A computed id can only be trusted to be equal, never to differ: it is
// the SHA-1 of the tree bytes built here, so it equals HEAD's id only if
// those bytes are HEAD's tree. What must hold is that the bytes leave out
// nothing a commit would hold: every entry is written as the index has
// it, only intent-to-add entries are left out (git leaves them out of
// the trees it writes, and they stage no content), and a directory with
// anything else unusual (a conflict's stages, a directory entry, an
// unsorted index) is not computed: its entries are compared one by one.

// knownTree is a directory's tree id as the index would commit it, and
// the run of index entries under it.
type knownTree struct {
	id           plumbing.Hash
	start, count int
}

// maxTreeDepth bounds the recursion over directories.
const maxTreeDepth = 4096

// indexTrees returns the tree id of each directory of the sorted index
// es ("" the root) that the cache-tree gives or that could be computed.
func indexTrees(es []ixEntry, ct map[string]cachedTree) map[string]knownTree {
	for i := 1; i < len(es); i++ {
		if es[i-1].name >= es[i].name {
			return nil // unsorted, or a name twice (a conflict's stages)
		}
	}
	c := &treeCalc{es: es, ct: ct, out: make(map[string]knownTree, 2*len(ct)+16), h: sha1.New()}
	if id, next, ok := c.dir(0, "", 0); ok && next == len(es) {
		c.out[""] = knownTree{id: id, start: 0, count: len(es)}
	}
	return c.out
}

type treeCalc struct {
	h    hash.Hash // reused for every tree
	es   []ixEntry
	ct   map[string]cachedTree
	out  map[string]knownTree
	bufs [][]byte // a tree being built, by depth
}

// dir builds the tree of the directory whose entries (named with prefix,
// "" or "a/b/") start at es[i]. It returns the tree's id, the index of
// the first entry after the directory, and whether the id could be
// computed.
func (c *treeCalc) dir(i int, prefix string, depth int) (plumbing.Hash, int, bool) {
	for len(c.bufs) <= depth {
		c.bufs = append(c.bufs, nil)
	}
	ok := depth < maxTreeDepth
	buf := c.bufs[depth][:0]
	for i < len(c.es) && strings.HasPrefix(c.es[i].name, prefix) {
		e := c.es[i]
		rest := e.name[len(prefix):]
		if j := strings.IndexByte(rest, '/'); j >= 0 {
			if j == 0 {
				ok = false // an empty path component: no tree git writes
			}
			sub := e.name[:len(prefix)+j]
			var id plumbing.Hash
			next, sok := 0, false
			if t, valid := c.ct[sub]; valid && t.entries > 0 && t.entries <= len(c.es)-i && covers(c.es[i:], sub, t.entries) {
				id, next, sok = t.hash, i+t.entries, true
			} else if ok {
				id, next, sok = c.dir(i, sub+"/", depth+1)
			} else {
				next = i + 1
				for next < len(c.es) && inDir(c.es[next].name, sub) {
					next++
				}
			}
			if sok {
				c.out[sub] = knownTree{id: id, start: i, count: next - i}
				buf = append(buf, "40000 "...)
				buf = append(buf, rest[:j]...)
				buf = append(buf, 0)
				buf = append(buf, id[:]...)
			} else {
				ok = false
			}
			i = next
			continue
		}
		i++
		if e.ita {
			continue
		}
		if e.unmerged || e.mode == filemode.Dir || rest == "" {
			ok = false
			continue
		}
		buf = strconv.AppendUint(buf, uint64(e.mode), 8)
		buf = append(buf, ' ')
		buf = append(buf, rest...)
		buf = append(buf, 0)
		buf = append(buf, e.hash[:]...)
	}
	c.bufs[depth] = buf
	// A directory of intent-to-add entries only is no tree git writes.
	if !ok || len(buf) == 0 && prefix != "" {
		return plumbing.ZeroHash, i, false
	}
	var hdr [32]byte
	c.h.Reset()
	c.h.Write(append(strconv.AppendInt(append(hdr[:0], "tree "...), int64(len(buf)), 10), 0))
	c.h.Write(buf)
	var id plumbing.Hash
	c.h.Sum(id[:0])
	return id, i, true
}
