package document

import (
	"bytes"
	"io"
	"strings"
	"testing"
)

// FuzzPDF: any bytes, no panic; streams lie inside the input, in order;
// undoing their filters and reading their text stays bounded.
func FuzzPDF(f *testing.F) {
	f.Add([]byte("%PDF-1.7\n4 0 obj\n<< /Length 10 >>\nstream\nBT (a) Tj ET\nendstream\nendobj\n"))
	f.Add([]byte("1 0 obj << /Filter [/AHx /A85] /Length 5 0 R >> stream\r\n41424>\nendstream"))
	f.Add([]byte("2 0 obj<</Filter/Fl>>stream\nx\x9c\x03\x00\x00\x00\x00\x01endstream"))
	f.Add([]byte("BT [(a\\(b\\)c\\137) -20 <6174 6d78>] TJ (\\\n) ' ET % c\nBT (((x))) Tj"))
	f.Fuzz(func(t *testing.T, data []byte) {
		last := -1
		err := eachStream(data, func(s stream) error {
			if len(s.raw) > len(data) {
				t.Fatalf("stream of %d bytes from %d", len(s.raw), len(data))
			}
			if i := bytes.Index(data, s.raw); len(s.raw) > 0 && i < 0 {
				t.Fatal("stream bytes not from the input")
			}
			rc, err := s.open()
			if err != nil {
				return nil
			}
			out, _ := io.ReadAll(io.LimitReader(rc, 1<<20))
			_ = contentText(out)
			last++
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if got := contentText(data); len(got) > len(data)+strings.Count(string(data), "ET") {
			t.Fatalf("%d bytes of text from %d", len(got), len(data))
		}
		if got := asciiHex(data); len(got) > len(data)/2+1 {
			t.Fatalf("asciiHex: %d bytes from %d", len(got), len(data))
		}
		if got := ascii85(data); len(got) > len(data)*4+4 {
			t.Fatalf("ascii85: %d bytes from %d", len(got), len(data))
		}
	})
}

// FuzzRTF: any bytes, no panic, no more text than input (\uN writes at
// most 3 bytes for its 3+ characters).
func FuzzRTF(f *testing.F) {
	f.Add([]byte(`{\rtf1{\b atmx\'5fprd}\u97?\bin5 xxxxx\par}`))
	f.Add([]byte(`\u-1\'zz\\\{\}\~\_` + "\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if got := rtfText(data); len(got) > len(data) {
			t.Fatalf("%d bytes of text from %d", len(got), len(data))
		}
	})
}

// FuzzOOXML: any bytes, no panic, text no longer than the input.
func FuzzOOXML(f *testing.F) {
	f.Add([]byte(`<w:p><w:r><w:t>atmx_</w:t></w:r><w:r><w:t>prd_</w:t></w:r></w:p>`))
	f.Add([]byte(`<si><t>a&amp;b</t><t><![CDATA[x]]></t></si><p>`))
	f.Fuzz(func(t *testing.T, data []byte) {
		got, _ := ooxmlParagraphs(bytes.NewReader(data))
		if len(got) > 2*len(data)+1 {
			t.Fatalf("%d bytes of text from %d", len(got), len(data))
		}
	})
}

// TestPDFManyKeywords: a file of nothing but stream keywords, with and
// without objects, is read in one pass (a quadratic reader would not
// finish).
func TestPDFManyKeywords(t *testing.T) {
	for _, unit := range []string{"stream\n", "<<>>stream\n", "1 0 obj<<>>stream\n", "obj<< stream\nendstream\n"} {
		data := []byte(strings.Repeat(unit, (8<<20)/len(unit)))
		n := 0
		if err := eachStream(data, func(stream) error { n++; return nil }); err != nil {
			t.Fatal(err)
		}
		t.Logf("%q: %d streams", unit, n)
	}
}
