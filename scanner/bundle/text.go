package bundle

import (
	"bytes"
	"encoding/binary"
	"sort"
	"sync"
	"unicode/utf8"
)

// lineIndex converts between byte offsets and the 1-based line and byte
// column the Detector reports. It is built on first use: most items hold no
// key and never need it.
type lineIndex struct {
	data   []byte
	once   sync.Once
	starts []int
}

func (x *lineIndex) build() {
	x.once.Do(func() {
		x.starts = append(x.starts, 0)
		for i := 0; ; {
			j := bytes.IndexByte(x.data[i:], '\n')
			if j < 0 {
				return
			}
			i += j + 1
			x.starts = append(x.starts, i)
		}
	})
}

// offset returns the byte offset of a 1-based line and column.
func (x *lineIndex) offset(line, col int) (int, bool) {
	x.build()
	if line < 1 || line > len(x.starts) || col < 1 {
		return 0, false
	}
	off := x.starts[line-1] + col - 1
	if off > len(x.data) {
		return 0, false
	}
	return off, true
}

// position returns the 1-based line and column of a byte offset.
func (x *lineIndex) position(off int) (line, col int) {
	x.build()
	i := sort.SearchInts(x.starts, off+1) - 1
	return i + 1, off - x.starts[i] + 1
}

// utf16Len counts the UTF-16 code units of b, the unit source maps count
// columns in. ASCII, the common case in bundles, is counted eight bytes at
// a time.
func utf16Len(b []byte) int {
	n := 0
	for len(b) >= 8 && binary.LittleEndian.Uint64(b)&0x8080808080808080 == 0 {
		n += 8
		b = b[8:]
	}
	for len(b) > 0 {
		if b[0] < utf8.RuneSelf {
			n++
			b = b[1:]
			for len(b) >= 8 && binary.LittleEndian.Uint64(b)&0x8080808080808080 == 0 {
				n += 8
				b = b[8:]
			}
			continue
		}
		r, size := utf8.DecodeRune(b)
		if r >= 0x10000 {
			n++
		}
		n++
		b = b[size:]
	}
	return n
}
