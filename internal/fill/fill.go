// Package fill reads a buffer full from a stream, keeping the stream's own
// error: io.ReadFull turns an early io.EOF into io.ErrUnexpectedEOF, which
// a decompressor also returns for a truncated stream, so the two could no
// longer be told apart (a short last window against a corrupt archive).
package fill

import "io"

// maxEmpty is how many reads in a row may return nothing before the
// reader is taken to be stuck.
const maxEmpty = 100

// Read reads from r until buf is full or r fails, and returns the bytes
// read with r's error as is: io.EOF for a clean end, anything else for a
// failure. A reader that returns nothing, and no error, maxEmpty times in
// a row fails with io.ErrNoProgress.
func Read(r io.Reader, buf []byte) (int, error) {
	n, empty := 0, 0
	for n < len(buf) {
		m, err := r.Read(buf[n:])
		n += m
		if err != nil {
			return n, err
		}
		if m > 0 {
			empty = 0
		} else if empty++; empty == maxEmpty {
			return n, io.ErrNoProgress
		}
	}
	return n, nil
}
