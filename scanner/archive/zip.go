package archive

import (
	"archive/zip"
	"bufio"
	"bytes"
	"compress/bzip2"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"strings"

	"github.com/klauspost/compress/flate"
	"github.com/klauspost/compress/zstd"

	"github.com/atomyx/atomyx-guard/scanner"
)

// Zip compression methods beyond store and deflate that are worth reading.
const (
	methodBzip2 = 12
	methodZstd  = 93
)

// walkZip emits every file of a zip. A zip is read from its end (the
// central directory), so it needs random access: the content's own when it
// has it, else a copy in memory, or on disk past MemLimit. A zip whose
// central directory cannot be read (truncated, damaged) is walked by its
// local headers instead, for whatever entries they still give.
func (x *Expander) walkZip(ctx context.Context, it scanner.Item, r io.Reader, emit func(scanner.Item) error) error {
	ra, size, done, err := x.readerAt(it, r)
	if err != nil {
		return err
	}
	defer done()
	zr, err := zip.NewReader(ra, size)
	if errors.Is(err, zip.ErrInsecurePath) {
		err = nil // a name is only a label here
	}
	if err != nil {
		n, lerr := walkLocal(ctx, it, ra, size, emit)
		if lerr != nil {
			return lerr
		}
		if n == 0 {
			return err // "zip: ..."
		}
		return fmt.Errorf("%w (%d entries recovered from local headers)", err, n)
	}
	zr.RegisterDecompressor(zip.Deflate, flate.NewReader)
	zr.RegisterDecompressor(methodBzip2, bzip2Decompressor)
	zr.RegisterDecompressor(methodZstd, zstdDecompressor)
	for _, f := range zr.File {
		if err := ctx.Err(); err != nil {
			return err
		}
		mode := f.Mode()
		if strings.HasSuffix(f.Name, "/") || mode.IsDir() || mode&fs.ModeSymlink != 0 {
			continue
		}
		in := scanner.Item{Loc: scanner.InnerLocation(it.Loc, f.Name), Size: -1}
		if f.UncompressedSize64 <= math.MaxInt64 {
			in.Size = int64(f.UncompressedSize64)
		}
		if f.Flags&1 != 0 {
			in.SkipReason = "encrypted zip entry: not scanned"
		}
		in.Open = func() (io.ReadCloser, error) {
			rc, err := f.Open()
			if err != nil {
				return nil, fmt.Errorf("zip entry (method %d): %w", f.Method, err)
			}
			return rc, nil
		}
		if err := emit(in); err != nil {
			return err
		}
	}
	return nil
}

func bzip2Decompressor(r io.Reader) io.ReadCloser { return io.NopCloser(bzip2.NewReader(r)) }

func zstdDecompressor(r io.Reader) io.ReadCloser {
	d, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true),
		zstd.WithDecoderMaxWindow(maxZstdWindow))
	if err != nil {
		return io.NopCloser(errReader{fmt.Errorf("zstd: %w", err)})
	}
	return d.IOReadCloser()
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

// readerAt gives random access to a zip: r's own, or a copy.
func (x *Expander) readerAt(it scanner.Item, r io.Reader) (io.ReaderAt, int64, func(), error) {
	if ra, ok := r.(scanner.RandomAccess); ok {
		return ra, ra.Size(), func() {}, nil
	}
	limit := x.MemLimit
	if limit <= 0 {
		limit = defaultMemLimit
	}
	var buf bytes.Buffer
	if it.Size > 0 && it.Size <= limit {
		buf.Grow(int(it.Size) + 1)
	}
	n, err := io.Copy(&buf, io.LimitReader(r, limit+1))
	if err != nil {
		return nil, 0, nil, fmt.Errorf("read: %w", err)
	}
	if n <= limit {
		return bytes.NewReader(buf.Bytes()), n, func() {}, nil
	}
	f, err := os.CreateTemp(x.TempDir, "atomyx-guard-zip-*")
	if err != nil {
		return nil, 0, nil, fmt.Errorf("zip larger than %d bytes needs a temporary file: %w", limit, err)
	}
	done := func() {
		f.Close()
		os.Remove(f.Name())
	}
	if _, err := buf.WriteTo(f); err != nil {
		done()
		return nil, 0, nil, fmt.Errorf("temporary copy: %w", err)
	}
	buf = bytes.Buffer{}
	m, err := io.Copy(f, r)
	if err != nil {
		done()
		return nil, 0, nil, fmt.Errorf("temporary copy: %w", err)
	}
	return f, n + m, done, nil
}

// walkLocal reads a zip from its local headers, front to back: the way to
// get at the entries of a zip that lost its end. It returns how many
// entries it emitted; its error is ctx's or emit's only.
func walkLocal(ctx context.Context, it scanner.Item, ra io.ReaderAt, size int64, emit func(scanner.Item) error) (int, error) {
	const hdrLen = 30
	n := 0
	off := findSig(ra, 0, size)
	for off >= 0 && off+hdrLen <= size {
		if err := ctx.Err(); err != nil {
			return n, err
		}
		var h [hdrLen]byte
		if _, err := ra.ReadAt(h[:], off); err != nil {
			break
		}
		flags := binary.LittleEndian.Uint16(h[6:])
		method := binary.LittleEndian.Uint16(h[8:])
		csize := int64(binary.LittleEndian.Uint32(h[18:]))
		usize := int64(binary.LittleEndian.Uint32(h[22:]))
		nameLen := int64(binary.LittleEndian.Uint16(h[26:]))
		extraLen := int64(binary.LittleEndian.Uint16(h[28:]))
		nameExtra := make([]byte, nameLen+extraLen)
		if _, err := ra.ReadAt(nameExtra, off+hdrLen); err != nil {
			break
		}
		name := string(nameExtra[:nameLen])
		if csize == math.MaxUint32 || usize == math.MaxUint32 {
			_, csize = zip64Sizes(nameExtra[nameLen:], usize, csize)
		}
		data := off + hdrLen + nameLen + extraLen
		known := flags&8 == 0 && csize >= 0 && data+csize <= size
		next := data
		if known {
			next = data + csize
		}
		if strings.HasSuffix(name, "/") {
			off = findSig(ra, next, size)
			continue
		}
		in := scanner.Item{Loc: scanner.InnerLocation(it.Loc, name), Size: -1}
		var body io.Reader
		switch {
		case flags&1 != 0:
			in.SkipReason = "encrypted zip entry: not scanned"
		case known:
			body = io.NewSectionReader(ra, data, csize)
			if method == zip.Store {
				in.Size = csize
			}
		case method == zip.Deflate:
			// Deflate marks its own end; the size is in a trailer.
			body = bufio.NewReader(io.NewSectionReader(ra, data, size-data))
		default:
			in.SkipReason = fmt.Sprintf("damaged zip: entry of unknown size (method %d) cannot be recovered", method)
		}
		if body != nil {
			switch method {
			case zip.Store:
				in.Open = func() (io.ReadCloser, error) { return io.NopCloser(body), nil }
			case zip.Deflate:
				in.Open = func() (io.ReadCloser, error) { return flate.NewReader(body), nil }
			case methodBzip2:
				in.Open = func() (io.ReadCloser, error) { return bzip2Decompressor(body), nil }
			case methodZstd:
				in.Open = func() (io.ReadCloser, error) { return zstdDecompressor(body), nil }
			default:
				in.SkipReason = fmt.Sprintf("zip entry: unsupported compression method %d", method)
			}
		}
		if err := emit(in); err != nil {
			return n, err
		}
		n++
		if next == data {
			next++
		}
		off = findSig(ra, next, size)
	}
	return n, nil
}

// zip64Sizes reads the sizes a zip64 extra field holds for a local header.
func zip64Sizes(extra []byte, usize, csize int64) (int64, int64) {
	for len(extra) >= 4 {
		id := binary.LittleEndian.Uint16(extra)
		n := int(binary.LittleEndian.Uint16(extra[2:]))
		extra = extra[4:]
		if n > len(extra) {
			break
		}
		if id == 1 && n >= 16 {
			u := binary.LittleEndian.Uint64(extra)
			c := binary.LittleEndian.Uint64(extra[8:])
			if u <= math.MaxInt64 && c <= math.MaxInt64 {
				return int64(u), int64(c)
			}
			return -1, -1
		}
		extra = extra[n:]
	}
	return usize, csize
}

var localSig = []byte("PK\x03\x04")

// findSig returns the offset of the next local header signature at or after
// off, or -1.
func findSig(ra io.ReaderAt, off, size int64) int64 {
	const chunk = 64 << 10
	buf := make([]byte, chunk)
	for off < size {
		n, err := ra.ReadAt(buf[:min(chunk, size-off)], off)
		if i := bytes.Index(buf[:n], localSig); i >= 0 {
			return off + int64(i)
		}
		if err != nil && err != io.EOF || n < len(localSig) {
			return -1
		}
		off += int64(n - len(localSig) + 1)
	}
	return -1
}
