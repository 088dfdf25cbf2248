package bzip2

import (
	"fmt"
	"io"
	"sync"
	"sync/atomic"
)

// maxHeld bounds the output a block decodes ahead of its reader: RLE1 can
// expand a 900k block to ~46 MB. Beyond it the rest of the block is decoded
// as it is read, and its checksum is checked at its end, as compress/bzip2
// does for every block.
const maxHeld = 4 << 20

// Reader decodes a bzip2 file (one stream or several concatenated), up to
// ahead blocks at a time besides the one being waited for.
type Reader struct {
	ra    io.ReaderAt
	size  int64
	ahead int
	scan  magicScanner
	find  func() (int64, bool, error) // scan.find; tests add chance magics
	hdr   bitReader                   // stream headers, magics and trailers

	pos       int64  // bit offset of the next block or trailer
	first     bool   // pos is at the first stream's header
	blockSize int    // of the current stream; 0 at a stream header
	streamCRC uint32 // combined CRC of the current stream's blocks

	cur  *job   // the block being read
	out  []byte // cur's held output not yet read
	jobs []*job // started ahead, by start offset
	dead []*job // canceled, maybe still running
	free []*block
	n    int // blocks owned
	err  error
}

// job decodes the block that may start at bit offset start.
type job struct {
	start     int64
	blockSize int
	b         *block
	canceled  atomic.Bool
	done      chan struct{}
	err       error
	held      []byte // output decoded ahead
	complete  bool   // held is all the output, its checksum checked
}

var blocks = sync.Pool{New: func() any { return new(block) }}

// NewReader reads the bzip2 file ra[:size], decoding up to workers blocks
// at a time, each in a goroutine of its own (1: one after the other, but
// apart from the reader). Close must be called to stop them.
func NewReader(ra io.ReaderAt, size int64, workers int) *Reader {
	r := &Reader{ra: ra, size: size, ahead: max(workers-1, 0), first: true,
		scan: magicScanner{ra: ra, size: size}}
	r.find = r.scan.find
	return r
}

// Read implements io.Reader.
func (r *Reader) Read(p []byte) (int, error) {
	for r.err == nil {
		if r.cur != nil {
			if len(r.out) > 0 {
				n := copy(p, r.out)
				r.out = r.out[n:]
				return n, nil
			}
			b := r.cur.b
			if !r.cur.complete {
				if len(p) == 0 {
					return 0, nil
				}
				if n := b.readFromBlock(p); n > 0 {
					return n, nil
				}
				if b.crc != b.wantCRC {
					r.fail(StructuralError("block checksum mismatch"))
					break
				}
			}
			r.streamCRC = (r.streamCRC<<1 | r.streamCRC>>31) ^ b.wantCRC
			r.pos = b.end
			r.free = append(r.free, b)
			r.cur = nil
		}
		if len(p) == 0 {
			return 0, nil
		}
		if err := r.next(); err != nil {
			r.fail(err)
		}
	}
	return 0, r.err
}

// fail makes err sticky and stops the work ahead.
func (r *Reader) fail(err error) {
	r.err = err
	r.discard(0)
}

// next finds the block at r.pos, past stream trailers and headers, and
// makes it r.cur.
func (r *Reader) next() error {
	for {
		br := &r.hdr
		br.reset(r.ra, r.size, r.pos)
		if r.blockSize == 0 {
			if !r.first && r.pos/8 == r.size {
				return io.EOF
			}
			if br.ReadBits(16) != 0x425a && br.err == nil {
				if r.first {
					return StructuralError("bad magic value")
				}
				return StructuralError("bad magic value in continuation file")
			}
			if br.ReadBits(8) != 'h' && br.err == nil {
				return StructuralError("non-Huffman entropy encoding")
			}
			level := br.ReadBits(8)
			if br.err != nil {
				return br.err
			}
			if level < '1' || level > '9' {
				return StructuralError("invalid compression level")
			}
			r.blockSize = 100 * 1000 * (level - '0')
			r.first = false
			r.streamCRC = 0
			r.pos = br.pos()
		}
		switch magic := br.ReadBits64(48); {
		case br.err != nil:
			return br.err
		case magic == finalMagic:
			want := uint32(br.ReadBits64(32))
			if br.err != nil {
				return br.err
			}
			if want != r.streamCRC {
				return StructuralError("file checksum mismatch")
			}
			r.pos = (br.pos() + 7) / 8 * 8
			r.blockSize = 0
		case magic == blockMagic:
			j, err := r.take(r.pos)
			if err != nil {
				return err
			}
			if err := r.speculate(); err != nil {
				j.canceled.Store(true)
				r.dead = append(r.dead, j)
				return err
			}
			<-j.done
			if j.err != nil {
				r.free = append(r.free, j.b)
				return j.err
			}
			r.cur, r.out = j, j.held
			return nil
		default:
			return StructuralError("bad magic value found")
		}
	}
}

// take returns the job of the block at pos, started ahead or now. Jobs
// before it were chance magics inside blocks: they are canceled.
func (r *Reader) take(pos int64) (*job, error) {
	i := 0
	for i < len(r.jobs) && r.jobs[i].start < pos {
		i++
	}
	if i < len(r.jobs) && r.jobs[i].start == pos && r.jobs[i].blockSize == r.blockSize {
		j := r.jobs[i]
		r.discardBefore(i)
		r.jobs = r.jobs[1:]
		return j, nil
	}
	r.discard(0)
	r.scan.next = pos + 1
	return r.start(pos)
}

// speculate starts jobs at the next block magics, up to r.ahead.
func (r *Reader) speculate() error {
	if r.scan.next <= r.pos {
		r.scan.next = r.pos + 1
	}
	for len(r.jobs) < r.ahead {
		c, ok, err := r.find()
		if err != nil || !ok {
			return err
		}
		j, err := r.start(c)
		if err != nil {
			return err
		}
		r.jobs = append(r.jobs, j)
	}
	return nil
}

// start decodes the block at pos in a goroutine of its own; the caller
// keeps the job.
func (r *Reader) start(pos int64) (*job, error) {
	var b *block
	switch {
	case len(r.free) > 0:
		b = r.free[len(r.free)-1]
		r.free = r.free[:len(r.free)-1]
	case r.n < r.ahead+1:
		b = blocks.Get().(*block)
		r.n++
	default: // every block is owned by a canceled job
		j := r.dead[0]
		<-j.done
		r.dead = r.dead[1:]
		b = j.b
	}
	j := &job{start: pos, blockSize: r.blockSize, b: b, done: make(chan struct{})}
	go j.run(r.ra, r.size)
	return j, nil
}

func (j *job) run(ra io.ReaderAt, size int64) {
	defer close(j.done)
	defer func() {
		if p := recover(); p != nil { // hostile input
			j.err = fmt.Errorf("bzip2 decoder failed: %v", p)
		}
	}()
	b := j.b
	if j.err = b.decode(ra, size, j.start, j.blockSize, &j.canceled); j.err != nil {
		return
	}
	out := b.out[:0]
	if out == nil {
		out = make([]byte, 0, 256<<10)
	}
	for {
		if len(out) == cap(out) {
			if cap(out) >= maxHeld {
				break
			}
			out = append(out, make([]byte, min(cap(out), maxHeld-cap(out)))...)[:len(out)]
		}
		n := b.readFromBlock(out[len(out):cap(out)])
		if n == 0 {
			j.complete = true
			break
		}
		out = out[:len(out)+n]
		if j.canceled.Load() {
			j.err = errCanceled
			return
		}
	}
	b.out = out
	if j.complete && b.crc != b.wantCRC {
		j.err = StructuralError("block checksum mismatch")
		return
	}
	j.held = out
}

// discardBefore cancels the jobs before r.jobs[i].
func (r *Reader) discardBefore(i int) {
	for _, j := range r.jobs[:i] {
		j.canceled.Store(true)
		r.dead = append(r.dead, j)
	}
	r.jobs = r.jobs[i:]
}

// discard cancels the jobs from r.jobs[i] on.
func (r *Reader) discard(i int) {
	for _, j := range r.jobs[i:] {
		j.canceled.Store(true)
		r.dead = append(r.dead, j)
	}
	r.jobs = r.jobs[:i]
}

// Close stops the decoding ahead and waits for it.
func (r *Reader) Close() error {
	r.discard(0)
	if r.err == nil {
		r.err = errClosed
	}
	for _, j := range r.dead {
		<-j.done
		blocks.Put(j.b)
	}
	r.dead = nil
	for _, b := range r.free {
		blocks.Put(b)
	}
	r.free = nil
	if r.cur != nil {
		blocks.Put(r.cur.b)
		r.cur = nil
	}
	return nil
}

var errClosed = fmt.Errorf("bzip2: read after Close")
