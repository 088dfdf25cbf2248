package cli

import (
	"context"
	"io"
)

// ctxReader makes a reader give up when ctx is done, even while a Read
// of the underlying reader blocks (standard input from a pipe nobody
// closes: a blocking read that no signal interrupts). A pump goroutine
// reads into two buffers of its own, so that a read still blocked when
// ctx ends never writes into the caller's memory; it is left to the
// process's exit.
type ctxReader struct {
	ctx  context.Context
	full chan chunk
	free chan []byte
	cur  chunk
	off  int
	err  error
}

type chunk struct {
	buf []byte
	n   int
	err error
}

const ctxReadSize = 256 << 10

func newCtxReader(ctx context.Context, r io.Reader) io.Reader {
	c := &ctxReader{ctx: ctx, full: make(chan chunk), free: make(chan []byte, 2)}
	c.free <- make([]byte, ctxReadSize)
	c.free <- make([]byte, ctxReadSize)
	go c.pump(r)
	return c
}

func (c *ctxReader) pump(r io.Reader) {
	for {
		var buf []byte
		select {
		case buf = <-c.free:
		case <-c.ctx.Done():
			return
		}
		n, err := r.Read(buf)
		select {
		case c.full <- chunk{buf: buf, n: n, err: err}:
		case <-c.ctx.Done():
			return
		}
		if err != nil {
			return
		}
	}
}

func (c *ctxReader) Read(p []byte) (int, error) {
	for c.off >= c.cur.n {
		if c.cur.buf != nil {
			c.free <- c.cur.buf
			c.cur = chunk{}
		}
		if c.err != nil {
			return 0, c.err
		}
		select {
		case ch := <-c.full:
			c.cur, c.off, c.err = ch, 0, ch.err
			if c.cur.n == 0 && c.err == nil {
				continue
			}
		case <-c.ctx.Done():
			c.err = context.Cause(c.ctx)
			return 0, c.err
		}
	}
	n := copy(p, c.cur.buf[c.off:c.cur.n])
	c.off += n
	return n, nil
}
