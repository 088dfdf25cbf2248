package scanner

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/atomyx/atomyx-guard/finding"
	"github.com/atomyx/atomyx-guard/patterns"
)

// AllowMarker on the same line as a key allows that occurrence.
const AllowMarker = "atomyx-guard:allow"

// DefaultWindow is the read size of the streaming detector: memory per
// worker is bounded by it, whatever the size of the file.
const DefaultWindow = 1 << 20

// overlap is how far consecutive windows overlap, so that a key across a
// window edge is seen whole in one of them. It also leaves room to look back
// along the line for an allow marker.
const overlap = patterns.KeyLen + 1

// Sink receives what the detector finds. Implementations must be safe for
// concurrent use: workers call them in parallel.
type Sink interface {
	Hit(finding.Hit)
	NearMiss(finding.NearMiss)
}

// Detector finds Atomyx keys in content. The zero value is ready to use.
type Detector struct {
	// NearMisses asks for key-shaped candidates whose checksum fails.
	NearMisses bool
	// Window is the streaming read size; DefaultWindow when zero.
	Window int
}

// ScanBytes scans an in-memory buffer.
func (d *Detector) ScanBytes(data []byte, loc finding.Location, sink Sink) {
	d.scanWindow(data, 0, true, 0, 1, loc, sink, len(data))
}

// ScanReader scans a stream window by window, in memory bounded by the
// window size, and returns the bytes read.
func (d *Detector) ScanReader(ctx context.Context, r io.Reader, loc finding.Location, sink Sink) (int64, error) {
	win := d.Window
	if win <= 0 {
		win = DefaultWindow
	}
	buf := make([]byte, win+overlap)
	var (
		n      int   // bytes held in buf
		total  int64 // bytes consumed before buf[0]
		line   = 1   // line number at buf[0]
		before byte
	)
	for {
		if err := ctx.Err(); err != nil {
			return total, err
		}
		m, err := io.ReadFull(r, buf[n:])
		n += m
		atEOF := errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
		if err != nil && !atEOF {
			return total + int64(n), fmt.Errorf("read: %w", err)
		}
		// Candidates starting at or after limit are left for the next
		// window, which starts there.
		limit := n
		if !atEOF {
			limit = n - overlap
		}
		d.scanWindow(buf[:n], before, atEOF, total, line, loc, sink, limit)
		if atEOF {
			return total + int64(n), nil
		}
		line += bytes.Count(buf[:limit], newline)
		before = buf[limit-1]
		copy(buf, buf[limit:n])
		n -= limit
		total += int64(limit)
	}
}

var newline = []byte{'\n'}

// scanWindow reports candidates in w that start before limit. line is the
// line number at w[0]; lines are counted lazily, only when a candidate is
// found, so text without keys costs one vectorised search.
func (d *Detector) scanWindow(w []byte, before byte, atEOF bool, offset int64, line int, loc finding.Location, sink Sink, limit int) {
	counted := 0 // w[:counted] has been counted into line
	patterns.Find(w, before, atEOF, func(c patterns.Candidate) {
		if c.Start >= limit || (!c.Valid && !d.NearMisses) {
			return
		}
		line += bytes.Count(w[counted:c.Start], newline)
		counted = c.Start
		lineStart := bytes.LastIndexByte(w[:c.Start], '\n') + 1
		l := loc
		l.Line = line
		l.Column = c.Start - lineStart + 1
		if lineStart == 0 && offset > 0 {
			l.Column = 0 // the line began in an earlier window
		}
		key := w[c.Start:c.End]
		if !c.Valid {
			sink.NearMiss(finding.NearMiss{Redacted: patterns.Redact(key), Location: l})
			return
		}
		if allowedOnLine(w, lineStart, c.End) {
			l.Allowed = "inline " + AllowMarker
		}
		sink.Hit(finding.Hit{
			Fingerprint: patterns.Fingerprint(key),
			Redacted:    patterns.Redact(key),
			Environment: string(patterns.EnvironmentOf(key)),
			Location:    l,
		})
	})
}

var allowMarker = []byte(AllowMarker)

func allowedOnLine(w []byte, lineStart, keyEnd int) bool {
	lineEnd := bytes.IndexByte(w[keyEnd:], '\n')
	if lineEnd < 0 {
		lineEnd = len(w)
	} else {
		lineEnd += keyEnd
	}
	return bytes.Contains(w[lineStart:lineEnd], allowMarker)
}
