//go:build !unix

package gitsource

import (
	"errors"
	"os"
)

// mapFile is unix-only: elsewhere git reads the packs.
func mapFile(f *os.File, size int64) ([]byte, func(), error) {
	return nil, nil, errors.New("no mapping on this system")
}

func dropMapped([]byte) {}
