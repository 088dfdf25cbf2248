//go:build unix

package gitsource

import (
	"errors"
	"math"
	"os"

	"golang.org/x/sys/unix"
)

// mapFile maps size bytes of f read-only. A pack is read in place: the
// page cache holds it already, and copying it would double what it costs.
func mapFile(f *os.File, size int64) ([]byte, func(), error) {
	if size <= 0 || size > math.MaxInt {
		return nil, nil, errors.New("cannot map an empty or huge file")
	}
	b, err := unix.Mmap(int(f.Fd()), 0, int(size), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return nil, nil, err
	}
	return b, func() { _ = unix.Munmap(b) }, nil
}

// dropMapped releases the pages of a read-only file mapping from the
// process; later reads map them again from the page cache.
func dropMapped(b []byte) { _ = unix.Madvise(b, unix.MADV_DONTNEED) }
