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
	d.scanWindow(data, 0, true, 0, 1, loc, sink, len(data), 0)
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
	)
	for {
		if err := ctx.Err(); err != nil {
			return total, err
		}
		m, err := fill(r, buf[n:])
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
		carry = d.scanWindow(buf[:n], before, atEOF, total, line, loc, sink, limit, carry)
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

// found is a match turned into what a Hit needs: no key.
type found struct {
	start, end  int
	valid       bool
	fingerprint string
	redacted    string
	env         string
	decoded     []string
}

// scanWindow reports candidates in w that start before limit and returns
// the base64 carry for the window starting at limit. offset is w's offset
// in its stream, line the line number at w[0]; lines are counted only when
// something is found, so text without keys costs the searches alone.
func (d *Detector) scanWindow(w []byte, before byte, atEOF bool, offset int64, line int, loc finding.Location, sink Sink, limit, carry int) int {
	sc := scanners.Get().(*decode.Scanner)
	var fs []found
	res := sc.Scan(w, decode.Options{
		Depth: d.depth(), Before: before, AtEOF: atEOF, Limit: limit, Carry: carry,
		Offset: offset, NearMisses: d.NearMisses,
	}, func(m decode.Match) {
		f := found{start: m.Start, end: m.End, valid: m.Valid, redacted: patterns.Redact(m.Key), decoded: m.Chain}
		if m.Valid {
			f.fingerprint = patterns.Fingerprint(m.Key)
			f.env = string(patterns.EnvironmentOf(m.Key))
		}
		fs = append(fs, f)
	})
	scanners.Put(sc)
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
	return res.Carry
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

// fill reads until buf is full or the reader fails. Unlike io.ReadFull it
// returns io.EOF only for a clean end, so that a reader's own
// io.ErrUnexpectedEOF (a truncated gzip stream) stays an error.
func fill(r io.Reader, buf []byte) (int, error) {
	n, empty := 0, 0
	for n < len(buf) {
		m, err := r.Read(buf[n:])
		n += m
		if err != nil {
			return n, err
		}
		if m > 0 {
			empty = 0
		} else if empty++; empty == 100 {
			return n, io.ErrNoProgress
		}
	}
	return n, nil
}
