package gitsource

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"maps"
	"path/filepath"
	"slices"

	"github.com/go-git/go-git/v5/plumbing"
)

// refInfo is what the refs say: the commits they reach, the annotated tag
// objects on the way, and refs that point straight at a blob or a tree.
type refInfo struct {
	commits []plumbing.Hash
	// tags maps each reachable tag object to the commit it peels to (zero
	// when it peels to a blob or tree).
	tags   map[plumbing.Hash]plumbing.Hash
	direct []directRef
	// stash holds every entry of the stash's reflog: stash@{1} and older
	// are reachable from no ref, yet they are stashes.
	stash []plumbing.Hash
	// names lists every ref's full name, for the keys a name itself may
	// hold.
	names []refName
}

// refName is one ref as listed.
type refName struct {
	name string
}

// directRef is a ref (usually a tag) that peels to a blob or a tree.
type directRef struct {
	name string
	id   plumbing.Hash
	typ  plumbing.ObjectType
}

// readRefs lists every ref and HEAD with go-git and peels them.
func (r *Repo) readRefs(skip skipFunc) *refInfo {
	ri := &refInfo{tags: map[plumbing.Hash]plumbing.Hash{}}
	commits := map[plumbing.Hash]bool{}
	add := func(name string, h plumbing.Hash) {
		var chain []plumbing.Hash
		for depth := 0; depth < 32 && !h.IsZero(); depth++ {
			if commits[h] {
				for _, t := range chain {
					ri.tags[t] = h
				}
				return
			}
			obj, err := r.storage.EncodedObject(plumbing.AnyObject, h)
			if err != nil {
				skip("ref "+name, "cannot read "+h.String()+": "+err.Error())
				return
			}
			switch obj.Type() {
			case plumbing.TagObject:
				target, err := tagTarget(obj)
				if err != nil {
					skip("ref "+name, "cannot read tag "+h.String()+": "+err.Error())
					return
				}
				chain = append(chain, h)
				ri.tags[h] = plumbing.ZeroHash
				h = target
				continue
			case plumbing.CommitObject:
				commits[h] = true
				ri.commits = append(ri.commits, h)
				for _, t := range chain {
					ri.tags[t] = h
				}
			case plumbing.BlobObject, plumbing.TreeObject:
				ri.direct = append(ri.direct, directRef{name: plumbing.ReferenceName(name).Short(), id: h, typ: obj.Type()})
			}
			return
		}
	}
	if iter, err := r.storage.IterReferences(); err != nil {
		skip("refs", err.Error())
	} else {
		_ = iter.ForEach(func(ref *plumbing.Reference) error {
			ri.names = append(ri.names, refName{name: ref.Name().String()})
			if ref.Type() == plumbing.HashReference {
				add(ref.Name().String(), ref.Hash())
			}
			return nil
		})
	}
	if head, err := r.storage.Reference(plumbing.HEAD); err == nil && head.Type() == plumbing.HashReference {
		add("HEAD", head.Hash())
	}
	for _, g := range r.guards {
		refused := g.refusedRefs()
		for _, name := range slices.Sorted(maps.Keys(refused)) {
			skip("ref "+name, refused[name])
		}
	}
	if b, err := readRegular(r.commonPath("logs", "refs", "stash"), maxReflogFile); err == nil {
		ri.stash = parseReflog(b, false)
	} else if !errors.Is(err, fs.ErrNotExist) {
		skip("stash", "its reflog is not read, so stashes before the last are not scanned: "+err.Error())
	}
	return ri
}

// reflogTips lists every commit the reflogs mention (old and new ids), as
// git log --reflog does; skip is told of a reflog it does not read.
func (r *Repo) reflogTips(skip skipFunc) []plumbing.Hash {
	var out []plumbing.Hash
	dirs := []string{r.commonPath("logs")}
	if r.GitDir != r.CommonDir {
		dirs = append(dirs, filepath.Join(r.GitDir, "logs"))
	}
	for _, d := range dirs {
		_ = filepath.WalkDir(d, func(p string, de fs.DirEntry, err error) error {
			if err != nil || de.IsDir() {
				return nil
			}
			if b, err := readRegular(p, maxReflogFile); err == nil {
				out = append(out, parseReflog(b, true)...)
			} else {
				rel, _ := filepath.Rel(filepath.Dir(d), p)
				skip("reflog "+filepath.ToSlash(rel), err.Error())
			}
			return nil
		})
	}
	return out
}

// parseReflog reads reflog lines "<old> <new> <ident>\t<message>" and
// returns the new ids, and the old ones too with both.
func parseReflog(b []byte, both bool) []plumbing.Hash {
	var out []plumbing.Hash
	for len(b) > 0 {
		var line []byte
		line, b, _ = bytes.Cut(b, []byte{'\n'})
		f := bytes.SplitN(line, []byte{' '}, 3)
		if len(f) < 2 {
			continue
		}
		if both {
			if h, ok := parseHex(f[0]); ok && !h.IsZero() {
				out = append(out, h)
			}
		}
		if h, ok := parseHex(f[1]); ok && !h.IsZero() {
			out = append(out, h)
		}
	}
	return out
}

// maxTagHeader is how much of a tag is read to follow it: its first line
// names its object, and its message may be of any size (it is scanned as
// text, in windows, where the scan reads objects).
const maxTagHeader = 4 << 10

// tagTarget is the object a tag names. A tag of 300 MB was read whole
// here, beside its scan, for its first line.
func tagTarget(obj plumbing.EncodedObject) (plumbing.Hash, error) {
	rd, err := obj.Reader()
	if err != nil {
		return plumbing.ZeroHash, err
	}
	defer rd.Close()
	b, err := io.ReadAll(io.LimitReader(rd, maxTagHeader))
	if err != nil {
		return plumbing.ZeroHash, err
	}
	if int64(len(b)) < min(obj.Size(), maxTagHeader) {
		return plumbing.ZeroHash, errors.New("object shorter than its header says")
	}
	return parseTag(b).Object, nil
}
