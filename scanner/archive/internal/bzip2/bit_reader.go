// Copyright 2011 The Go Authors. All rights reserved.
// Use of this source code is governed by a BSD-style
// license that can be found in the LICENSE file.

// Forked from compress/bzip2: reads from any bit offset of an io.ReaderAt
// and knows the bit offset it has reached, so that a block can be decoded
// on its own and the next one found where it ends.

package bzip2

import (
	"bufio"
	"io"
)

// bitReader reads bits, most significant first, from a byte offset on.
type bitReader struct {
	r    *bufio.Reader
	n    uint64
	bits uint
	err  error
	base int64 // byte offset in the input of the first byte read
	read int64 // bytes read from r
}

// reset positions br at bit offset pos of ra[:size].
func (br *bitReader) reset(ra io.ReaderAt, size, pos int64) {
	sr := io.NewSectionReader(ra, pos/8, size-pos/8)
	if br.r == nil {
		br.r = bufio.NewReaderSize(sr, 16<<10)
	} else {
		br.r.Reset(sr)
	}
	*br = bitReader{r: br.r, base: pos / 8}
	br.ReadBits(uint(pos % 8))
}

// pos is the bit offset of the next bit to read.
func (br *bitReader) pos() int64 { return (br.base+br.read)*8 - int64(br.bits) }

// ReadBits64 reads the given number of bits and returns them in the
// least-significant part of a uint64. In the event of an error, it returns 0
// and the error can be obtained by calling bitReader.Err().
func (br *bitReader) ReadBits64(bits uint) (n uint64) {
	for bits > br.bits {
		b, err := br.r.ReadByte()
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		if err != nil {
			br.err = err
			return 0
		}
		br.read++
		br.n <<= 8
		br.n |= uint64(b)
		br.bits += 8
	}

	// br.n looks like this (assuming that br.bits = 14 and bits = 6):
	// Bit: 111111
	//      5432109876543210
	//
	//         (6 bits, the desired output)
	//        |-----|
	//        V     V
	//      0101101101001110
	//        ^            ^
	//        |------------|
	//           br.bits (num valid bits)
	//
	// The next line right shifts the desired bits into the
	// least-significant places and masks off anything above.
	n = (br.n >> (br.bits - bits)) & ((1 << bits) - 1)
	br.bits -= bits
	return
}

func (br *bitReader) ReadBits(bits uint) (n int) {
	n64 := br.ReadBits64(bits)
	return int(n64)
}

func (br *bitReader) ReadBit() bool {
	n := br.ReadBits(1)
	return n != 0
}

func (br *bitReader) Err() error {
	return br.err
}
