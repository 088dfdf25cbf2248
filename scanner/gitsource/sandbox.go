package gitsource

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/go-git/go-billy/v5"
	"github.com/go-git/go-billy/v5/memfs"
)

// The scanned repository is untrusted: everything under its git directory
// was written by whoever made it. Its config can name programs
// (core.sshCommand, a promisor or ext:: remote that git runs to fetch a
// missing object, core.fsmonitor, diff drivers), files that never end
// (include.path = /proc/self/fd/2, diff.orderFile = /dev/zero) and other
// object stores (objects/info/alternates); any file can be a FIFO or a
// symlink to one. The git binary therefore never runs in the repository:
// it runs in a shadow git directory that this package writes, with its
// own config and only links to the repository's refs, shallow file and
// object directories (each a regular file or directory inside the
// repository), so no setting of the scanned repository is read at all. The
// same rules hold for go-git through guardFS.

// shadowConfig is the whole config of a shadow git directory: format 0,
// so no extension (partialClone) and no remote exists to fetch from.
const shadowConfig = "[core]\n\trepositoryformatversion = 0\n\tbare = true\n"

// maxSmallFile bounds the small control files read whole (HEAD,
// commondir, a .git file).
const maxSmallFile = 4 << 10

// errNotRegular refuses a FIFO, device or socket where a file is expected.
var errNotRegular = errors.New("not a regular file")

// errOutside refuses a file that resolves outside the repository.
var errOutside = errors.New("resolves outside the repository")

// roots are the directories a repository's files may resolve into: the
// git directory and the common directory of a linked work tree, resolved
// once, when Open set realRoots.
func (r *Repo) roots() []string {
	if r.realRoots != nil {
		return r.realRoots
	}
	out := []string{r.GitDir}
	if r.CommonDir != r.GitDir {
		out = append(out, r.CommonDir)
	}
	for i, p := range out {
		if real, err := filepath.EvalSymlinks(p); err == nil {
			out[i] = real
		}
	}
	return out
}

// within reports whether p, symlinks resolved, lies under one of roots.
func within(roots []string, p string) bool {
	real, err := filepath.EvalSymlinks(p)
	if err != nil {
		return false
	}
	for _, r := range roots {
		if real == r || strings.HasPrefix(real, r+string(filepath.Separator)) {
			return true
		}
	}
	return false
}

// checkFile says why p (symlinks followed) may not be read: it is not a
// regular file (dir says a directory is wanted instead) or lies outside
// roots (nil roots: anywhere).
func checkFile(roots []string, p string, dir bool) error {
	_, err := statFile(roots, p, dir)
	return err
}

// statFile is checkFile that returns what it stat'ed.
func statFile(roots []string, p string, dir bool) (fs.FileInfo, error) {
	fi, err := os.Stat(p)
	if err != nil {
		return nil, err
	}
	if dir != fi.IsDir() || (!dir && !fi.Mode().IsRegular()) {
		return nil, fmt.Errorf("%s: %w", filepath.Base(p), errNotRegular)
	}
	if roots != nil && !within(roots, p) {
		return nil, fmt.Errorf("%s: %w", filepath.Base(p), errOutside)
	}
	return fi, nil
}

// readRegular reads a regular file (never a FIFO or device, which could
// block or never end) of at most limit bytes. A larger one is refused
// before it is read: a sparse file of gigabytes costs nothing to make.
func readRegular(p string, limit int64) ([]byte, error) {
	fi, err := statFile(nil, p, false)
	if err != nil {
		return nil, err
	}
	if fi.Size() > limit {
		return nil, fmt.Errorf("%s: larger than %d bytes", filepath.Base(p), limit)
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%s: larger than %d bytes", filepath.Base(p), limit)
	}
	return b, nil
}

// newShadow writes the shadow git directory the binary runs in and
// returns it with the warnings it has (alternates not followed). With
// alternates, objects/info/alternates is carried over with its paths made
// absolute; without, other object stores are never read. An entry of the
// pack or a loose-object directory that is no regular file is left out
// of the shadow and passed to skip: git would open it, and a FIFO there
// held every git child that lists or reads objects until its deadline (a
// minute each), a symlink could lead anywhere.
func (r *Repo) newShadow(alternates bool, skip func(where, reason string)) (dir string, warnings []string, err error) {
	dir, err = mkShadowDir()
	if err != nil {
		return "", nil, fmt.Errorf("shadow git directory: %w", err)
	}
	defer func() {
		if err != nil {
			os.RemoveAll(dir)
		}
	}()
	roots := r.roots()
	head := []byte("ref: refs/heads/unreadable-HEAD\n")
	if b, err := readRegular(filepath.Join(r.GitDir, "HEAD"), maxSmallFile); err == nil && validHead(b) {
		head = b
	}
	if err := os.WriteFile(filepath.Join(dir, "HEAD"), head, 0o600); err != nil {
		return "", nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "config"), []byte(shadowConfig), 0o600); err != nil {
		return "", nil, err
	}
	link := func(name string, isDir bool) error {
		src := r.commonPath(name)
		if checkFile(roots, src, isDir) != nil {
			return nil // absent, or not ours to read: git sees none
		}
		return os.Symlink(src, filepath.Join(dir, name))
	}
	if err := link("packed-refs", false); err != nil {
		return "", nil, err
	}
	// The shallow file, when Repo.shallow reads it too (it reports one it
	// does not).
	if fi, err := os.Stat(r.commonPath("shallow")); err == nil && fi.Size() <= maxShallowFile {
		if err := link("shallow", false); err != nil {
			return "", nil, err
		}
	}
	if err := link("refs", true); err != nil {
		return "", nil, err
	}
	if _, err := os.Stat(filepath.Join(dir, "refs")); err != nil {
		// git wants a refs directory to call this a repository.
		if err := os.Mkdir(filepath.Join(dir, "refs"), 0o700); err != nil {
			return "", nil, err
		}
	}
	objs := filepath.Join(dir, "objects")
	des, rerr := os.ReadDir(r.commonPath("objects"))
	irregular := irregularObjects(r.commonPath("objects"), des)
	for _, n := range slices.Sorted(maps.Keys(irregular)) {
		for _, e := range irregular[n] {
			skip(objectEntry(n, e), e+": not a regular file (a FIFO, socket, device or link): left out")
		}
	}
	plain := !r.objectsLinked()
	if rerr == nil && plain && len(irregular) == 0 && plainObjects(r.commonPath("objects"), des) {
		// Nothing in it needs leaving out: one link instead of one per
		// loose-object directory (up to 257, which cost a pre-commit hook
		// about 3 ms to make and remove, a fifth of its run).
		if err := os.Symlink(r.commonPath("objects"), objs); err != nil {
			return "", nil, err
		}
		return dir, nil, nil
	}
	if err := os.MkdirAll(filepath.Join(objs, "info"), 0o700); err != nil {
		return "", nil, err
	}
	for _, de := range des {
		n := de.Name()
		if n != "pack" && !(len(n) == 2 && isHex(n)) {
			continue
		}
		if leave := irregular[n]; len(leave) > 0 {
			if err := linkEntries(r.commonPath("objects", n), filepath.Join(objs, n), leave); err != nil {
				return "", nil, err
			}
			continue
		}
		if plain && de.Type() == fs.ModeDir {
			// A plain directory in a plain objects directory lies inside
			// the repository: linked without the symlink checks, which
			// cost a hook a few stats for each of hundreds of loose
			// object directories.
			if err := os.Symlink(r.commonPath("objects", n), filepath.Join(objs, n)); err != nil {
				return "", nil, err
			}
			continue
		}
		if err := link(filepath.Join("objects", n), true); err != nil {
			return "", nil, err
		}
	}
	alt, err := readRegular(r.commonPath("objects", "info", "alternates"), 1<<20)
	if err == nil && len(bytes.TrimSpace(alt)) > 0 {
		if !alternates {
			warnings = append(warnings, "objects/info/alternates names other object stores; they are not read (objects only they hold are skipped; --alternates reads them)")
		} else {
			var b strings.Builder
			for _, p := range alternatePaths(alt, r.commonPath("objects")) {
				b.WriteString(p + "\n")
			}
			if err := os.WriteFile(filepath.Join(objs, "info", "alternates"), []byte(b.String()), 0o600); err != nil {
				return "", nil, err
			}
		}
	}
	return dir, warnings, nil
}

// irregularObjects lists, by directory ("pack" or a loose-object
// directory), the entries of the objects directory's subdirectories that
// git would open and that are not regular files. One ReadDir a
// directory: the types come with the names.
func irregularObjects(objects string, des []fs.DirEntry) map[string][]string {
	var out map[string][]string
	for _, de := range des {
		n := de.Name()
		if de.Type() != fs.ModeDir || !(n == "pack" || len(n) == 2 && isHex(n)) {
			continue
		}
		ents, err := os.ReadDir(filepath.Join(objects, n))
		if err != nil {
			continue // git reads none of it either
		}
		for _, e := range ents {
			if !e.Type().IsRegular() {
				if out == nil {
					out = map[string][]string{}
				}
				out[n] = append(out[n], e.Name())
			}
		}
	}
	return out
}

// objectEntry names an entry of an object directory for a skip: the
// object it holds, or the pack.
func objectEntry(dir, name string) string {
	if dir == "pack" {
		base, _, _ := strings.Cut(strings.TrimPrefix(name, "pack-"), ".")
		return "pack " + base
	}
	if id, ok := parseHex(dir + name); ok {
		return "object " + id.String()
	}
	return "objects/" + dir + "/" + name
}

// linkEntries makes dst a directory of links to the entries of src, but
// those named in leave.
func linkEntries(src, dst string, leave []string) error {
	if err := os.Mkdir(dst, 0o700); err != nil {
		return err
	}
	des, err := os.ReadDir(src)
	if err != nil {
		return nil // an empty directory: git sees none of it
	}
	for _, de := range des {
		if slices.Contains(leave, de.Name()) || !de.Type().IsRegular() {
			continue
		}
		if err := os.Symlink(filepath.Join(src, de.Name()), filepath.Join(dst, de.Name())); err != nil {
			return err
		}
	}
	return nil
}

// plainObjects reports whether the shadow may link the whole objects
// directory (itself plain, see objectsLinked) instead of its entries one
// by one: it names no alternates, and every entry git reads (pack, the
// loose-object directories, info) is a plain directory, so that git
// reaches nothing outside the repository through it.
func plainObjects(objects string, des []fs.DirEntry) bool {
	for _, de := range des {
		n := de.Name()
		if (n == "pack" || n == "info" || len(n) == 2 && isHex(n)) && de.Type() != fs.ModeDir {
			return false
		}
	}
	_, err := os.Lstat(filepath.Join(objects, "info", "alternates"))
	return errors.Is(err, fs.ErrNotExist)
}

// objectsLinked reports whether the objects directory, or a directory
// above it up to the git directory, is a symlink (whose entries must then
// be checked one by one).
func (r *Repo) objectsLinked() bool {
	fi, err := os.Lstat(r.commonPath("objects"))
	if err != nil || fi.Mode()&fs.ModeSymlink != 0 {
		return true
	}
	real, err := filepath.EvalSymlinks(r.commonPath("objects"))
	return err != nil || real != filepath.Join(r.roots()[len(r.roots())-1], "objects")
}

// mkShadowDir makes the (private, 0700) directory a shadow lives in: in
// /dev/shm when TMPDIR does not say otherwise and it is there, because a
// shadow can be a few hundred symlinks (one per loose-object directory,
// when the objects directory cannot be linked whole) and making them on a
// busy disk costs a pre-commit hook up to a millisecond each; on tmpfs,
// microseconds.
func mkShadowDir() (string, error) {
	if os.Getenv("TMPDIR") == "" {
		if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
			if dir, err := os.MkdirTemp("/dev/shm", "atomyx-guard-git-*"); err == nil {
				return dir, nil
			}
		}
	}
	return os.MkdirTemp("", "atomyx-guard-git-*")
}

// alternatePaths reads objects/info/alternates: one object directory a
// line, relative ones to the objects directory; comments skipped.
func alternatePaths(b []byte, objects string) []string {
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		if l == "" || l[0] == '#' || l[0] == '"' {
			continue
		}
		if !filepath.IsAbs(l) {
			l = filepath.Join(objects, l)
		}
		out = append(out, filepath.Clean(l))
	}
	return out
}

// validHead accepts "ref: refs/..." or a 40-digit id.
func validHead(b []byte) bool {
	l := bytes.TrimSpace(b)
	if rest, ok := bytes.CutPrefix(l, []byte("ref: refs/")); ok {
		return len(rest) > 0 && !bytes.ContainsAny(rest, " \t\n\x00")
	}
	_, ok := parseHex(l)
	return ok
}

func isHex(s string) bool {
	for _, c := range []byte(s) {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// guardFS is the filesystem go-git reads the repository through: the
// repository's config is replaced by shadowConfig, alternates are read
// only when asked, and every file opened must be a regular file inside
// the repository (a FIFO would block go-git forever, a symlink to /proc or
// another repository would read what the scan was not pointed at).
type guardFS struct {
	billy.Filesystem
	roots      []string
	alternates bool

	mu      sync.Mutex
	refused map[string]string // ref files refused, by path: why
}

// refuseRef records why the ref file name is not read and returns the
// error go-git takes for a ref deleted while it iterated: one FIFO or
// link among the refs must cost that ref, not every ref of the
// repository (go-git's iteration ends at the first other error).
func (g *guardFS) refuseRef(name string, err error) error {
	g.mu.Lock()
	if g.refused == nil {
		g.refused = map[string]string{}
	}
	g.refused[name] = err.Error()
	g.mu.Unlock()
	return &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
}

// refusedRefs returns, and forgets, the ref files refused so far.
func (g *guardFS) refusedRefs() map[string]string {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := g.refused
	g.refused = nil
	return out
}

func (g *guardFS) Open(name string) (billy.File, error) {
	return g.OpenFile(name, os.O_RDONLY, 0)
}

func (g *guardFS) OpenFile(name string, flag int, perm os.FileMode) (billy.File, error) {
	if flag&(os.O_WRONLY|os.O_RDWR|os.O_CREATE|os.O_APPEND|os.O_TRUNC) != 0 {
		return nil, fmt.Errorf("%s: the scan writes nothing to the repository: %w", name, fs.ErrPermission)
	}
	clean := filepath.ToSlash(filepath.Clean(name))
	switch clean {
	case "config":
		m := memfs.New()
		if err := writeMem(m, "config", shadowConfig); err != nil {
			return nil, err
		}
		return m.Open("config")
	case "objects/info/alternates":
		if !g.alternates {
			return nil, fs.ErrNotExist
		}
	}
	p := g.Join(g.Root(), name)
	roots := g.roots
	if clean == "objects/info/alternates" {
		roots = nil
	}
	fi, err := statFile(roots, p, false)
	if err != nil {
		if refFile(clean) && (errors.Is(err, errNotRegular) || errors.Is(err, errOutside)) {
			return nil, g.refuseRef(clean, err)
		}
		return nil, err
	}
	if refFile(clean) && clean != "packed-refs" && fi.Size() > maxSmallFile {
		// go-git reads a loose ref whole: a sparse file of gigabytes
		// took as much memory.
		return nil, g.refuseRef(clean, fmt.Errorf("%s: larger than %d bytes", path.Base(clean), maxSmallFile))
	}
	return g.Filesystem.OpenFile(name, flag, perm)
}

// Stat refuses a ref whose file cannot be looked at (a symlink loop, no
// permission) as refuseRef does: go-git stats each ref file before it
// opens it, and ends its iteration at any error but "not found".
func (g *guardFS) Stat(name string) (os.FileInfo, error) {
	fi, err := g.Filesystem.Stat(name)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		if clean := filepath.ToSlash(filepath.Clean(name)); refFile(clean) {
			return nil, g.refuseRef(clean, err)
		}
	}
	return fi, err
}

// refFile reports whether go-git reads refs from the file name (clean,
// slash-separated, relative to the git directory).
func refFile(clean string) bool {
	return strings.HasPrefix(clean, "refs/") || clean == "packed-refs"
}

// ReadDir hides, in objects/pack, every pack whose index is not a regular
// file inside the repository: go-git loads all pack indexes at once and
// stops at the first it cannot read, which would leave the packs after it
// (in name order) unread too. goGit.all reports the hidden ones.
func (g *guardFS) ReadDir(name string) ([]os.FileInfo, error) {
	fis, err := g.Filesystem.ReadDir(name)
	if err != nil || filepath.ToSlash(filepath.Clean(name)) != "objects/pack" {
		return fis, err
	}
	out := fis[:0]
	for _, fi := range fis {
		if n, ok := strings.CutSuffix(fi.Name(), ".pack"); ok {
			if checkFile(g.roots, g.Join(g.Root(), name, n+".idx"), false) != nil {
				continue
			}
		}
		out = append(out, fi)
	}
	return out, nil
}

// badPacks names the packs whose index cannot be read (guardFS hides
// them from go-git), with why.
func (r *Repo) badPacks() map[string]string {
	dir := r.commonPath("objects", "pack")
	des, _ := os.ReadDir(dir)
	out := map[string]string{}
	for _, de := range des {
		if n, ok := strings.CutSuffix(de.Name(), ".pack"); ok {
			if err := checkFile(r.roots(), filepath.Join(dir, n+".idx"), false); err != nil {
				out[strings.TrimPrefix(n, "pack-")] = err.Error()
			}
		}
	}
	return out
}

func writeMem(m billy.Filesystem, name, content string) error {
	f, err := m.Create(name)
	if err != nil {
		return err
	}
	if _, err := io.WriteString(f, content); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
