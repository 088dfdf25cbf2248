// Package document reads the text of documents that hide it from a scan of
// their bytes: PDF (compressed streams, text objects whose strings are
// split), RTF (text cut by control words and groups, \'hh escapes, line
// breaks anywhere) and OOXML (docx, xlsx, pptx: a paragraph's text split
// across runs, <w:t>pieces</w:t>).
//
// It is a scanner.Expander: each document yields inner items (a PDF's
// decoded streams, then their text; an RTF's text; an OOXML part's
// paragraphs, one per line) that the Engine scans like any other, so a
// document is bounded as archives are: depth, expanded bytes and ratio by
// the Engine's Limits, plus a cap on what is held in memory here. The
// document's own bytes are scanned too.
package document

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"path"
	"regexp"
	"strings"
	"sync"

	"github.com/atomyx/atomyx-guard/scanner"
)

// Expander reads PDF, RTF and OOXML text. The zero value is ready.
type Expander struct{}

var _ scanner.Expander = (*Expander)(nil)

// MaxDocument caps the bytes of one document (or PDF stream) held in
// memory to read its structure; beyond it the rest is not read and the
// item is reported as skipped in part.
const MaxDocument = 64 << 20

type kind int

const (
	none kind = iota
	pdfDoc
	pdfStream // a PDF stream this package emitted, decoded
	rtfDoc
	ooxmlPart
)

// streamName is how an emitted PDF stream is named: "obj 12 0 stream".
var streamName = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^obj [0-9]+ [0-9]+ stream$`) })

// ooxmlText lists the OOXML parts that hold a document's text. Both
// patterns are compiled on first use (a part inside a container), not at
// package init, which every run of the binary paid for.
var ooxmlText = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^(word/(document|header[0-9]*|footer[0-9]*|footnotes|endnotes|comments)\.xml|` +
		`xl/(sharedStrings|worksheets/sheet[0-9]+|comments[0-9]*)\.xml|ppt/(slides/slide|notesSlides/notesSlide|comments/comment)[0-9]+\.xml)$`)
})

// inner is the part of an item's path inside its innermost container.
func inner(it scanner.Item) string {
	p := it.Loc.Path
	if i := strings.LastIndexByte(p, '!'); i >= 0 {
		return p[i+1:]
	}
	return ""
}

func sniff(it scanner.Item, head []byte) kind {
	switch {
	case bytes.Contains(head[:min(len(head), 1024)], []byte("%PDF-")):
		return pdfDoc
	case bytes.HasPrefix(head, []byte(`{\rtf`)):
		return rtfDoc
	}
	in := inner(it)
	switch {
	case in != "" && streamName().MatchString(in):
		return pdfStream
	case in != "" && ooxmlText().MatchString(in):
		return ooxmlPart
	case strings.EqualFold(path.Ext(it.Loc.Path), ".pdf"):
		return pdfDoc // a header past the first bytes
	}
	return none
}

// Match implements scanner.Expander: the document's own bytes are scanned
// as text too (a PDF's uncompressed objects, an RTF, the raw XML).
func (x *Expander) Match(it scanner.Item, head []byte) (ok, scanText bool) {
	k := sniff(it, head)
	return k != none, k != none
}

// Expand implements scanner.Expander.
func (x *Expander) Expand(ctx context.Context, it scanner.Item, r io.Reader, emit func(scanner.Item) error) error {
	head := make([]byte, scanner.HeadLen)
	n, err := io.ReadFull(r, head)
	if err != nil && err != io.ErrUnexpectedEOF && err != io.EOF {
		return fmt.Errorf("read: %w", err)
	}
	head = head[:n]
	r = io.MultiReader(bytes.NewReader(head), r)
	k := sniff(it, head)
	if k == ooxmlPart {
		text, err := ooxmlParagraphs(io.LimitReader(r, MaxDocument))
		if len(text) > 0 {
			if eerr := emit(textItem(it, text)); eerr != nil {
				return eerr
			}
		}
		if err != nil {
			return fmt.Errorf("ooxml: %w", err)
		}
		return nil
	}
	data, err := io.ReadAll(io.LimitReader(r, MaxDocument+1))
	if err != nil {
		return fmt.Errorf("read: %w", err)
	}
	var tooBig error
	if len(data) > MaxDocument {
		data = data[:MaxDocument]
		tooBig = fmt.Errorf("document larger than %d MiB: the rest was not read as a document", MaxDocument>>20)
	}
	switch k {
	case pdfDoc:
		err = eachStream(data, func(s stream) error {
			return emit(scanner.Item{Loc: scanner.InnerLocation(it.Loc, fmt.Sprintf("obj %d %d stream", s.num, s.gen)),
				Size: -1, Open: s.open})
		})
	case pdfStream:
		if text := contentText(data); len(text) > 0 {
			err = emit(textItem(it, text))
		}
	case rtfDoc:
		if text := rtfText(data); len(text) > 0 {
			err = emit(textItem(it, text))
		}
	}
	if err != nil {
		return err
	}
	return tooBig
}

func textItem(it scanner.Item, text []byte) scanner.Item {
	return scanner.Item{Loc: scanner.InnerLocation(it.Loc, "text"), Data: text, Size: int64(len(text))}
}
