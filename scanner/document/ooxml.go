package document

import (
	"encoding/xml"
	"errors"
	"io"
)

// ooxmlParagraphs returns the text of an OOXML part, one paragraph per
// line: the text elements (w:t, a:t, t, and w:delText: deleted text of a
// tracked change is still in the file) of each paragraph (w:p, a:p) or
// shared string (si, is) joined, so that a key split across runs of
// different formatting reads whole.
func ooxmlParagraphs(r io.Reader) ([]byte, error) {
	d := xml.NewDecoder(r)
	d.Strict = false
	var out []byte
	inText := 0
	for {
		tok, err := d.Token()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			return out, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if t.Name.Local == "t" || t.Name.Local == "delText" {
				inText++
			}
		case xml.EndElement:
			switch t.Name.Local {
			case "t", "delText":
				inText = max(0, inText-1)
			case "p", "si", "is":
				out = append(out, '\n')
			}
		case xml.CharData:
			if inText > 0 {
				out = append(out, t...)
			}
		}
	}
}
