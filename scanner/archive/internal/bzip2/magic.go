package bzip2

import "io"

// magicScanner finds the bit offsets where a block magic starts: blocks
// are not byte aligned, so the 48 bits may start at any bit. Some of them
// are chance matches inside block data; the Reader tells them apart by
// where the previous block ends.
type magicScanner struct {
	ra   io.ReaderAt
	size int64
	buf  []byte
	off  int64 // byte offset of buf[0] in the input
	next int64 // bit offset from which to look
}

const scanChunk = 64 << 10

// find returns the first block magic at or after bit offset s.next.
func (s *magicScanner) find() (int64, bool, error) {
	const mask = 1<<48 - 1
	from := s.next / 8
	var v uint64
	for i := from; i < s.size; i++ {
		if i < s.off || i >= s.off+int64(len(s.buf)) {
			if s.buf == nil {
				s.buf = make([]byte, scanChunk)
			}
			s.buf = s.buf[:min(int64(cap(s.buf)), s.size-i)]
			n, err := s.ra.ReadAt(s.buf, i)
			if n < len(s.buf) {
				if err == nil || err == io.EOF {
					err = io.ErrUnexpectedEOF
				}
				s.buf = s.buf[:0]
				return 0, false, err
			}
			s.off = i
		}
		v = v<<8 | uint64(s.buf[i-s.off])
		if i-from < 5 {
			continue // fewer than 48 bits in v
		}
		for sh := 7; sh >= 0; sh-- {
			if (v>>sh)&mask == blockMagic {
				start := (i+1)*8 - int64(sh) - 48
				if start >= s.next && start >= from*8 {
					s.next = start + 1
					return start, true, nil
				}
			}
		}
	}
	s.next = s.size * 8
	return 0, false, nil
}
