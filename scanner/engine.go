package scanner

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/atomyx/atomyx-guard/internal/finding"
	"github.com/atomyx/atomyx-guard/patterns"
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
	// SkipReason, when set, says why the item cannot be read (a named pipe,
	// an encrypted archive entry): the Engine reports it as a Skip and
	// reads nothing.
	SkipReason string
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
	// Items and Bytes count the items the source yielded and their bytes.
	Items int64
	Bytes int64
	// Inner counts the items found inside others (archive members...), all
	// depths; InnerBytes their expanded bytes.
	Inner      int64
	InnerBytes int64
	// Skips counts the Skips reported.
	Skips int64
}

// Engine scans the items of a Source with a pool of workers. It holds
// settings only: every Run keeps its own counts, so one Engine may serve
// several runs, at once or in turn, and copying an Engine copies its
// settings.
type Engine struct {
	Detector *Detector
	// Workers is the number of concurrent scanners; GOMAXPROCS when zero.
	Workers int
	// OnSkip is told of every item that could not be read. Optional; must
	// be safe for concurrent use.
	OnSkip func(Skip)
	// Progress, when set, is told of every item scanned.
	Progress func(items, bytes int64)
	// Expanders look inside items (archives, bundles); the first whose
	// Match accepts an item expands it. None: items are scanned as text.
	Expanders []Expander
	// Limits bound each top-level item's expansion.
	Limits Limits
}

// counts are one Run's tallies, the Stats it returns.
type counts struct {
	items, bytes, inner, innerBytes, skips atomic.Int64
}

// scanOne scans one top-level item and releases it. Each item gets its own
// expansion, whose byte count the limits bound.
func (e *Engine) scanOne(ctx context.Context, t *expansion, it Item) error {
	if it.Release != nil {
		defer it.Release()
	}
	x := &expansion{e: t.e, det: t.det, sink: t.sink, skip: t.skip, lim: t.lim, n: t.n}
	n, err := x.scan(ctx, it, 0)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if !errors.Is(err, errStopped) {
			x.skip(Skip{Where: describe(it.Loc), Reason: err.Error()})
		}
	}
	items, bytes := t.n.items.Add(1), t.n.bytes.Add(n)
	if e.Progress != nil {
		e.Progress(items, bytes)
	}
	return nil
}

// Items smaller than batchBytes are handed to workers in batches of up to
// batchItems items or batchBytes bytes. A file not yet opened counts as
// unopenedBytes when the source does not know its size (a directory
// listing does not say), and goes alone when it knows it is larger.
const (
	batchItems    = 128
	batchBytes    = 256 << 10
	unopenedBytes = 16 << 10
)

// batchWeight says what an item weighs in a batch, or that it goes alone.
func batchWeight(it Item) (int, bool) {
	switch {
	case it.Open == nil:
		return len(it.Data), len(it.Data) < batchBytes
	case it.Size < 0:
		return unopenedBytes, true
	default:
		return int(max(it.Size, unopenedBytes)), it.Size < batchBytes/4
	}
}

// sharedBatch is a batch that one or more workers scan, each taking the
// next item not yet taken.
type sharedBatch struct {
	items []Item
	next  atomic.Int64
}

// run scans items until none is left. On an error it releases the items
// nobody has taken, and the other workers stop taking.
func (b *sharedBatch) run(scan func(Item) error) error {
	n := int64(len(b.items))
	for {
		i := b.next.Add(1) - 1
		if i >= n {
			return nil
		}
		if err := scan(b.items[i]); err != nil {
			for _, rest := range b.items[min(b.next.Swap(n), n):] {
				if rest.Release != nil {
					rest.Release()
				}
			}
			return err
		}
	}
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

	// The pool runs at most workers goroutines, and its Go blocks while
	// they are busy, so the source blocks too and memory stays flat.
	p := pool.New().WithMaxGoroutines(workers).WithContext(ctx)
	var (
		n      counts
		skipMu sync.Mutex
	)
	skip := func(s Skip) {
		n.skips.Add(1)
		s.Where, s.Reason = patterns.RedactRuns(s.Where), patterns.RedactRuns(s.Reason)
		if e.OnSkip != nil {
			skipMu.Lock()
			e.OnSkip(s)
			skipMu.Unlock()
		}
	}
	// tmpl is what every item's expansion shares.
	tmpl := &expansion{e: e, det: det, sink: sink, skip: skip, lim: e.Limits.withDefaults(), n: &n}
	var (
		batch   []Item
		batched int
	)
	flush := func() {
		if len(batch) == 0 {
			return
		}
		b := &sharedBatch{items: batch}
		batch, batched = nil, 0
		// A batch of files not yet opened may hold a large one: every
		// worker is given the batch, and each takes its next item, so
		// that the rest do not wait behind it on one core.
		tasks := 1
		if slices.ContainsFunc(b.items, func(it Item) bool { return it.Open != nil }) {
			tasks = min(workers, len(b.items))
		}
		for range tasks {
			p.Go(func(ctx context.Context) error {
				return b.run(func(it Item) error { return e.scanOne(ctx, tmpl, it) })
			})
		}
	}
	srcErr := src.Items(ctx, func(it Item) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		if it.SkipReason != "" {
			skip(Skip{Where: describe(it.Loc), Reason: it.SkipReason})
			if it.Release != nil {
				it.Release()
			}
			return nil
		}
		// Small items (most git blobs, commit messages, most files of a
		// tree) go to the workers in batches: one hand-off per item
		// cost more than scanning it on repositories of a million small
		// objects, and a tenth of the wall of a tree of 11,000 files
		// (two cores waited on the walk in turn).
		weight, small := batchWeight(it)
		if !small {
			p.Go(func(ctx context.Context) error { return e.scanOne(ctx, tmpl, it) })
			return nil
		}
		batch = append(batch, it)
		batched += weight
		if len(batch) >= batchItems || batched >= batchBytes {
			flush()
		}
		return nil
	})
	flush()
	poolErr := p.Wait()
	st := Stats{
		Items: n.items.Load(), Bytes: n.bytes.Load(),
		Inner: n.inner.Load(), InnerBytes: n.innerBytes.Load(),
		Skips: n.skips.Load(),
	}
	if srcErr != nil {
		return st, srcErr
	}
	return st, poolErr
}

// errStopped travels up from where a limit stopped an expansion that has
// already been reported, so that no level reports it again.
var errStopped = errors.New("expansion stopped")

// stopError ends one level's expansion, its limit already reported.
type stopError struct{ lvl *level }

func (e *stopError) Error() string { return "expansion stopped" }

// expansion is the scan of one top-level item and everything inside it.
type expansion struct {
	e    *Engine
	det  *Detector
	sink Sink
	skip func(Skip)
	lim  Limits
	n    *counts // the run's
	// total is the bytes expanded so far, all levels.
	total atomic.Int64
}

// level is one expansion: an item opened by an Expander. Its inner items'
// bytes over its compressed bytes is the ratio the limit bounds.
type level struct {
	known      int64 // the item's size when known beforehand
	compressed *countReader
	expanded   atomic.Int64
	// resets counts the times the ratio allowance was renewed (see
	// maxRatioResets).
	resets atomic.Int32
}

// maxRatioResets is how many times one level's ratio allowance is renewed.
// A member that exceeds the ratio on its own (a bomb) is skipped and its
// siblings are still scanned with a fresh allowance, so a key is not
// hidden behind a bomb; a small member that tips an allowance earlier
// members used up renews it. Beyond this many renewals the rest of the
// archive is left unscanned (and said so): a level costs at most
// maxRatioResets+1 allowances of MaxRatio times its size.
const maxRatioResets = 8

func (l *level) base() int64 { return max(l.known, l.compressed.n.Load(), 1) }

// scan reads one item at depth: expands it if an Expander claims it, else
// scans it as text. It returns the item's bytes read. A plain error is the
// caller's to report as a Skip of it; a *LimitError, errStopped or a
// context error goes up to the level that owns it.
func (x *expansion) scan(ctx context.Context, it Item, depth int) (int64, error) {
	if it.SkipReason != "" {
		x.skip(Skip{Where: describe(it.Loc), Reason: it.SkipReason})
		return 0, nil
	}
	var r io.Reader
	var ra RandomAccess
	if it.Open == nil {
		br := bytes.NewReader(it.Data)
		r, ra = br, br
	} else {
		rc, err := it.Open()
		if err != nil {
			return 0, err
		}
		defer rc.Close()
		r, ra = rc, randomAccess(rc)
		if it.Size < 0 && ra != nil {
			it.Size = ra.Size() // a source that learns sizes on opening
		}
		if depth == 0 && it.Size >= 0 && it.Size <= wholeItem {
			// A file (or a large git blob) of moderate size is read
			// whole, once, into a pooled buffer and scanned as in
			// memory: its head, the expanders and the detector then
			// share one copy, where each read and buffered it again.
			// Inner items keep streaming: their sizes come from the
			// archives that hold them, and nest.
			buf := getBuf(it.Size + 1)
			defer putBuf(buf)
			k, err := io.ReadFull(r, *buf)
			switch {
			case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
				it.Data, it.Open = (*buf)[:k], nil
				br := bytes.NewReader(it.Data)
				r, ra = br, br
			case err != nil:
				return int64(k), fmt.Errorf("read: %w", err)
			default:
				// Longer than announced: streamed, as any stream.
				r, ra = io.MultiReader(bytes.NewReader((*buf)[:k]), r), nil
			}
		}
	}
	if len(x.e.Expanders) == 0 {
		return x.leaf(ctx, it, r)
	}

	var head []byte
	if it.Open == nil {
		head = it.Data[:min(len(it.Data), HeadLen)]
	} else {
		br := bufio.NewReaderSize(r, HeadLen)
		h, err := br.Peek(HeadLen)
		if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, bufio.ErrBufferFull) {
			return 0, fmt.Errorf("read: %w", err)
		}
		head, r = h, br
	}
	var ex Expander
	var scanText bool
	for _, cand := range x.e.Expanders {
		if ok, st := cand.Match(it, head); ok {
			ex, scanText = cand, st
			break
		}
	}
	if ex == nil {
		return x.leaf(ctx, it, r)
	}
	if depth >= x.lim.MaxDepth {
		x.skip(Skip{Where: describe(it.Loc), Reason: fmt.Sprintf(
			"nesting limit: %d levels deep, not expanded, scanned as text (limit %d)", depth, x.lim.MaxDepth)})
		// Scanned as text still: a bundle whose expander would have
		// rescanned it is plain text, and an archive's bytes cost a pass.
		return x.leaf(ctx, it, r)
	}

	parent := ctx
	if depth == 0 && x.lim.MaxTime > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, x.lim.MaxTime)
		defer cancel()
	}
	n, err := x.expand(ctx, it, depth, ex, scanText, r, ra)
	if depth == 0 && parent.Err() == nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
		x.skip(Skip{Where: describe(it.Loc), Reason: fmt.Sprintf(
			"time limit: expansion stopped after %s", x.lim.MaxTime)})
		return n, errStopped
	}
	return n, err
}

// expand runs ex over the item, and the text scan alongside when asked.
func (x *expansion) expand(ctx context.Context, it Item, depth int, ex Expander, scanText bool, r io.Reader, ra RandomAccess) (n int64, err error) {
	known := it.Size
	if it.Open == nil {
		known = int64(len(it.Data))
	}
	if ra != nil {
		known = max(known, ra.Size())
	}
	lvl := &level{known: known}

	if scanText {
		if it.Open == nil {
			x.det.ScanBytes(it.Data, it.Loc, x.sinkFor(it))
		} else {
			// The text scan reads a copy of what the expander reads, in
			// step; whatever the expander leaves is drained to it after.
			pr, pw := io.Pipe()
			done := make(chan struct{})
			var textErr error
			go func() {
				defer close(done)
				_, textErr = x.det.ScanReader(ctx, pr, it.Loc, x.sinkFor(it))
				pr.CloseWithError(errTextDone)
			}()
			tee := io.TeeReader(r, pw)
			r, ra = tee, nil
			defer func() {
				if ctx.Err() == nil {
					if _, derr := io.Copy(io.Discard, lvl.compressed); derr != nil && err == nil && !errors.Is(derr, errTextDone) {
						err = fmt.Errorf("read: %w", derr)
					}
					n = max(n, lvl.compressed.n.Load())
				}
				pw.Close()
				<-done
				if textErr != nil && err == nil {
					err = textErr
				}
			}()
		}
	}

	lvl.compressed = &countReader{r: r}
	var in io.Reader = lvl.compressed
	if ra != nil {
		in = &randomCountReader{countReader: lvl.compressed, ra: ra}
	}
	emit := func(inner Item) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		x.n.inner.Add(1)
		if inner.Release != nil {
			defer inner.Release()
		}
		m := x.meter(lvl, &inner)
		_, err := x.scan(ctx, inner, depth+1)
		if m.err != nil {
			err = m.err
		} else if m.readErr != nil {
			err = fmt.Errorf("read: %w", m.readErr)
		}
		if err == nil {
			return nil
		}
		if cerr := ctx.Err(); cerr != nil {
			return cerr
		}
		var le *LimitError
		switch {
		case errors.Is(err, errStopped):
			return err
		case errors.As(err, &le) && le.lvl == lvl:
			// inner is the member that exceeded the ratio on its own.
			if lvl.resets.Add(1) > maxRatioResets {
				x.skip(Skip{Where: describe(it.Loc), Reason: fmt.Sprintf(
					"%s; ratio allowance already renewed %d times: rest of the archive not scanned", le.Reason, maxRatioResets)})
				return &stopError{lvl}
			}
			x.skip(Skip{Where: describe(inner.Loc), Reason: le.Reason + ": member cut short, its siblings still scanned"})
			lvl.expanded.Store(0)
			return nil
		case errors.As(err, &le) && le.lvl == nil:
			x.skip(Skip{Where: describe(it.Loc), Reason: le.Reason})
			return errStopped
		case le != nil:
			return err // a level above this one
		}
		x.skip(Skip{Where: describe(inner.Loc), Reason: err.Error()})
		return nil
	}
	err = safeExpand(ctx, ex, it, in, emit)
	// Bytes read in sequence, or the size when the expander read at
	// offsets (a zip on disk).
	n = max(lvl.compressed.n.Load(), lvl.known)
	var se *stopError
	if errors.As(err, &se) && se.lvl == lvl {
		err = nil
	}
	return n, err
}

var errTextDone = errors.New("text scan ended")

// safeExpand runs an Expander, turning a panic on hostile input into an
// error: one bad archive must not end the scan.
func safeExpand(ctx context.Context, ex Expander, it Item, r io.Reader, emit func(Item) error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("expander %T failed: %v", ex, p)
		}
	}()
	return ex.Expand(ctx, it, r, emit)
}

// leaf scans an item's bytes as text. Small streams of known size are read
// whole into a pooled buffer: a window-sized buffer per archive member
// would dominate the cost of archives of small files.
func (x *expansion) leaf(ctx context.Context, it Item, r io.Reader) (int64, error) {
	sink := x.sinkFor(it)
	if it.Open == nil {
		x.det.ScanBytes(it.Data, it.Loc, sink)
		return int64(len(it.Data)), nil
	}
	if it.Size >= 0 && it.Size < smallItem {
		bp := smallBufs.Get().(*[]byte)
		defer smallBufs.Put(bp)
		buf := (*bp)[:it.Size+1]
		k, err := io.ReadFull(r, buf)
		switch {
		case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
			x.det.ScanBytes(buf[:k], it.Loc, sink)
			return int64(k), nil
		case err != nil:
			return int64(k), fmt.Errorf("read: %w", err)
		}
		// Longer than announced: stream it all.
		r = io.MultiReader(bytes.NewReader(buf[:k]), r)
	}
	return x.det.ScanReader(ctx, r, it.Loc, sink)
}

// sinkFor is where the Detector reports an item's own text; its Skips go
// to the Engine's.
func (x *expansion) sinkFor(it Item) Sink {
	var s Sink = skipSink{x.sink, x.skip}
	if it.Remap != nil {
		return remapSink{s, it.Remap}
	}
	return s
}

// skipSink adds the Engine's Skip reporting to a Sink.
type skipSink struct {
	Sink
	skip func(Skip)
}

func (s skipSink) Skip(k Skip) { s.skip(k) }

const smallItem = 256 << 10

var smallBufs = sync.Pool{New: func() any { b := make([]byte, smallItem+1); return &b }}

// wholeItem is the largest file read whole into memory before it is
// scanned (see scan); larger ones stream. Bundles up to the bundle
// expander's limit are read whole by it anyway.
const wholeItem = 8 << 20

// wholeBufs holds buffers of up to wholeItem+1 bytes, for files read
// whole.
var wholeBufs sync.Pool

// getBuf returns a buffer of n bytes, from the pools when one is large
// enough.
func getBuf(n int64) *[]byte {
	if n <= smallItem+1 {
		bp := smallBufs.Get().(*[]byte)
		*bp = (*bp)[:n]
		return bp
	}
	if v := wholeBufs.Get(); v != nil {
		bp := v.(*[]byte)
		if int64(cap(*bp)) >= n {
			*bp = (*bp)[:n]
			return bp
		}
	}
	// Rounded up, so that a few sizes serve the files in between.
	b := make([]byte, n, min(max(n+n/4, 2<<20), wholeItem+1))
	return &b
}

func putBuf(bp *[]byte) {
	if cap(*bp) == smallItem+1 {
		*bp = (*bp)[:smallItem+1]
		smallBufs.Put(bp)
		return
	}
	wholeBufs.Put(bp)
}

// meter counts the bytes of an inner item as they are read, against the
// limits of its level and of the whole expansion. At a limit it ends the
// item's stream as if at EOF, so that what was read is still scanned, and
// records why in the returned meter.
func (x *expansion) meter(lvl *level, it *Item) *meterReader {
	m := &meterReader{x: x, lvl: lvl}
	if it.SkipReason != "" {
		return m
	}
	if it.Open == nil {
		k := m.allow(int64(len(it.Data)))
		it.Data = it.Data[:k]
		return m
	}
	open := it.Open
	it.Open = func() (io.ReadCloser, error) {
		rc, err := open()
		if err != nil {
			return nil, err
		}
		m.rc = rc
		return m, nil
	}
	return m
}

type meterReader struct {
	x   *expansion
	lvl *level
	n   atomic.Int64 // the item's bytes counted so far
	rc  io.ReadCloser
	err error // the limit reached
	// readErr is the error reading the item ended with.
	readErr error
}

func (m *meterReader) Read(p []byte) (int, error) {
	if m.err != nil || m.readErr != nil {
		return 0, io.EOF
	}
	n, err := m.rc.Read(p)
	if k := m.allow(int64(n)); k < int64(n) {
		return int(k), io.EOF
	}
	if err != nil && err != io.EOF {
		// Ends the stream cleanly so that what came before the error is
		// scanned; the error is reported after.
		m.readErr = err
		if errors.Is(err, io.ErrUnexpectedEOF) {
			m.readErr = errTruncated
		}
		err = io.EOF
	}
	return n, err
}

var errTruncated = errors.New("truncated: unexpected end of data")

func (m *meterReader) Close() error { return m.rc.Close() }

// allow accounts n more bytes and returns how many of them are within the
// limits; fewer than n means a limit was reached, recorded in m.err.
func (m *meterReader) allow(n int64) int64 {
	x, lim := m.x, m.x.lim
	total := x.total.Add(n)
	exp := m.lvl.expanded.Add(n)
	x.n.innerBytes.Add(n)
	if lim.MaxTotalBytes > 0 && total > lim.MaxTotalBytes {
		m.err = &LimitError{Reason: fmt.Sprintf(
			"expansion limit: more than %s expanded from one item", formatBytes(lim.MaxTotalBytes))}
		return max(0, n-(total-lim.MaxTotalBytes))
	}
	own := m.n.Add(n)
	if base := m.lvl.base(); lim.MaxRatio > 0 && exp > ratioFloor && float64(exp) > lim.MaxRatio*float64(base) {
		allowance := lim.MaxRatio * float64(base)
		if float64(own) <= allowance/2 && m.lvl.resets.Load() < maxRatioResets {
			// Earlier members used the allowance up, not this one:
			// renew it, counting this member only.
			m.lvl.resets.Add(1)
			m.lvl.expanded.Store(own)
			return n
		}
		m.err = &LimitError{lvl: m.lvl, Reason: fmt.Sprintf(
			"zip bomb: expansion ratio exceeds %d:1 (over %s out of %s)",
			int64(lim.MaxRatio), formatBytes(exp), formatBytes(base))}
		return max(0, n-(exp-int64(lim.MaxRatio*float64(base))))
	}
	return n
}

// countReader counts the bytes read through it.
type countReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// randomCountReader adds random access to a countReader when the content
// has it.
type randomCountReader struct {
	*countReader
	ra RandomAccess
}

func (c *randomCountReader) ReadAt(p []byte, off int64) (int, error) { return c.ra.ReadAt(p, off) }
func (c *randomCountReader) Size() int64                             { return c.ra.Size() }

// randomAccess returns r as RandomAccess when it is a file or a buffer of
// known size, else nil.
func randomAccess(r io.Reader) RandomAccess {
	switch v := r.(type) {
	case RandomAccess:
		return v
	case interface {
		io.ReaderAt
		Stat() (fs.FileInfo, error)
	}:
		fi, err := v.Stat()
		if err != nil || !fi.Mode().IsRegular() {
			return nil
		}
		return sizedReaderAt{v, fi.Size()}
	}
	return nil
}

type sizedReaderAt struct {
	io.ReaderAt
	size int64
}

func (s sizedReaderAt) Size() int64 { return s.size }

// describe names an item's location in a skip line.
func describe(l finding.Location) string {
	switch {
	case l.URL != "" && l.Path != "":
		return l.URL + l.Path
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
