package scanner

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"

	"github.com/atomyx/atomyx-guard/internal/fill"
	"github.com/atomyx/atomyx-guard/internal/finding"
	"github.com/atomyx/atomyx-guard/patterns"
	"github.com/atomyx/atomyx-guard/scanner/decode"
)

// AllowMarker on the same line as a key allows that occurrence.
const AllowMarker = "atomyx-guard:allow"

// DefaultWindow is the read size of the streaming detector: memory per
// worker is bounded by it, whatever the size of the file.
const DefaultWindow = 1 << 20

// Sink receives what the detector finds. Implementations must be safe for
// concurrent use: workers call them in parallel.
type Sink interface {
	Hit(finding.Hit)
	NearMiss(finding.NearMiss)
}

// SkipSink is a Sink that also takes Skips: the Detector tells it what it
// could not scan fully (a decoding budget that ran out), so that nothing
// is left out silently. The Engine's sinks implement it; a Sink that does
// not is not told.
type SkipSink interface {
	Sink
	Skip(Skip)
}

// Detector finds Atomyx keys in content, written out or hidden under
// encodings (base64, percent, JS/JSON escapes, HTML entities, UTF-16, hex,
// byte arrays, base32, split string literals, and nestings of these; see
// package decode). The zero value is ready to use
// and safe for concurrent use.
type Detector struct {
	// NearMisses asks for key-shaped candidates whose checksum fails.
	NearMisses bool
	// Window is the streaming read size; DefaultWindow when zero.
	Window int
	// Plain turns decoding off: only keys written out literally are found.
	Plain bool
}

// depth is how many encodings deep the detector looks.
func (d *Detector) depth() int {
	if d.Plain {
		return 0
	}
	return decode.DefaultDepth
}

// overlap is how far consecutive windows overlap, so that a key across a
// window edge, plain or encoded, is seen whole in one of them. It also
// leaves room to look back along the line for an allow marker.
func (d *Detector) overlap() int {
	if d.Plain {
		return patterns.KeyLen + 1
	}
	return decode.Overlap
}

// scanners keeps decode.Scanners (scratch memory) for reuse by workers.
var scanners = sync.Pool{New: func() any { return decode.NewScanner() }}

// ScanBytes scans an in-memory buffer.
func (d *Detector) ScanBytes(data []byte, loc finding.Location, sink Sink) {
	sc := scanners.Get().(*decode.Scanner)
	res := d.scanWindow(sc, window{buf: data, atEOF: true, line: 1, limit: len(data)}, loc, sink)
	scanners.Put(sc)
	var ex exhaustion
	ex.add(res, 0)
	ex.report(loc, sink)
}

// exhaustion gathers the windows of one item whose decoding budget ran
// out, for one Skip.
type exhaustion struct {
	regions int
	first   int64 // offset in the item of the first region
}

func (e *exhaustion) add(r decode.Result, offset int64) {
	if !r.Exhausted {
		return
	}
	if e.regions == 0 {
		e.first = offset + int64(r.ExhaustedAt)
	}
	e.regions += r.ExhaustedRegions
}

func (e *exhaustion) report(loc finding.Location, sink Sink) {
	ss, ok := sink.(SkipSink)
	if e.regions == 0 || !ok {
		return
	}
	ss.Skip(Skip{Where: describe(loc), Reason: fmt.Sprintf(
		"decoding budget ran out in %d region(s), the first at byte %d: encoded text there was decoded only in part "+
			"(plain keys, keys one encoding deep and the rest of the content were still scanned)", e.regions, e.first)})
}

// ScanReader scans a stream window by window, in memory bounded by the
// window size, and returns the bytes read.
func (d *Detector) ScanReader(ctx context.Context, r io.Reader, loc finding.Location, sink Sink) (int64, error) {
	win := d.Window
	if win <= 0 {
		win = DefaultWindow
	}
	overlap := d.overlap()
	buf := make([]byte, win+overlap)
	var (
		n      int   // bytes held in buf
		total  int64 // bytes consumed before buf[0]
		line   = 1   // line number at buf[0]
		before byte
		carry  int // base64 alignment carried into buf[0]
		ex     exhaustion
	)
	defer func() { ex.report(loc, sink) }()
	// One Scanner for the whole stream: its scratch grows to the window
	// once, rather than on every pool miss.
	sc := scanners.Get().(*decode.Scanner)
	defer scanners.Put(sc)
	for {
		if err := ctx.Err(); err != nil {
			return total, err
		}
		m, err := fill.Read(r, buf[n:])
		n += m
		// A read error ends the stream like EOF, after the bytes read so
		// far are scanned: a truncated archive member still yields the
		// keys before the cut, and the error says it was cut.
		atEOF := err != nil
		// Candidates starting at or after limit are left for the next
		// window, which starts there.
		limit := n
		if !atEOF {
			limit = n - overlap
		}
		var res decode.Result
		if !allZero(buf[:n]) {
			res = d.scanWindow(sc, window{buf: buf[:n], before: before, atEOF: atEOF, offset: total, line: line, limit: limit, carry: carry}, loc, sink)
		}
		ex.add(res, total)
		carry = res.Carry
		if atEOF {
			if errors.Is(err, io.EOF) {
				return total + int64(n), nil
			}
			return total + int64(n), fmt.Errorf("read: %w", err)
		}
		line += bytes.Count(buf[:limit], newline)
		before = buf[limit-1]
		copy(buf, buf[limit:n])
		n -= limit
		total += int64(limit)
	}
}

var newline = []byte{'\n'}

// zeros is compared against to see a window of NUL bytes.
var zeros [4096]byte

// allZero reports whether b holds only NUL bytes: a window of them holds
// no key, plain or encoded (UTF-16 has a letter between its NULs), so the
// decoders need not see it. Disk images and other sparse files are mostly
// that; text fails on its first byte.
func allZero(b []byte) bool {
	if len(b) == 0 || b[0] != 0 {
		return false
	}
	for len(b) > 0 {
		k := min(len(b), len(zeros))
		if !bytes.Equal(b[:k], zeros[:k]) {
			return false
		}
		b = b[k:]
	}
	return true
}

// found is a match turned into what a Hit needs: no key.
type found struct {
	start, end  int
	valid       bool
	fingerprint string
	redacted    string
	env         string
	decoded     []string
}

// window is one buffer of a stream for scanWindow.
type window struct {
	buf    []byte
	before byte  // the byte before buf in its stream, 0 if none
	atEOF  bool  // buf ends where its stream does
	offset int64 // buf's offset in its stream
	line   int   // the line number at buf[0]
	limit  int   // candidates starting at or after it are the next window's
	carry  int   // base64 alignment carried into buf[0]
}

// scanWindow reports candidates in win.buf that start before win.limit and
// returns the decoder's result, whose Carry is for the window starting at
// limit. Lines are counted only when something is found, so text without
// keys costs the searches alone.
func (d *Detector) scanWindow(sc *decode.Scanner, win window, loc finding.Location, sink Sink) decode.Result {
	w, offset, line := win.buf, win.offset, win.line
	var fs []found
	res := sc.Scan(w, decode.Options{
		Depth: d.depth(), Before: win.before, AtEOF: win.atEOF, Limit: win.limit, Carry: win.carry,
		Offset: offset, NearMisses: d.NearMisses,
	}, func(m decode.Match) {
		f := found{start: m.Start, end: m.End, valid: m.Valid, redacted: patterns.Redact(m.Key), decoded: m.Chain}
		if m.Valid {
			f.fingerprint = patterns.Fingerprint(m.Key)
			f.env = string(patterns.EnvironmentOf(m.Key))
		}
		fs = append(fs, f)
	})
	slices.SortFunc(fs, func(a, b found) int { return cmp.Compare(a.start, b.start) })
	counted := 0   // w[:counted] has been counted into line
	lineStart := 0 // start of the line holding w[counted]
	for _, f := range fs {
		// Only the stretch since the last hit is looked at, so many hits
		// on one multi-megabyte line cost one pass over it, not one each.
		seg := w[counted:f.start]
		if nl := bytes.Count(seg, newline); nl > 0 {
			line += nl
			lineStart = counted + bytes.LastIndexByte(seg, '\n') + 1
		}
		counted = f.start
		l := loc
		l.Line = line
		l.Column = f.start - lineStart + 1
		if lineStart == 0 && offset > 0 {
			l.Column = 0 // the line began in an earlier window
		}
		l.Decoded = f.decoded
		if !f.valid {
			sink.NearMiss(finding.NearMiss{Redacted: f.redacted, Location: l})
			continue
		}
		if allowedOnLine(w, max(lineStart, f.start-allowReach), min(f.end, len(w))) {
			l.Allowed = "inline " + AllowMarker
		}
		sink.Hit(finding.Hit{
			Fingerprint: f.fingerprint,
			Redacted:    f.redacted,
			Environment: f.env,
			Location:    l,
		})
	}
	return res
}

var allowMarker = []byte(AllowMarker)

// allowReach bounds how far from a key, on its line, an allow marker is
// looked for: a comment beside the key, not anywhere in a minified bundle.
const allowReach = 256

func allowedOnLine(w []byte, from, keyEnd int) bool {
	to := min(len(w), keyEnd+allowReach)
	if nl := bytes.IndexByte(w[keyEnd:to], '\n'); nl >= 0 {
		to = keyEnd + nl
	}
	return bytes.Contains(w[from:to], allowMarker)
}
