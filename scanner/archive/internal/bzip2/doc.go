// Package bzip2 decodes bzip2 files several blocks at a time. It is a fork
// of Go's compress/bzip2 (see LICENSE), which decodes one block after the
// other on one core: a 64 MB test corpus in Go's history then ended a
// history scan alone, the other core idle.
//
// A block can be decoded alone from the bit offset of its magic, but the
// magic is also found by chance inside block data, so jobs started at
// magics ahead are speculative: a block counts only if it starts exactly
// where the previous one ended, and the stream checksum still has to hold.
// Output is in order, never bytes of a block whose checksum failed (unless
// the block expands past maxHeld, as compress/bzip2 does for every block).
package bzip2
