package gitsource

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"errors"
	"io"
	"strconv"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
)

// parseHex reads a 40-digit object id.
func parseHex[T string | []byte](s T) (plumbing.Hash, bool) {
	var h plumbing.Hash
	if len(s) != 2*len(h) {
		return h, false
	}
	if _, err := hex.Decode(h[:], []byte(s)); err != nil {
		return h, false
	}
	return h, true
}

// commitMeta is what a location says of a commit.
type commitMeta struct {
	ID     string
	Author string // "Name <email>"
	Date   string // RFC 3339
}

// rawCommit is a parsed commit object.
type rawCommit struct {
	commitMeta
	Tree    plumbing.Hash
	Parents []plumbing.Hash
	Message []byte // a sub-slice of the raw object
}

// rawTag is a parsed annotated tag object.
type rawTag struct {
	Object  plumbing.Hash
	Type    string
	Name    string
	Tagger  string
	Date    string
	Message []byte
}

// splitObject cuts a commit or tag object into header lines and message.
// Continuation lines (a multi-line gpgsig) start with a space and are
// skipped by the callers' prefix checks.
func splitObject(raw []byte, header func(key, value []byte)) (message []byte) {
	rest := raw
	for len(rest) > 0 {
		line, after, found := bytes.Cut(rest, []byte{'\n'})
		if len(line) == 0 {
			return after
		}
		if line[0] != ' ' {
			k, v, _ := bytes.Cut(line, []byte{' '})
			header(k, v)
		}
		if !found {
			return nil
		}
		rest = after
	}
	return nil
}

// parseCommit parses a raw commit object. Malformed headers are left
// empty: the message is scanned whatever the rest looks like.
func parseCommit(id string, raw []byte) rawCommit {
	c := rawCommit{commitMeta: commitMeta{ID: id}}
	c.Message = splitObject(raw, func(k, v []byte) {
		switch string(k) {
		case "tree":
			c.Tree, _ = parseHex(v)
		case "parent":
			if h, ok := parseHex(v); ok {
				c.Parents = append(c.Parents, h)
			}
		case "author":
			c.Author, c.Date = parseIdent(v)
		}
	})
	return c
}

// parseTag parses a raw tag object.
func parseTag(raw []byte) rawTag {
	var t rawTag
	t.Message = splitObject(raw, func(k, v []byte) {
		switch string(k) {
		case "object":
			t.Object, _ = parseHex(v)
		case "type":
			t.Type = string(v)
		case "tag":
			t.Name = string(v)
		case "tagger":
			t.Tagger, t.Date = parseIdent(v)
		}
	})
	return t
}

// parseIdent reads "Name <email> 1700000000 +0100" into "Name <email>" and
// an RFC 3339 date in the ident's own time zone.
func parseIdent(v []byte) (who, date string) {
	lt := bytes.IndexByte(v, '<')
	gt := bytes.LastIndexByte(v, '>')
	if lt < 0 || gt < lt {
		return string(bytes.TrimSpace(v)), ""
	}
	who = string(bytes.TrimSpace(v[:lt])) + " <" + string(bytes.TrimSpace(v[lt+1:gt])) + ">"
	return who, formatRawDate(bytes.TrimSpace(v[gt+1:]))
}

// formatRawDate turns git's raw date "1700000000 +0100" into RFC 3339.
func formatRawDate(raw []byte) string {
	ts, tz, ok := bytes.Cut(raw, []byte{' '})
	if !ok {
		return ""
	}
	sec, err := strconv.ParseInt(string(ts), 10, 64)
	if err != nil || len(tz) != 5 || (tz[0] != '+' && tz[0] != '-') {
		return ""
	}
	hh, err1 := strconv.Atoi(string(tz[1:3]))
	mm, err2 := strconv.Atoi(string(tz[3:5]))
	if err1 != nil || err2 != nil || mm > 59 {
		return ""
	}
	off := hh*3600 + mm*60
	if tz[0] == '-' {
		off = -off
	}
	t := time.Unix(sec, 0).In(time.FixedZone("", off))
	if t.Year() < 0 || t.Year() > 9999 {
		return ""
	}
	return t.Format(time.RFC3339)
}

// Commits and tags larger than the large-object size are not read whole:
// a message compresses to nothing (4 GB of one letter packs into 4 MB),
// and a push of one could take the scan's memory. Their first
// maxHeaderPrefix bytes give the header's fields (author, date, tag name),
// and their message is streamed (largeMessage); a walk reads only the
// header, up to maxWalkHeader bytes (parents first).
const (
	maxHeaderPrefix = 64 << 10
	maxWalkHeader   = 16 << 20
)

// readHeader reads r up to the end of an object's header (its first empty
// line, as splitObject reads it), at most limit bytes; complete says the
// end was found.
func readHeader(r io.Reader, limit int) (header []byte, complete bool, err error) {
	br := bufio.NewReader(io.LimitReader(r, int64(limit)))
	lineStart := true // the next chunk begins a line
	for {
		line, err := br.ReadSlice('\n')
		header = append(header, line...)
		if lineStart && len(line) == 1 && line[0] == '\n' {
			return header, true, nil
		}
		lineStart = len(line) > 0 && line[len(line)-1] == '\n'
		switch {
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF):
			return header, false, nil
		case err != nil:
			return header, false, err
		}
	}
}

// messageReader reads an object's message from a stream of the whole
// object: what follows the header's first empty line.
type messageReader struct {
	r      io.Reader
	inBody bool
	prev   byte // the last header byte; '\n' before the first
}

func newMessageReader(r io.Reader) *messageReader { return &messageReader{r: r, prev: '\n'} }

func (m *messageReader) Read(p []byte) (int, error) {
	for !m.inBody {
		n, err := m.r.Read(p)
		for i := 0; i < n; i++ {
			if p[i] == '\n' && m.prev == '\n' {
				m.inBody = true
				if k := copy(p, p[i+1:n]); k > 0 {
					return k, nil
				}
				break
			}
			m.prev = p[i]
		}
		if err != nil {
			return 0, err
		}
	}
	return m.r.Read(p)
}
