package filesource

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"slices"
	"strings"

	"golang.org/x/sys/unix"
)

// openDir lists a directory and keeps it open: the files listed are opened
// relative to it (see openIn). It is opened as os.ReadDir does, not with
// os.Open, which offers it to the runtime's poller and takes it back:
// five system calls per directory.
func openDir(name string) (*dirHandle, []fs.DirEntry, error) {
	var fd int
	var err error
	for {
		fd, err = unix.Open(name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		return nil, nil, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	f := os.NewFile(uintptr(fd), name)
	entries, err := f.ReadDir(-1)
	slices.SortFunc(entries, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	rc, rerr := f.SyscallConn()
	if rerr != nil {
		f.Close()
		return nil, entries, err
	}
	d := &dirHandle{f: f, rc: rc}
	d.refs.Store(1)
	return d, entries, err
}

// openIn is openRegular for the file name lists in d: one path component
// for the kernel to resolve, not all of a deep path, and a symlink swapped
// in since the listing is refused, not followed. The file is read through
// its descriptor, without an os.File: the runtime's poller cannot take a
// regular file, and asking it to was a failed system call per file.
func (s *Source) openIn(d *dirHandle, name string) (io.ReadCloser, error) {
	fd := -1
	var err error
	cerr := d.rc.Control(func(dfd uintptr) {
		for {
			fd, err = unix.Openat(int(dfd), name, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_NOFOLLOW|unix.O_CLOEXEC|unix.O_NOCTTY, 0)
			if err != unix.EINTR {
				return
			}
		}
	})
	if cerr != nil {
		return nil, fmt.Errorf("open: %w", cerr)
	}
	if errors.Is(err, unix.ELOOP) {
		return nil, errors.New("open: a symlink since the directory was listed: not followed")
	}
	if err != nil {
		return nil, fmt.Errorf("open: %w", err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("stat: %w", err)
	}
	if m := st.Mode & unix.S_IFMT; m != unix.S_IFREG {
		unix.Close(fd)
		return nil, errors.New(specialReason(modeOf(m)))
	}
	if kfs := s.kernelFSOfFd(fd, st.Dev); kfs != "" {
		unix.Close(fd)
		return nil, fmt.Errorf("on a %s file system: a kernel file system, never read", kfs)
	}
	// Fewer blocks than the size needs: holes, which Read gives as zeros
	// without reading them.
	sparse := st.Size >= minSparse && st.Blocks*512 < st.Size-minSparse/2
	return &fdFile{fd: fd, size: st.Size, sparse: sparse}, nil
}

// minSparse is the least size, and half the least hole, worth looking for
// holes in: two more system calls per file.
const minSparse = 1 << 20

// kernelFSOfFd names the kernel file system an open file lies on ("" for
// an ordinary one), asking the kernel once per device.
func (s *Source) kernelFSOfFd(fd int, dev uint64) string {
	if v, ok := s.fsOf.Load(dev); ok {
		return v.(string)
	}
	name, _ := kernelFSOfFd(fd)
	s.fsOf.Store(dev, name)
	return name
}

// modeOf is the type bits of a stat's mode as an fs.FileMode.
func modeOf(m uint32) fs.FileMode {
	switch m {
	case unix.S_IFDIR:
		return fs.ModeDir
	case unix.S_IFIFO:
		return fs.ModeNamedPipe
	case unix.S_IFSOCK:
		return fs.ModeSocket
	case unix.S_IFCHR:
		return fs.ModeDevice | fs.ModeCharDevice
	case unix.S_IFBLK:
		return fs.ModeDevice
	case unix.S_IFLNK:
		return fs.ModeSymlink
	}
	return fs.ModeIrregular
}

// fdFile is an open regular file read through its descriptor. It
// implements scanner.RandomAccess; it is not safe for concurrent use.
type fdFile struct {
	fd   int
	size int64
	// sparse files are read by extent: a hole is given as zeros without a
	// read (the kernel makes a hole's pages one at a time, at under a
	// gigabyte a second here: a sparse disk image of 50 GB took 95 s),
	// data with pread at off, known to run to dataEnd.
	sparse  bool
	off     int64
	dataEnd int64
}

// maxRW caps one read, as os.File does.
const maxRW = 1 << 30

func (f *fdFile) Read(p []byte) (int, error) {
	if f.fd < 0 {
		return 0, os.ErrClosed
	}
	if len(p) == 0 {
		return 0, nil
	}
	if f.sparse {
		return f.readSparse(p)
	}
	for {
		n, err := unix.Read(f.fd, p[:min(len(p), maxRW)])
		switch {
		case err == unix.EINTR:
			continue
		case err != nil:
			return 0, err
		case n == 0:
			return 0, io.EOF
		}
		return n, nil
	}
}

// readSparse reads at f.off: zeros up to the next data in a hole, else
// the data up to the next hole. Where the kernel cannot say (a file
// system without SEEK_DATA), it reads on, hole or not.
func (f *fdFile) readSparse(p []byte) (int, error) {
	if f.off >= f.dataEnd {
		data, err := unix.Seek(f.fd, f.off, unix.SEEK_DATA)
		switch {
		case err == unix.ENXIO: // no data after off: a hole to the end
			data = max(f.off, f.size)
			if data == f.off {
				return 0, io.EOF
			}
		case err != nil:
			f.dataEnd = math.MaxInt64
		}
		if err == nil || err == unix.ENXIO {
			if data > f.off {
				n := int(min(int64(len(p)), data-f.off))
				clear(p[:n])
				f.off += int64(n)
				return n, nil
			}
			hole, err := unix.Seek(f.fd, f.off, unix.SEEK_HOLE)
			if err != nil {
				hole = math.MaxInt64
			}
			f.dataEnd = hole
		}
	}
	n, err := f.ReadAt(p[:min(int64(len(p)), f.dataEnd-f.off)], f.off)
	f.off += int64(n)
	if n > 0 && err == io.EOF {
		err = nil
	}
	return n, err
}

func (f *fdFile) ReadAt(p []byte, off int64) (int, error) {
	if f.fd < 0 {
		return 0, os.ErrClosed
	}
	n := 0
	for n < len(p) {
		m, err := unix.Pread(f.fd, p[n:min(len(p), n+maxRW)], off+int64(n))
		switch {
		case err == unix.EINTR:
			continue
		case err != nil:
			return n, err
		case m == 0:
			return n, io.EOF
		}
		n += m
	}
	return n, nil
}

// Size implements scanner.RandomAccess: the size the open's stat said.
func (f *fdFile) Size() int64 { return f.size }

func (f *fdFile) Close() error {
	if f.fd < 0 {
		return os.ErrClosed
	}
	err := unix.Close(f.fd)
	f.fd = -1
	return err
}
