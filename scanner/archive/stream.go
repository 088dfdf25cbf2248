package archive

import (
	"bufio"
	"compress/bzip2"
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"

	"github.com/atomyx/atomyx-guard/scanner"
)

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
		dr = bzip2.NewReader(r)
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
