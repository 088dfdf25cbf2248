package archive

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"path"
	"strings"

	"github.com/atomyx/atomyx-guard/scanner"
)

// Expander opens every format the package knows. The zero value is ready.
type Expander struct {
	// MemLimit is how much of a zip that comes as a stream (a member of
	// another archive, stdin) is held in memory; beyond it the zip is
	// copied to a temporary file. 64 MiB when zero.
	MemLimit int64
	// TempDir is where such copies go; os.TempDir when empty.
	TempDir string
	// Workers bounds the cores one file's blocks are decoded on (bzip2);
	// GOMAXPROCS when zero.
	Workers int
}

var _ scanner.Expander = (*Expander)(nil)

const defaultMemLimit = 64 << 20

// format is what an item's first bytes and name say it is.
type format int

const (
	none format = iota
	zipMagic
	zipName // a zip by its name only: self-extracting, crx, damaged
	tarFormat
	gzipFormat
	bzip2Format
	zstdFormat
	brotliFormat
)

func (f format) String() string {
	return [...]string{"none", "zip", "zip", "tar", "gzip", "bzip2", "zstd", "brotli"}[f]
}

// zipExts are the names of zip-based formats, for zips that do not start
// with a local header.
var zipExts = map[string]bool{
	".zip": true, ".jar": true, ".war": true, ".ear": true, ".aar": true,
	".whl": true, ".egg": true, ".apk": true, ".aab": true, ".ipa": true,
	".vsix": true, ".nupkg": true, ".xpi": true, ".crx": true,
	".docx": true, ".xlsx": true, ".pptx": true, ".odt": true, ".ods": true, ".odp": true,
	".epub": true, ".kmz": true,
}

// sniff identifies a format by magic number, then by name for the formats
// that have no reliable magic (brotli) or may not show it at offset 0.
func sniff(name string, head []byte) format {
	switch {
	case bytes.HasPrefix(head, []byte("PK\x03\x04")), bytes.HasPrefix(head, []byte("PK\x05\x06")),
		bytes.HasPrefix(head, []byte("PK\x07\x08")):
		return zipMagic
	case len(head) >= 3 && head[0] == 0x1f && head[1] == 0x8b && head[2] == 8:
		return gzipFormat
	case isBzip2(head):
		return bzip2Format
	case bytes.HasPrefix(head, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		return zstdFormat
	case isTar(head):
		return tarFormat
	}
	ext := strings.ToLower(path.Ext(name))
	switch {
	case ext == ".br":
		return brotliFormat
	case zipExts[ext] && len(head) > 0:
		return zipName
	}
	return none
}

func isBzip2(h []byte) bool {
	if len(h) < 10 || h[0] != 'B' || h[1] != 'Z' || h[2] != 'h' || h[3] < '1' || h[3] > '9' {
		return false
	}
	return bytes.HasPrefix(h[4:], []byte{0x31, 0x41, 0x59, 0x26, 0x53, 0x59}) || // block
		bytes.HasPrefix(h[4:], []byte{0x17, 0x72, 0x45, 0x38, 0x50, 0x90}) // empty stream
}

// isTar checks a tar header block: its checksum, which every tar flavour
// has (v7 tars have no magic), and a name.
func isTar(h []byte) bool {
	if len(h) < 512 || h[0] == 0 {
		return false
	}
	field := bytes.TrimRight(bytes.TrimLeft(h[148:156], " "), " \x00")
	if len(field) == 0 {
		return false
	}
	var want int64
	for _, c := range field {
		if c < '0' || c > '7' {
			return false
		}
		want = want*8 + int64(c-'0')
	}
	var sum int64
	for i, c := range h[:512] {
		if i >= 148 && i < 156 {
			c = ' '
		}
		sum += int64(c)
	}
	return sum == want
}

// name is the last component of an item's label, for matching by name.
func name(it scanner.Item) string {
	n := it.Loc.Path
	if n == "" {
		n = it.Loc.URL
		if i := strings.IndexAny(n, "?#"); i >= 0 {
			n = n[:i]
		}
	}
	if i := strings.LastIndexAny(n, "!/\\"); i >= 0 {
		n = n[i+1:]
	}
	return n
}

// Match implements scanner.Expander.
func (x *Expander) Match(it scanner.Item, head []byte) (ok, scanText bool) {
	switch sniff(name(it), head) {
	case none:
		return false, false
	case zipName:
		// Not a zip at offset 0: its own bytes may be readable text.
		return true, true
	}
	return true, false
}

// Expand implements scanner.Expander.
func (x *Expander) Expand(ctx context.Context, it scanner.Item, r io.Reader, emit func(scanner.Item) error) error {
	head, r, err := peek(r)
	if err != nil {
		return err
	}
	switch f := sniff(name(it), head); f {
	case zipMagic, zipName:
		return x.walkZip(ctx, it, r, emit)
	case tarFormat:
		return walkTar(ctx, it, r, emit)
	case none:
		return nil
	default:
		return x.walkStream(ctx, it, r, f, emit)
	}
}

// peek returns the first bytes of r and a reader that still starts at the
// beginning, keeping r's random access if it has it.
func peek(r io.Reader) ([]byte, io.Reader, error) {
	if ra, ok := r.(scanner.RandomAccess); ok {
		head := make([]byte, min(scanner.HeadLen, max(ra.Size(), 0)))
		n, err := ra.ReadAt(head, 0)
		if err != nil && err != io.EOF {
			return nil, nil, fmt.Errorf("read: %w", err)
		}
		return head[:n], r, nil
	}
	br := bufio.NewReaderSize(r, scanner.HeadLen)
	head, err := br.Peek(scanner.HeadLen)
	if err != nil && err != io.EOF {
		return nil, nil, fmt.Errorf("read: %w", err)
	}
	return head, br, nil
}
