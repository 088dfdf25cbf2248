package archive

import (
	"bufio"
	"compress/bzip2"
	"context"
	"fmt"
	"io"
	"runtime"
	"strings"
	"sync"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"

	"github.com/atomyx/atomyx-guard/internal/fill"
	"github.com/atomyx/atomyx-guard/scanner"
	pbzip2 "github.com/atomyx/atomyx-guard/scanner/archive/internal/bzip2"
)

// maxBzip2Workers bounds the bzip2 blocks decoded at once (each holds up
// to 8 MB: its table and output).
const maxBzip2Workers = 4

// bzip2Workers is how many bzip2 blocks of one file are decoded at once.
func (x *Expander) bzip2Workers() int {
	n := runtime.GOMAXPROCS(0)
	if x.Workers > 0 {
		n = min(n, x.Workers)
	}
	return min(n, maxBzip2Workers)
}

// maxZstdWindow bounds the memory a zstd frame may ask for.
const maxZstdWindow = 64 << 20

// walkStream decompresses a single-stream format. A tar inside (tgz, tar.bz2,
// tar.zst) is walked directly, so that members read "pkg.tgz!package/x.js";
// anything else is one inner item named after the outer one.
func (x *Expander) walkStream(ctx context.Context, it scanner.Item, r io.Reader, f format, emit func(scanner.Item) error) error {
	var (
		dr    io.Reader
		inner string
	)
	switch f {
	case gzipFormat:
		zr, err := gzip.NewReader(r)
		if err != nil {
			return fmt.Errorf("gzip: %w", err)
		}
		defer zr.Close()
		dr, inner = zr, zr.Name
	case bzip2Format:
		if ra, ok := r.(scanner.RandomAccess); ok {
			// Blocks are decoded on several cores: a large file (a 64 MB
			// test corpus in Go's history) otherwise ends a scan alone.
			// readAhead below closes it.
			dr = pbzip2.NewReader(ra, ra.Size(), x.bzip2Workers())
		} else {
			dr = bzip2.NewReader(r)
		}
	case zstdFormat:
		zr, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true),
			zstd.WithDecoderMaxWindow(maxZstdWindow))
		if err != nil {
			return fmt.Errorf("zstd: %w", err)
		}
		defer zr.Close()
		dr = zr
	case brotliFormat:
		dr = brotli.NewReader(r)
	default:
		return fmt.Errorf("unknown format %v", f)
	}
	if _, ok := r.(scanner.RandomAccess); ok {
		// A file or bytes in memory: no read of it blocks for long, so
		// stop can wait for the decompressor. A stream (stdin) might.
		a := readAhead(dr, f)
		defer a.stop()
		dr = a
	}
	br := bufio.NewReaderSize(dr, scanner.HeadLen)
	head, err := br.Peek(scanner.HeadLen)
	if err != nil && err != io.EOF {
		return fmt.Errorf("%v: %w", f, err)
	}
	if isTar(head) {
		return walkTar(ctx, it, br, emit)
	}
	if inner == "" {
		inner = stripExt(name(it))
	}
	return emit(scanner.Item{
		Loc:  scanner.InnerLocation(it.Loc, inner),
		Size: -1,
		Open: func() (io.ReadCloser, error) { return io.NopCloser(&errPrefix{br, f.String()}), nil },
	})
}

// stripExt names the content of a compressed file: "a.js.gz" holds "a.js",
// "pkg.tgz" holds "pkg.tar", "blob" holds "blob".
func stripExt(n string) string {
	low := strings.ToLower(n)
	for _, s := range []struct{ ext, repl string }{
		{".tgz", ".tar"}, {".tbz2", ".tar"}, {".tbz", ".tar"}, {".tzst", ".tar"},
		{".gz", ""}, {".gzip", ""}, {".bz2", ""}, {".zst", ""}, {".zstd", ""}, {".br", ""},
	} {
		if strings.HasSuffix(low, s.ext) && len(n) > len(s.ext) {
			return n[:len(n)-len(s.ext)] + s.repl
		}
	}
	if n == "" {
		return "content"
	}
	return n
}

// errPrefix names the format in decompression errors ("gzip: ...").
type errPrefix struct {
	r      io.Reader
	format string
}

func (e *errPrefix) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err != nil && err != io.EOF && !strings.HasPrefix(err.Error(), e.format) {
		err = fmt.Errorf("%s: %w", e.format, err)
	}
	return n, err
}

// aheadChunk is how much a stream is decompressed ahead of its reader.
const aheadChunk = 256 << 10

var aheadBufs = sync.Pool{New: func() any { b := make([]byte, aheadChunk); return &b }}

// ahead is a stream decompressed by a goroutine of its own, a chunk in
// front of what reads it: decompressing and scanning what comes out took
// turns on one worker, and a large bzip2 file (a 64 MB test corpus in
// Go's history) then ended a history scan alone, one core idle.
type ahead struct {
	pr   *io.PipeReader
	done chan struct{}
	once sync.Once
}

// readAhead starts decompressing r, and closes it at the end if it is an
// io.Closer. stop must be called before r's own source goes away.
func readAhead(r io.Reader, f format) *ahead {
	pr, pw := io.Pipe()
	a := &ahead{pr: pr, done: make(chan struct{})}
	go func() {
		defer close(a.done)
		if c, ok := r.(io.Closer); ok {
			defer c.Close()
		}
		var err error
		defer func() {
			if p := recover(); p != nil { // hostile input
				err = fmt.Errorf("%v decompressor failed: %v", f, p)
			}
			pw.CloseWithError(err)
		}()
		bp := aheadBufs.Get().(*[]byte)
		defer aheadBufs.Put(bp)
		buf := *bp
		for {
			n, rerr := fill.Read(r, buf)
			if n > 0 {
				if _, werr := pw.Write(buf[:n]); werr != nil {
					return // the reader stopped
				}
			}
			if rerr != nil {
				if rerr != io.EOF {
					err = rerr // a truncated stream says so
				}
				return
			}
		}
	}()
	return a
}

func (a *ahead) Read(p []byte) (int, error) { return a.pr.Read(p) }

// stop ends the decompression, wherever the reader left it, and waits for
// the goroutine to let go of the stream.
func (a *ahead) stop() {
	a.once.Do(func() {
		a.pr.CloseWithError(errStopped)
		<-a.done
	})
}

var errStopped = fmt.Errorf("decompression stopped")
