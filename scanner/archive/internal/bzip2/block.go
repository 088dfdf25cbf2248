// Copyright 2011 The Go Authors. All rights reserved.
// Use of this source code is governed by a BSD-style
// license that can be found in the LICENSE file.

// Forked from compress/bzip2 (readBlock, inverseBWT, readFromBlock): a
// block is decoded on its own from a bit offset, into a block value that a
// worker reuses, so that the 3.6 MB tt table is not allocated per block.

package bzip2

import (
	"io"
	"sync/atomic"
)

// StructuralError is returned when the bzip2 data is found to be
// syntactically invalid.
type StructuralError string

func (s StructuralError) Error() string {
	return "bzip2 data invalid: " + string(s)
}

const (
	blockMagic = 0x314159265359
	finalMagic = 0x177245385090
)

// errCanceled ends the decoding of a block nobody wants any more.
var errCanceled = StructuralError("block decoding canceled")

// block decodes one bzip2 block and holds its state until its output has
// been read.
type block struct {
	br        bitReader
	blockSize int
	c         [256]uint
	tt        []uint32
	tPos      uint32

	preRLE      []uint32
	preRLEUsed  int
	lastByte    int
	byteRepeats uint
	repeats     uint

	wantCRC uint32 // stored in the block
	crc     uint32 // of the output so far
	end     int64  // bit offset just past the block
	out     []byte // held output, reused
}

// decode reads the block whose magic is at bit offset pos of ra[:size], up
// to the point where its output can be read with readFromBlock. It fails
// when canceled becomes true.
func (bz2 *block) decode(ra io.ReaderAt, size, pos int64, blockSize int, canceled *atomic.Bool) error {
	bz2.br.reset(ra, size, pos)
	bz2.blockSize = blockSize
	if cap(bz2.tt) < blockSize {
		bz2.tt = make([]uint32, blockSize)
	}
	bz2.tt = bz2.tt[:blockSize]
	if m := bz2.br.ReadBits64(48); bz2.br.err == nil && m != blockMagic {
		return StructuralError("bad magic value found")
	}
	err := bz2.readBlock(canceled)
	if bz2.br.err != nil {
		err = bz2.br.err
	}
	bz2.end = bz2.br.pos()
	return err
}

// readFromBlock reads bytes from the block's output into buf, returning
// the number read; 0 means the block is done.
func (bz2 *block) readFromBlock(buf []byte) int {
	// bzip2 is a block based compressor, except that it has a run-length
	// preprocessing step. The block based nature means that we can
	// preallocate fixed-size buffers and reuse them. However, the RLE
	// preprocessing would require allocating huge buffers to store the
	// maximum expansion. Thus we process blocks all at once, except for
	// the RLE which we decompress as required.
	// Not in compress/bzip2: the state is in local variables in the loop.
	tt, tPos, used := bz2.preRLE, bz2.tPos, bz2.preRLEUsed
	lastByte, byteRepeats, repeats := bz2.lastByte, bz2.byteRepeats, bz2.repeats
	n := 0
	for (repeats > 0 || used < len(tt)) && n < len(buf) {
		// We have RLE data pending.

		// The run-length encoding works like this:
		// Any sequence of four equal bytes is followed by a length
		// byte which contains the number of repeats of that byte to
		// include. (The number of repeats can be zero.) Because we are
		// decompressing on-demand our state is kept in the reader
		// object.

		if repeats > 0 {
			buf[n] = byte(lastByte)
			n++
			repeats--
			if repeats == 0 {
				lastByte = -1
			}
			continue
		}

		tPos = tt[tPos]
		b := byte(tPos)
		tPos >>= 8
		used++

		if byteRepeats == 3 {
			repeats = uint(b)
			byteRepeats = 0
			continue
		}

		if lastByte == int(b) {
			byteRepeats++
		} else {
			byteRepeats = 0
		}
		lastByte = int(b)

		buf[n] = b
		n++
	}
	bz2.tPos, bz2.preRLEUsed = tPos, used
	bz2.lastByte, bz2.byteRepeats, bz2.repeats = lastByte, byteRepeats, repeats

	bz2.crc = updateCRC(bz2.crc, buf[:n])
	return n
}

// readBlock reads a bzip2 block. The magic number should already have been consumed.
func (bz2 *block) readBlock(canceled *atomic.Bool) (err error) {
	br := &bz2.br
	bz2.wantCRC = uint32(br.ReadBits64(32))
	bz2.crc = 0
	randomized := br.ReadBits(1)
	if randomized != 0 {
		return StructuralError("deprecated randomized files")
	}
	origPtr := uint(br.ReadBits(24))

	// If not every byte value is used in the block (i.e., it's text) then
	// the symbol set is reduced. The symbols used are stored as a
	// two-level, 16x16 bitmap.
	symbolRangeUsedBitmap := br.ReadBits(16)
	symbolPresent := make([]bool, 256)
	numSymbols := 0
	for symRange := uint(0); symRange < 16; symRange++ {
		if symbolRangeUsedBitmap&(1<<(15-symRange)) != 0 {
			bits := br.ReadBits(16)
			for symbol := uint(0); symbol < 16; symbol++ {
				if bits&(1<<(15-symbol)) != 0 {
					symbolPresent[16*symRange+symbol] = true
					numSymbols++
				}
			}
		}
	}

	if numSymbols == 0 {
		// There must be an EOF symbol.
		return StructuralError("no symbols in input")
	}

	// A block uses between two and six different Huffman trees.
	numHuffmanTrees := br.ReadBits(3)
	if numHuffmanTrees < 2 || numHuffmanTrees > 6 {
		return StructuralError("invalid number of Huffman trees")
	}

	// The Huffman tree can switch every 50 symbols so there's a list of
	// tree indexes telling us which tree to use for each 50 symbol block.
	numSelectors := br.ReadBits(15)
	treeIndexes := make([]uint8, numSelectors)

	// The tree indexes are move-to-front transformed and stored as unary
	// numbers.
	mtfTreeDecoder := newMTFDecoderWithRange(numHuffmanTrees)
	for i := range treeIndexes {
		c := 0
		for {
			inc := br.ReadBits(1)
			if inc == 0 {
				break
			}
			c++
		}
		if c >= numHuffmanTrees {
			return StructuralError("tree index too large")
		}
		treeIndexes[i] = mtfTreeDecoder.Decode(c)
	}
	if br.err != nil {
		return br.err
	}

	// The list of symbols for the move-to-front transform is taken from
	// the previously decoded symbol bitmap.
	symbols := make([]byte, numSymbols)
	nextSymbol := 0
	for i := 0; i < 256; i++ {
		if symbolPresent[i] {
			symbols[nextSymbol] = byte(i)
			nextSymbol++
		}
	}
	mtf := newMTFDecoder(symbols)

	numSymbols += 2 // to account for RUNA and RUNB symbols
	huffmanTrees := make([]huffmanTree, numHuffmanTrees)

	// Now we decode the arrays of code-lengths for each tree.
	lengths := make([]uint8, numSymbols)
	for i := range huffmanTrees {
		// The code lengths are delta encoded from a 5-bit base value.
		length := br.ReadBits(5)
		for j := range lengths {
			for {
				if length < 1 || length > 20 {
					return StructuralError("Huffman length out of range")
				}
				if !br.ReadBit() {
					break
				}
				if br.ReadBit() {
					length--
				} else {
					length++
				}
			}
			lengths[j] = uint8(length)
		}
		huffmanTrees[i], err = newHuffmanTree(lengths)
		if err != nil {
			return err
		}
	}

	selectorIndex := 1 // the next tree index to use
	if len(treeIndexes) == 0 {
		return StructuralError("no tree selectors given")
	}
	if int(treeIndexes[0]) >= len(huffmanTrees) {
		return StructuralError("tree selector out of range")
	}
	currentHuffmanTree := huffmanTrees[treeIndexes[0]]
	bufIndex := 0 // indexes bz2.buf, the output buffer.
	// The output of the move-to-front transform is run-length encoded and
	// we merge the decoding into the Huffman parsing loop. These two
	// variables accumulate the repeat count. See
	// https://en.wikipedia.org/wiki/Bzip2#File_format
	repeat := 0
	repeatPower := 0

	// The `C' array (used by the inverse BWT) needs to be zero initialized.
	clear(bz2.c[:])

	decoded := 0 // counts the number of symbols decoded by the current tree.
	for {
		if decoded == 50 {
			if selectorIndex >= numSelectors {
				return StructuralError("insufficient selector indices for number of symbols")
			}
			if int(treeIndexes[selectorIndex]) >= len(huffmanTrees) {
				return StructuralError("tree selector out of range")
			}
			if br.err != nil { // not in compress/bzip2: a truncated block stops early
				return br.err
			}
			if selectorIndex&63 == 0 && canceled.Load() {
				return errCanceled
			}
			currentHuffmanTree = huffmanTrees[treeIndexes[selectorIndex]]
			selectorIndex++
			decoded = 0
		}

		v := currentHuffmanTree.Decode(br)
		decoded++

		if v < 2 {
			// This is either the RUNA or RUNB symbol.
			if repeat == 0 {
				repeatPower = 1
			}
			repeat += repeatPower << v
			repeatPower <<= 1

			// This limit of 2 million comes from the bzip2 source
			// code. It prevents repeat from overflowing.
			if repeat > 2*1024*1024 {
				return StructuralError("repeat count too large")
			}
			continue
		}

		if repeat > 0 {
			// We have decoded a complete run-length so we need to
			// replicate the last output symbol.
			if repeat > bz2.blockSize-bufIndex {
				return StructuralError("repeats past end of block")
			}
			for i := 0; i < repeat; i++ {
				b := mtf.First()
				bz2.tt[bufIndex] = uint32(b)
				bz2.c[b]++
				bufIndex++
			}
			repeat = 0
		}

		if int(v) == numSymbols-1 {
			// This is the EOF symbol. Because it's always at the
			// end of the move-to-front list, and never gets moved
			// to the front, it has this unique value.
			break
		}

		// Since two metasymbols (RUNA and RUNB) have values 0 and 1,
		// one would expect |v-2| to be passed to the MTF decoder.
		// However, the front of the MTF list is never referenced as 0,
		// it's always referenced with a run-length of 1. Thus 0
		// doesn't need to be encoded and we have |v-1| in the next
		// line.
		b := mtf.Decode(int(v - 1))
		if bufIndex >= bz2.blockSize {
			return StructuralError("data exceeds block size")
		}
		bz2.tt[bufIndex] = uint32(b)
		bz2.c[b]++
		bufIndex++
	}
	if br.err != nil {
		return br.err
	}

	if origPtr >= uint(bufIndex) {
		return StructuralError("origPtr out of bounds")
	}

	// We have completed the entropy decoding. Now we can perform the
	// inverse BWT and setup the RLE buffer.
	bz2.preRLE = bz2.tt[:bufIndex]
	bz2.preRLEUsed = 0
	bz2.tPos = inverseBWT(bz2.preRLE, origPtr, bz2.c[:])
	bz2.lastByte = -1
	bz2.byteRepeats = 0
	bz2.repeats = 0

	return nil
}

// inverseBWT implements the inverse Burrows-Wheeler transform as described in
// http://www.hpl.hp.com/techreports/Compaq-DEC/SRC-RR-124.pdf, section 4.2.
// In that document, origPtr is called “I” and c is the “C” array after the
// first pass over the data. It's an argument here because we merge the first
// pass with the Huffman decoding.
//
// This also implements the “single array” method from the bzip2 source code
// which leaves the output, still shuffled, in the bottom 8 bits of tt with the
// index of the next byte in the top 24-bits. The index of the first byte is
// returned.
func inverseBWT(tt []uint32, origPtr uint, c []uint) uint32 {
	sum := uint(0)
	for i := 0; i < 256; i++ {
		sum += c[i]
		c[i] = sum - c[i]
	}

	for i := range tt {
		b := tt[i] & 0xff
		tt[c[b]] |= uint32(i) << 8
		c[b]++
	}

	return tt[origPtr] >> 8
}

// This is a standard CRC32 like in hash/crc32 except that all the shifts are reversed,
// causing the bits in the input to be processed in the reverse of the usual order.

// crctab is slicing-by-8 (not in compress/bzip2, which goes a byte at a
// time): crctab[k][x] is the CRC of byte x followed by k zero bytes.
var crctab [8][256]uint32

func init() {
	const poly = 0x04C11DB7
	for i := range crctab[0] {
		crc := uint32(i) << 24
		for j := 0; j < 8; j++ {
			if crc&0x80000000 != 0 {
				crc = (crc << 1) ^ poly
			} else {
				crc <<= 1
			}
		}
		crctab[0][i] = crc
	}
	for k := 1; k < 8; k++ {
		for i := range crctab[k] {
			c := crctab[k-1][i]
			crctab[k][i] = c<<8 ^ crctab[0][c>>24]
		}
	}
}

// updateCRC updates the crc value to incorporate the data in b.
// The initial value is 0.
func updateCRC(val uint32, b []byte) uint32 {
	crc := ^val
	t := &crctab
	for ; len(b) >= 8; b = b[8:] {
		crc ^= uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
		crc = t[7][crc>>24] ^ t[6][byte(crc>>16)] ^ t[5][byte(crc>>8)] ^ t[4][byte(crc)] ^
			t[3][b[4]] ^ t[2][b[5]] ^ t[1][b[6]] ^ t[0][b[7]]
	}
	for _, v := range b {
		crc = t[0][byte(crc>>24)^v] ^ (crc << 8)
	}
	return ^crc
}
