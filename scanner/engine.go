package scanner

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/atomyx/atomyx-guard/finding"
	"github.com/sourcegraph/conc/pool"
)

// Item is one piece of content to scan: either Data in memory or a stream
// opened on demand by Open.
type Item struct {
	Loc  finding.Location
	Data []byte
	Open func() (io.ReadCloser, error)
	// Size is the content length when known, for progress; -1 otherwise.
	Size int64
	// Remap, when set, rewrites every location the Detector reports in
	// this item: a source map's expander adds the original position.
	Remap func(finding.Location) finding.Location
	// Release, when set, is called once the engine is done with the item
	// (Data may then be reused by the source, e.g. from a buffer pool).
	Release func()
}

// Source yields the items of one scan target. Items must stop early and
// return ctx.Err() when ctx is done, and return emit's error unchanged.
type Source interface {
	Items(ctx context.Context, emit func(Item) error) error
}

// Skip records something the scan could not read and why, so that nothing
// is left out silently.
type Skip = finding.Skip

// Stats counts what an Engine run read.
type Stats struct {
	Items int64
	Bytes int64
}

// Engine scans the items of a Source with a pool of workers.
type Engine struct {
	Detector *Detector
	// Workers is the number of concurrent scanners; GOMAXPROCS when zero.
	Workers int
	// OnSkip is told of every item that could not be read. Optional; must
	// be safe for concurrent use.
	OnSkip func(Skip)
	// Progress, when set, is told of every item scanned.
	Progress func(items, bytes int64)

	items, bytes atomic.Int64
}

// Run scans every item src yields and reports to sink. A source error ends
// the run; an unreadable item is skipped and reported through OnSkip.
func (e *Engine) Run(ctx context.Context, src Source, sink Sink) (Stats, error) {
	det := e.Detector
	if det == nil {
		det = &Detector{}
	}
	workers := e.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	// A bounded channel between the producer and the pool keeps memory
	// flat: the source blocks while workers are busy.
	p := pool.New().WithMaxGoroutines(workers).WithContext(ctx)
	var (
		skipMu sync.Mutex
	)
	skip := func(s Skip) {
		if e.OnSkip != nil {
			skipMu.Lock()
			e.OnSkip(s)
			skipMu.Unlock()
		}
	}
	srcErr := src.Items(ctx, func(it Item) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		p.Go(func(ctx context.Context) error {
			if it.Release != nil {
				defer it.Release()
			}
			n, err := e.scanItem(ctx, det, it, sink)
			if err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				skip(Skip{Where: describe(it.Loc), Reason: err.Error()})
			}
			e.items.Add(1)
			e.bytes.Add(n)
			if e.Progress != nil {
				e.Progress(e.items.Load(), e.bytes.Load())
			}
			return nil
		})
		return nil
	})
	poolErr := p.Wait()
	st := Stats{Items: e.items.Load(), Bytes: e.bytes.Load()}
	if srcErr != nil {
		return st, srcErr
	}
	return st, poolErr
}

func (e *Engine) scanItem(ctx context.Context, det *Detector, it Item, sink Sink) (int64, error) {
	if it.Remap != nil {
		sink = remapSink{sink, it.Remap}
	}
	if it.Open == nil {
		det.ScanBytes(it.Data, it.Loc, sink)
		return int64(len(it.Data)), nil
	}
	rc, err := it.Open()
	if err != nil {
		return 0, err
	}
	defer rc.Close()
	return det.ScanReader(ctx, rc, it.Loc, sink)
}

// describe names an item's location in a skip line.
func describe(l finding.Location) string {
	switch {
	case l.URL != "":
		return l.URL
	case l.Blob != "" && l.Path != "":
		return fmt.Sprintf("%s (blob %s)", l.Path, l.Blob)
	case l.Blob != "":
		return "blob " + l.Blob
	case l.Commit != "":
		return fmt.Sprintf("%s %s", l.Kind, l.Commit)
	case l.Path != "":
		return l.Path
	}
	return l.Source
}
