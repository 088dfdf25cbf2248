package scanner

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/atomyx/atomyx-guard/internal/finding"
	"github.com/atomyx/atomyx-guard/patterns"
)

// Expander looks inside content that hides other content: archives and
// compressed files, source maps, HTML pages, bundles. The Engine offers each
// item to its Expanders before scanning it; inner items go through the
// Engine again (their own expanders, then the Detector), up to a depth limit.
type Expander interface {
	// Match decides from the item's name (path or URL) and its first bytes
	// whether Expand applies; scanText says whether the item's own bytes
	// should also be scanned as text (true for a source map, false for a
	// zip whose compressed bytes hide nothing readable).
	Match(it Item, head []byte) (ok, scanText bool)
	// Expand reads the item from r and emits inner items, whose locations
	// derive from it.Loc (an archive member's Path is "outer!inner").
	Expand(ctx context.Context, it Item, r io.Reader, emit func(Item) error) error
}

// The contract between the Engine and Expanders, beyond the interface:
//
//   - head holds up to HeadLen first bytes of the item (fewer if it is
//     shorter); r given to Expand starts at the item's first byte.
//   - emit scans the inner item before it returns, so an inner item may
//     stream from r (a tar member): its Open need only work during emit.
//   - emit returns nil when an inner item failed on its own (it is reported
//     as a Skip); any error it returns must end Expand and be returned,
//     wrapped or not.
//   - r implements RandomAccess when the content allows it (a file on disk,
//     bytes in memory), so that a zip needs no copy.
//   - an inner item with SkipReason set is reported, not read: that is how
//     an expander says "encrypted entry" without failing the whole archive.

// HeadLen is how many first bytes of an item Match sees: enough for the
// magic numbers of common formats, tar's at offset 257 included.
const HeadLen = 512

// RandomAccess is implemented by the reader the Engine hands to Expand when
// the item's content can be read at any offset without copying it.
type RandomAccess interface {
	io.ReaderAt
	Size() int64
}

// Limits bound the expansion of one top-level item, so that a hostile
// archive costs bounded time and memory. Zero fields take the defaults; a
// negative MaxTotalBytes, MaxRatio or MaxTime means no limit.
type Limits struct {
	// MaxDepth is how deep archives nest: a top-level item is depth 0, its
	// members depth 1; items at MaxDepth are scanned but not expanded.
	MaxDepth int
	// MaxTotalBytes caps the bytes expanded out of one top-level item, all
	// levels counted.
	MaxTotalBytes int64
	// MaxRatio caps expanded/compressed bytes at each level, once more than
	// a mebibyte has come out of it.
	MaxRatio float64
	// MaxTime caps the time spent expanding one top-level item.
	MaxTime time.Duration
}

// Default limits.
const (
	DefaultMaxDepth      = 5
	DefaultMaxTotalBytes = 1 << 30
	DefaultMaxRatio      = 200
	DefaultMaxTime       = 10 * time.Minute
	// ratioFloor is the expanded size under which the ratio is not checked:
	// small, highly compressible files are common and harmless.
	ratioFloor = 1 << 20
)

func (l Limits) withDefaults() Limits {
	if l.MaxDepth <= 0 {
		l.MaxDepth = DefaultMaxDepth
	}
	if l.MaxTotalBytes == 0 {
		l.MaxTotalBytes = DefaultMaxTotalBytes
	}
	if l.MaxRatio == 0 {
		l.MaxRatio = DefaultMaxRatio
	}
	if l.MaxTime == 0 {
		l.MaxTime = DefaultMaxTime
	}
	return l
}

// LimitError is why an expansion stopped early. The Engine reports it as a
// Skip of the item whose expansion stopped.
type LimitError struct {
	Reason string
	// lvl is the expansion whose ratio was exceeded; nil for the limits of
	// the whole top-level item.
	lvl *level
}

func (e *LimitError) Error() string { return e.Reason }

// InnerLocation is the location of an item found inside outer under name:
// the outer location with Path "outer!name" ("!name" when outer has no
// path, e.g. a git blob before its path is known or a URL). Positions and
// decodings of the outer item do not carry over. The name is a label only,
// made printable, and any key in it redacted.
func InnerLocation(outer finding.Location, name string) finding.Location {
	l := outer
	l.Path = outer.Path + "!" + Label(name)
	l.Line, l.Column = 0, 0
	l.Decoded = nil
	l.Original = nil
	return l
}

// Label makes an untrusted name (an archive member, a file name) safe to
// print: control characters and invalid UTF-8 become U+FFFD, and any
// key-shaped run is replaced by its redacted form.
func Label(name string) string {
	clean := true
	for i := 0; i < len(name); i++ {
		if c := name[i]; c < 0x20 || c == 0x7f || c >= utf8.RuneSelf {
			clean = false
			break
		}
	}
	if !clean {
		var b strings.Builder
		for _, r := range name {
			if r == utf8.RuneError || unicode.IsControl(r) || r == '\u2028' || r == '\u2029' ||
				unicode.Is(unicode.Bidi_Control, r) {
				r = utf8.RuneError
			}
			b.WriteRune(r)
		}
		name = b.String()
	}
	// No fast path on the literal prefix: a name may hold a key encoded
	// (atmx%5Fprd%5F…), which RedactRuns sees through.
	return patterns.RedactRuns(name)
}

// formatBytes renders a byte count for a skip reason.
func formatBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
