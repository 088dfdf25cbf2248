package scanner

import (
	"context"
	"io"
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
