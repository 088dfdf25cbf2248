package filesource

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/atomyx/atomyx-guard/internal/finding"
	"github.com/atomyx/atomyx-guard/scanner"
)

// Source yields the regular files under Roots.
type Source struct {
	// Roots are the files and directories to scan, as given.
	Roots []string
	// Dir resolves relative roots when set (the process's working
	// directory otherwise); labels keep the roots as given.
	Dir string
	// FollowSymlinks enters symlinked directories (each directory once)
	// and follows symlinks out of the scanned directory. Without it, a
	// symlink to a file is read only when its target lies inside the
	// scanned directory: a link to /etc or to a home directory is not
	// content of the tree being scanned.
	FollowSymlinks bool
	// MaxBytes and MaxTime bound a walk that follows symlinks, which may
	// reach the whole machine: the walk stops, with a skip saying so, once
	// it has yielded MaxBytes bytes of files or run for MaxTime. Zero means
	// DefaultFollowMaxBytes and DefaultFollowMaxTime; they do not apply
	// without FollowSymlinks.
	MaxBytes int64
	MaxTime  time.Duration

	files, dirs, gitDirs, linkedDirs, revisits, broken, special atomic.Int64
	outside, kernel                                             atomic.Int64

	// fsOf caches, by device, the kernel file system a device holds ("" for
	// an ordinary one): a tree lies on few devices, and asking the kernel
	// once per file cost as much as the open.
	fsOf sync.Map
}

// Budgets of a walk that follows symlinks.
const (
	DefaultFollowMaxBytes = 4 << 30
	DefaultFollowMaxTime  = 10 * time.Minute
)

// Stats counts what a walk met.
type Stats struct {
	Files int64 // regular files yielded
	Dirs  int64 // directories entered
	// GitDirs counts .git directories passed over: the git command
	// scans history.
	GitDirs int64
	// LinkedDirs counts symlinks to directories not followed.
	LinkedDirs int64
	// Revisits counts directories reached again through a symlink, and
	// not entered twice.
	Revisits int64
	// BrokenLinks counts symlinks to nothing.
	BrokenLinks int64
	// Special counts FIFOs, devices and sockets, reported as skips.
	Special int64
	// OutsideLinks counts symlinks to files outside the scanned
	// directory, not followed (reported as skips).
	OutsideLinks int64
	// Kernel counts paths on kernel file systems (/proc, /sys, /dev, and
	// proc, sysfs and the like wherever mounted), never read (skips).
	Kernel int64
}

// Stats returns what the walk met so far.
func (s *Source) Stats() Stats {
	return Stats{
		Files: s.files.Load(), Dirs: s.dirs.Load(), GitDirs: s.gitDirs.Load(),
		LinkedDirs: s.linkedDirs.Load(), Revisits: s.revisits.Load(),
		BrokenLinks: s.broken.Load(), Special: s.special.Load(),
		OutsideLinks: s.outside.Load(), Kernel: s.kernel.Load(),
	}
}

// Items implements scanner.Source. Paths are relative to a directory root
// when there is one root, joined to the root as given when there are
// several; a file root is labelled as given. A root that does not exist is
// an error: the scan would not be the one asked for.
func (s *Source) Items(ctx context.Context, emit func(scanner.Item) error) error {
	b := s.newBudget()
	for _, given := range s.Roots {
		if b.stopped {
			break
		}
		root := s.resolve(given)
		fi, err := os.Stat(root)
		if err != nil {
			return fmt.Errorf("scan %s: %w", given, unwrapPath(err))
		}
		label := filepath.ToSlash(given)
		real, err := realPath(root)
		if err != nil {
			return fmt.Errorf("scan %s: %w", given, unwrapPath(err))
		}
		if why, ok := kernelPath(real, fi.IsDir()); ok {
			s.kernel.Add(1)
			if err := emit(skipItem(label, why)); err != nil {
				return err
			}
			continue
		}
		w := &walker{s: s, emit: emit, seen: map[fileID]bool{}, budget: b}
		if !fi.IsDir() {
			if err := w.file(ctx, root, label, fi, real != root); err != nil {
				return err
			}
			continue
		}
		prefix := label
		if len(s.Roots) == 1 {
			prefix = ""
		}
		w.root = real
		if id, ok := idOf(fi); ok {
			w.seen[id] = true
		}
		s.dirs.Add(1)
		if prefix != "" {
			prefix = path.Clean(prefix)
		}
		if err := w.walk(ctx, filepath.Clean(root), real, prefix); err != nil {
			return err
		}
	}
	return nil
}

// budget bounds a walk that follows symlinks; shared by the roots of one
// Items call.
type budget struct {
	on       bool
	maxBytes int64
	maxTime  time.Duration
	start    time.Time
	bytes    int64
	stopped  bool
}

func (s *Source) newBudget() *budget {
	b := &budget{on: s.FollowSymlinks, maxBytes: s.MaxBytes, maxTime: s.MaxTime, start: time.Now()}
	if b.maxBytes <= 0 {
		b.maxBytes = DefaultFollowMaxBytes
	}
	if b.maxTime <= 0 {
		b.maxTime = DefaultFollowMaxTime
	}
	return b
}

// realPath is p absolute with every symlink resolved.
func realPath(p string) (string, error) {
	r, err := filepath.EvalSymlinks(p)
	if err != nil {
		return "", err
	}
	return filepath.Abs(r)
}

// kernelPath says why a resolved path must not be read: it lies under
// /proc, /sys or /dev, or (for directories, whose file system is asked)
// on a kernel file system mounted anywhere. Files are also checked by
// their file system when opened (openRegular).
func kernelPath(real string, dir bool) (string, bool) {
	for _, d := range []string{"/proc", "/sys", "/dev"} {
		if real == d || strings.HasPrefix(real, d+"/") {
			return "under " + d + ": a kernel file system, never read", true
		}
	}
	if dir {
		if name, ok := kernelFSAt(real); ok {
			return "on a " + name + " file system: a kernel file system, never read", true
		}
	}
	return "", false
}

// inside reports whether the resolved path p lies in the resolved
// directory root.
func inside(root, p string) bool {
	rel, err := filepath.Rel(root, p)
	return err == nil && (rel == "." || filepath.IsLocal(rel))
}

func (s *Source) resolve(p string) string {
	if s.Dir == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(s.Dir, p)
}

// ReadRelative reads the file that ref names relative to the file an item
// label names (a bundle's "app.js.map" beside "dist/app.js"), up to max
// bytes. It reads only regular files inside the scanned roots; anything
// else wraps fs.ErrNotExist.
func (s *Source) ReadRelative(label, ref string, max int64) ([]byte, error) {
	if strings.Contains(label, "!") || filepath.IsAbs(ref) || strings.Contains(ref, ":") {
		return nil, fs.ErrNotExist
	}
	root, rel := s.locate(label)
	if root == "" {
		return nil, fs.ErrNotExist
	}
	target := filepath.Join(filepath.Dir(rel), filepath.FromSlash(ref))
	if !filepath.IsLocal(target) {
		return nil, fmt.Errorf("%w: %s is outside the scanned directory", fs.ErrNotExist, ref)
	}
	if !s.FollowSymlinks {
		// A symlink inside the root may still lead out of it.
		rroot, err1 := realPath(root)
		rt, err2 := realPath(filepath.Join(root, target))
		if err1 != nil || err2 != nil || !inside(rroot, rt) {
			return nil, fmt.Errorf("%w: %s is outside the scanned directory", fs.ErrNotExist, ref)
		}
	}
	f, err := s.openRegular(filepath.Join(root, target), nil)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", fs.ErrNotExist, err)
	}
	defer f.Close()
	if f.size > max {
		return nil, fmt.Errorf("%d bytes exceeds the %d-byte limit", f.size, max)
	}
	return io.ReadAll(io.LimitReader(f, max))
}

// locate finds the root directory a label lies under and the label's path
// inside it.
func (s *Source) locate(label string) (dir, rel string) {
	for _, r := range s.Roots {
		disk := s.resolve(r)
		fi, err := os.Stat(disk)
		if err != nil {
			continue
		}
		given := path.Clean(filepath.ToSlash(r))
		if !fi.IsDir() {
			if label == filepath.ToSlash(r) {
				return filepath.Dir(disk), filepath.Base(disk)
			}
			continue
		}
		switch {
		case len(s.Roots) == 1:
			return disk, filepath.FromSlash(label)
		case given == "." && !path.IsAbs(label):
			return disk, filepath.FromSlash(label)
		case strings.HasPrefix(label, given+"/"):
			return disk, filepath.FromSlash(strings.TrimPrefix(label, given+"/"))
		}
	}
	return "", ""
}

type walker struct {
	s    *Source
	emit func(scanner.Item) error
	// seen holds the directories entered, and the files read through
	// symlinks, by device and inode: the visited set.
	seen   map[fileID]bool
	depth  int
	root   string // the resolved root directory
	budget *budget
}

// maxDepth bounds directory nesting, a last guard against symlink loops
// where directories have no identity to track.
const maxDepth = 512

// overTime stops a following walk whose time budget is spent, saying so
// once.
func (w *walker) overTime(where string) (bool, error) {
	b := w.budget
	if b.stopped {
		return true, nil
	}
	if !b.on || time.Since(b.start) <= b.maxTime {
		return false, nil
	}
	b.stopped = true
	return true, w.emit(skipItem(where, fmt.Sprintf("walk stopped here: the --follow-symlinks time budget of %s is spent; the rest is not read", b.maxTime)))
}

func (w *walker) walk(ctx context.Context, dir, real, rel string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	d, entries, err := openDir(dir)
	if d != nil {
		defer d.release()
	}
	if err != nil && len(entries) == 0 {
		return w.emit(skipItem(labelOf(rel, dir), "cannot read directory: "+unwrapPath(err).Error()))
	}
	for _, e := range entries {
		full := join(dir, e.Name(), filepath.Separator)
		childRel := join(rel, e.Name(), '/')
		childReal := join(real, e.Name(), filepath.Separator)
		if stop, err := w.overTime(labelOf(childRel, full)); stop || err != nil {
			return err
		}
		switch t := e.Type(); {
		case t.IsDir():
			if e.Name() == ".git" {
				w.s.gitDirs.Add(1)
				continue
			}
			if err := w.enter(ctx, full, childReal, childRel, nil); err != nil {
				return err
			}
		case t&fs.ModeSymlink != 0:
			target, err := realPath(full)
			if err != nil {
				w.s.broken.Add(1)
				continue
			}
			fi, err := os.Stat(full)
			if err != nil {
				w.s.broken.Add(1)
				continue
			}
			if why, ok := kernelPath(target, fi.IsDir()); ok {
				w.s.kernel.Add(1)
				if err := w.emit(skipItem(childRel, "symlink "+why)); err != nil {
					return err
				}
				continue
			}
			if fi.IsDir() {
				if !w.s.FollowSymlinks {
					w.s.linkedDirs.Add(1)
					continue
				}
				if err := w.enter(ctx, full, target, childRel, fi); err != nil {
					return err
				}
				continue
			}
			if !inside(w.root, target) {
				if !w.s.FollowSymlinks {
					w.s.outside.Add(1)
					if err := w.emit(skipItem(childRel, "symlink to outside the scanned directory: not followed (--follow-symlinks follows it)")); err != nil {
						return err
					}
					continue
				}
				// Read a file outside once, however many links lead to it.
				if id, ok := idOf(fi); ok {
					if w.seen[id] {
						w.s.revisits.Add(1)
						continue
					}
					w.seen[id] = true
				}
			}
			if err := w.file(ctx, full, childRel, fi, true); err != nil {
				return err
			}
		case t.IsRegular() && !w.budget.on:
			// The listing says regular; the open checks again, so no
			// stat here.
			if err := w.listed(ctx, d, e.Name(), full, childRel); err != nil {
				return err
			}
		default:
			fi, err := e.Info()
			if err != nil {
				if errors.Is(err, fs.ErrNotExist) {
					continue // gone since the listing
				}
				if err := w.emit(skipItem(childRel, "stat: "+unwrapPath(err).Error())); err != nil {
					return err
				}
				continue
			}
			if err := w.file(ctx, full, childRel, fi, false); err != nil {
				return err
			}
		}
		if w.budget.stopped {
			return nil
		}
	}
	if err != nil {
		return w.emit(skipItem(labelOf(rel, dir), "directory listing incomplete: "+unwrapPath(err).Error()))
	}
	return nil
}

// join is filepath.Join (path.Join for sep '/') of a clean directory and
// a name from its listing: no separator in it, never "." or "..", so a
// concatenation is clean already. Cleaning every path of a tree cost a
// tenth of its walk.
func join(dir, name string, sep byte) string {
	if filepath.Separator != '/' { // volume names and their rules
		if sep == '/' {
			return path.Join(dir, name)
		}
		return filepath.Join(dir, name)
	}
	switch {
	case dir == "" || dir == ".":
		return name
	case dir[len(dir)-1] == sep:
		return dir + name // the root directory
	}
	return dir + string(sep) + name
}

// enter walks a subdirectory once: a directory reached again (a symlink
// loop, or two links to one place) is counted, not walked.
func (w *walker) enter(ctx context.Context, full, real, rel string, fi fs.FileInfo) error {
	if why, ok := kernelPath(real, false); ok {
		w.s.kernel.Add(1)
		return w.emit(skipItem(rel, why))
	}
	if fi == nil {
		var err error
		if fi, err = os.Stat(full); err != nil {
			return w.emit(skipItem(rel, "stat: "+unwrapPath(err).Error()))
		}
	}
	if why, ok := w.s.kernelDir(real, fi); ok {
		w.s.kernel.Add(1)
		return w.emit(skipItem(rel, why))
	}
	if id, ok := idOf(fi); ok {
		if w.seen[id] {
			w.s.revisits.Add(1)
			return nil
		}
		w.seen[id] = true
	}
	if w.depth >= maxDepth {
		return w.emit(skipItem(rel, fmt.Sprintf("directory nesting deeper than %d: not entered", maxDepth)))
	}
	w.s.dirs.Add(1)
	w.depth++
	defer func() { w.depth-- }()
	return w.walk(ctx, full, real, rel)
}

// listed emits a file the listing of d says is regular: its size is
// unknown (-1) until the open tells it. With a directory handle (see
// openDir) it is opened relative to d, which it keeps open until the
// Engine releases it.
func (w *walker) listed(ctx context.Context, d *dirHandle, name, full, label string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s := w.s
	s.files.Add(1)
	it := scanner.Item{
		Loc:  finding.Location{Source: finding.SourceFile, Path: scanner.Label(label)},
		Size: -1,
		Open: func() (io.ReadCloser, error) { return s.open(full, nil) },
	}
	if d == nil {
		return w.emit(it)
	}
	d.refs.Add(1)
	var once sync.Once
	release := func() { once.Do(d.release) }
	it.Open = func() (io.ReadCloser, error) { return s.openIn(d, name) }
	it.Release = release
	if err := w.emit(it); err != nil {
		release() // not taken
		return err
	}
	return nil
}

// dirHandle is a directory kept open while the files listed in it wait
// to be scanned; the last of the walk and those files to release it
// closes it.
type dirHandle struct {
	f    *os.File
	rc   syscall.RawConn
	refs atomic.Int32
}

func (d *dirHandle) release() {
	if d.refs.Add(-1) == 0 {
		d.f.Close()
	}
}

// file emits a regular file, or a skip for anything else. A file reached
// through a symlink (linked) must still be the file the walk checked when
// it is opened: a link pointed elsewhere in between is refused.
func (w *walker) file(ctx context.Context, full, label string, fi fs.FileInfo, linked bool) error {
	s := w.s
	if err := ctx.Err(); err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		s.special.Add(1)
		return w.emit(skipItem(label, specialReason(fi.Mode())))
	}
	if b := w.budget; b.on {
		if b.bytes+fi.Size() > b.maxBytes {
			b.stopped = true
			return w.emit(skipItem(label, fmt.Sprintf("walk stopped here: the --follow-symlinks byte budget of %d bytes is spent; the rest is not read", b.maxBytes)))
		}
		b.bytes += fi.Size()
	}
	var want *fileID
	if id, ok := idOf(fi); ok && linked {
		want = &id
	}
	s.files.Add(1)
	return w.emit(scanner.Item{
		Loc:  finding.Location{Source: finding.SourceFile, Path: scanner.Label(label)},
		Size: fi.Size(),
		Open: func() (io.ReadCloser, error) { return s.open(full, want) },
	})
}

// openRegular opens a file that was regular when listed, without blocking
// if it has since become a FIFO, and refuses anything not regular now,
// anything on a kernel file system (proc, sysfs...: the process's own
// environment is one open away), and, when want is set, any other file
// than the one listed.
func (s *Source) openRegular(name string, want *fileID) (*regularFile, error) {
	f, err := os.OpenFile(name, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, fmt.Errorf("open: %w", unwrapPath(err))
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("stat: %w", unwrapPath(err))
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, errors.New(specialReason(fi.Mode()))
	}
	if kfs, ok := s.kernelFSOf(f, fi); ok {
		f.Close()
		return nil, fmt.Errorf("on a %s file system: a kernel file system, never read", kfs)
	}
	if want != nil {
		if id, ok := idOf(fi); ok && id != *want {
			f.Close()
			return nil, errors.New("the symlink points elsewhere than when the walk checked it: not read")
		}
	}
	return &regularFile{File: f, size: fi.Size()}, nil
}

// open is openRegular as an io.ReadCloser (nil on error).
func (s *Source) open(name string, want *fileID) (io.ReadCloser, error) {
	f, err := s.openRegular(name, want)
	if err != nil {
		return nil, err
	}
	return f, nil
}

// kernelFSOf is the package's kernelFSOf for an open file whose stat is
// fi, asking the kernel once per device: a device is one file system.
func (s *Source) kernelFSOf(f *os.File, fi fs.FileInfo) (string, bool) {
	id, ok := idOf(fi)
	if !ok {
		return kernelFSOf(f)
	}
	if v, ok := s.fsOf.Load(id.dev); ok {
		name := v.(string)
		return name, name != ""
	}
	name, _ := kernelFSOf(f)
	s.fsOf.Store(id.dev, name)
	return name, name != ""
}

// kernelDir is kernelPath's file-system check for a directory whose stat
// is fi, asking the kernel once per device.
func (s *Source) kernelDir(real string, fi fs.FileInfo) (string, bool) {
	id, ok := idOf(fi)
	if !ok {
		return kernelPath(real, true)
	}
	v, ok := s.fsOf.Load(id.dev)
	if !ok {
		v, _ = kernelFSAt(real)
		s.fsOf.Store(id.dev, v)
	}
	if name := v.(string); name != "" {
		return "on a " + name + " file system: a kernel file system, never read", true
	}
	return "", false
}

// regularFile is an open regular file with the size its open checked: the
// Engine reads its size and reads at offsets (a zip) without asking the
// kernel again.
type regularFile struct {
	*os.File
	size int64
}

// Size implements scanner.RandomAccess.
func (f *regularFile) Size() int64 { return f.size }

func specialReason(m fs.FileMode) string {
	switch {
	case m&fs.ModeNamedPipe != 0:
		return "named pipe: not a regular file, not read"
	case m&fs.ModeSocket != 0:
		return "socket: not a regular file, not read"
	case m&fs.ModeDevice != 0:
		return "device: not a regular file, not read"
	case m.IsDir():
		return "directory where a file was expected"
	}
	return fmt.Sprintf("not a regular file (%s), not read", m.Type())
}

func skipItem(label, reason string) scanner.Item {
	return scanner.Item{Loc: finding.Location{Source: finding.SourceFile, Path: scanner.Label(label)}, SkipReason: reason}
}

func labelOf(rel, dir string) string {
	if rel == "" {
		return filepath.ToSlash(dir)
	}
	return rel
}

// unwrapPath drops the path a *fs.PathError repeats: skips already say
// where.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// Stdin yields one item: a stream, named Name if given, so that expanders
// can match it by name (`--name bundle.js`).
type Stdin struct {
	R    io.Reader
	Name string
}

// Items implements scanner.Source.
func (s *Stdin) Items(ctx context.Context, emit func(scanner.Item) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return emit(scanner.Item{
		Loc:  finding.Location{Source: finding.SourceStdin, Path: scanner.Label(s.Name)},
		Size: -1,
		Open: func() (io.ReadCloser, error) { return io.NopCloser(ctxReader{ctx, s.R}), nil },
	})
}

// ctxReader stops reading when ctx is done (a terminal left open).
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
