//go:build !linux

package filesource

import (
	"io"
	"io/fs"
	"os"
)

// openDir lists a directory; files are opened by path here (openIn is
// never called with a handle).
func openDir(name string) (*dirHandle, []fs.DirEntry, error) {
	entries, err := os.ReadDir(name)
	return nil, entries, err
}

func (s *Source) openIn(*dirHandle, string) (io.ReadCloser, error) {
	return nil, fs.ErrInvalid
}
