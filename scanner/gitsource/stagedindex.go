package gitsource

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"syscall"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
)

// The go-git fallback of a staged scan reads the index itself, not with
// go-git's decoder: that one decodes each entry's fields by reflection
// (a fifth of a fallback run on a 4,800-file checkout) and drops the
// cache-tree's invalidated entries, whose subtree counts give the
// extension its shape. With the shape, the directories git add did not
// touch are skipped whole when their cached tree is HEAD's, as git's own
// diff-index does: the fallback then reads HEAD's trees along the change
// only, not all of them.

// ixEntry is what a staged scan needs of an index entry.
type ixEntry struct {
	name string
	mode filemode.FileMode
	hash plumbing.Hash
	ita  bool // intent-to-add: no content staged yet
	// size is the work-tree file's size when it was staged, truncated to
	// 32 bits (0 when unknown): a hint that the file still holds the blob.
	size uint32
	// unmerged: a conflict's stage (1 to 3), not what a commit holds.
	unmerged bool
}

// cachedTree is a valid cache-tree entry: the tree id the index entries
// under a directory (entries of them, contiguous) make.
type cachedTree struct {
	entries int
	hash    plumbing.Hash
}

// errIndexFormat is an index parseIndex does not read (a version, an
// extension or a hash it does not know, or a malformed file); go-git's
// decoder then reads it, or says why it cannot.
var errIndexFormat = errors.New("index format not read here")

// parseIndex reads a version 2, 3 or 4 index with SHA-1 ids: its entries
// and its cache-tree's valid entries by directory ("" the root). Every
// count and length is checked against the data, which is untrusted. The
// trailing checksum is not: git reads an index without it too (only fsck
// checks it), so an index whose checksum fails is what git would commit,
// and hashing it was 3% of the one-file hook on a 4,800-file checkout.
//
// The index comes as a string: the entries' names are cut from it, not
// allocated one by one (for a version 4 index, each is built from the one
// before), and a hook that reads it into a string (readIndexString) holds
// one copy of it, not two.
func parseIndex(b string) (es []ixEntry, ct map[string]cachedTree, err error) {
	const hashLen = 20
	if len(b) < 12+hashLen || b[:4] != "DIRC" {
		return nil, nil, errIndexFormat
	}
	body := b[:len(b)-hashLen]
	version := be32(body, 4)
	if version < 2 || version > 4 {
		return nil, nil, errIndexFormat
	}
	n := be32(body, 8)
	const fixed = 40 + hashLen + 2 // stat data, id, flags
	if uint64(n) > uint64(len(body))/fixed {
		return nil, nil, errIndexFormat
	}
	es = make([]ixEntry, 0, n)
	p := 12
	var prev string
	for range n {
		if len(body)-p < fixed {
			return nil, nil, errIndexFormat
		}
		start := p
		var e ixEntry
		e.mode = filemode.FileMode(be32(body, p+24))
		e.size = be32(body, p+36)
		copy(e.hash[:], body[p+40:p+40+hashLen])
		flags := be16(body, p+40+hashLen)
		e.unmerged = flags&0x3000 != 0
		p += fixed
		if flags&0x4000 != 0 { // extended flags
			if version < 3 || len(body)-p < 2 {
				return nil, nil, errIndexFormat
			}
			e.ita = be16(body, p)&0x2000 != 0
			p += 2
		}
		if version == 4 {
			strip, k := indexVarint(body[p:])
			if k == 0 || strip > uint64(len(prev)) {
				return nil, nil, errIndexFormat
			}
			p += k
			end := strings.IndexByte(body[p:], 0)
			if end < 0 {
				return nil, nil, errIndexFormat
			}
			e.name = prev[:len(prev)-int(strip)] + body[p:p+end]
			p += end + 1
		} else {
			end := strings.IndexByte(body[p:], 0)
			if end < 0 {
				return nil, nil, errIndexFormat
			}
			e.name = body[p : p+end]
			// NUL padding to a multiple of 8 bytes, at least one.
			p = start + (p-start+end+8)&^7
			if p > len(body) {
				return nil, nil, errIndexFormat
			}
		}
		if e.name == "" {
			return nil, nil, errIndexFormat
		}
		prev = e.name
		es = append(es, e)
	}
	for p < len(body) {
		if len(body)-p < 8 {
			return nil, nil, errIndexFormat
		}
		sig, size := body[p:p+4], be32(body, p+4)
		p += 8
		if uint64(size) > uint64(len(body)-p) {
			return nil, nil, errIndexFormat
		}
		data := body[p : p+int(size)]
		p += int(size)
		switch {
		case sig == "TREE":
			var ok bool
			if ct, ok = parseCacheTree(data); !ok {
				return nil, nil, errIndexFormat
			}
		case sig[0] < 'A' || sig[0] > 'Z':
			return nil, nil, errIndexFormat // required (split index, sparse directories)
		}
	}
	return es, ct, nil
}

// be32 and be16 read big-endian numbers at p of s.
func be32(s string, p int) uint32 {
	return uint32(s[p])<<24 | uint32(s[p+1])<<16 | uint32(s[p+2])<<8 | uint32(s[p+3])
}

func be16(s string, p int) uint16 { return uint16(s[p])<<8 | uint16(s[p+1]) }

// readIndexString reads the index file at path into a string, one copy
// of it, up to maxControlFile bytes.
func readIndexString(path string) (string, error) {
	// O_NONBLOCK and a regular file: a FIFO put in its place since it was
	// checked must not block the hook.
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return "", err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return "", err
	}
	if !fi.Mode().IsRegular() {
		return "", errNotRegular
	}
	var sb strings.Builder
	if fi.Size() < maxControlFile {
		sb.Grow(int(fi.Size()))
	}
	var buf [32 << 10]byte
	for {
		n, err := f.Read(buf[:])
		sb.Write(buf[:n])
		if sb.Len() > maxControlFile {
			return "", fmt.Errorf("index larger than %d bytes", maxControlFile)
		}
		if err == io.EOF {
			return sb.String(), nil
		}
		if err != nil {
			return "", err
		}
	}
}

// indexVarint reads the index's (and packs' offset) varint: big-endian
// groups of 7 bits, each continuation adding one. k is 0 when it is
// malformed or overflows.
func indexVarint[T string | []byte](b T) (v uint64, k int) {
	for i := range len(b) {
		c := b[i]
		if i > 8 {
			return 0, 0
		}
		if i > 0 {
			v++
		}
		v = v<<7 | uint64(c&0x7f)
		if c&0x80 == 0 {
			return v, i + 1
		}
	}
	return 0, 0
}

// parseCacheTree reads the TREE extension: entries in pre-order, each
// "name NUL entry_count SP subtrees LF" and, when entry_count is not
// negative, the tree id. It returns the valid ones by directory path.
func parseCacheTree(data string) (map[string]cachedTree, bool) {
	// Each entry has one LF (a name may hold more: a bound, not a count).
	out := make(map[string]cachedTree, min(strings.Count(data, "\n"), 1<<16))
	// pending[i] is how many subtrees of stack[i] are still to come.
	var stack []string
	var pending []int
	root := false
	for len(data) > 0 {
		nul := strings.IndexByte(data, 0)
		if nul < 0 {
			return nil, false
		}
		name := data[:nul]
		data = data[nul+1:]
		sp := strings.IndexByte(data, ' ')
		lf := strings.IndexByte(data, '\n')
		if sp < 0 || lf < sp {
			return nil, false
		}
		entries, err1 := strconv.Atoi(data[:sp])
		subtrees, err2 := strconv.Atoi(data[sp+1 : lf])
		data = data[lf+1:]
		if err1 != nil || err2 != nil || entries < -1 || subtrees < 0 || subtrees > len(data) {
			return nil, false
		}
		var dir string
		switch {
		case len(stack) == 0:
			if name != "" || root {
				return nil, false // one root, named ""
			}
			root = true
		default:
			if name == "" || strings.Contains(name, "/") {
				return nil, false
			}
			parent := stack[len(stack)-1]
			pending[len(pending)-1]--
			dir = name
			if parent != "" {
				dir = parent + "/" + name
			}
		}
		if entries >= 0 {
			if len(data) < 20 {
				return nil, false
			}
			var h plumbing.Hash
			copy(h[:], data[:20])
			data = data[20:]
			out[dir] = cachedTree{entries: entries, hash: h}
		}
		stack, pending = append(stack, dir), append(pending, subtrees)
		for len(pending) > 0 && pending[len(pending)-1] == 0 {
			stack, pending = stack[:len(stack)-1], pending[:len(pending)-1]
		}
	}
	if len(stack) != 0 {
		return nil, false // subtrees announced and missing
	}
	return out, true
}
