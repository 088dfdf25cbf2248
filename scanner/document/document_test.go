package document_test

import (
	"archive/zip"
	"bytes"
	"compress/zlib"
	"context"
	"encoding/ascii85"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/atomyx/atomyx-guard/internal/finding"
	"github.com/atomyx/atomyx-guard/patterns"
	"github.com/atomyx/atomyx-guard/scanner"
	"github.com/atomyx/atomyx-guard/scanner/archive"
	"github.com/atomyx/atomyx-guard/scanner/document"
)

type result struct {
	mu    sync.Mutex
	hits  []finding.Hit
	nears []finding.NearMiss
	skips []scanner.Skip
}

func (r *result) Hit(h finding.Hit) { r.mu.Lock(); r.hits = append(r.hits, h); r.mu.Unlock() }
func (r *result) NearMiss(n finding.NearMiss) {
	r.mu.Lock()
	r.nears = append(r.nears, n)
	r.mu.Unlock()
}

// found maps each fingerprint to the paths where it was found.
func (r *result) found() map[string][]string {
	m := map[string][]string{}
	for _, h := range r.hits {
		m[h.Fingerprint] = append(m[h.Fingerprint], h.Location.Path)
	}
	for _, v := range m {
		slices.Sort(v)
	}
	return m
}

type items []scanner.Item

func (s items) Items(ctx context.Context, emit func(scanner.Item) error) error {
	for _, it := range s {
		if err := emit(it); err != nil {
			return err
		}
	}
	return nil
}

func scan(t *testing.T, name string, data []byte, lim scanner.Limits) *result {
	t.Helper()
	res := &result{}
	e := &scanner.Engine{
		Detector:  &scanner.Detector{NearMisses: true},
		Expanders: []scanner.Expander{&archive.Expander{}, &document.Expander{}},
		Limits:    lim,
		OnSkip:    func(s scanner.Skip) { res.mu.Lock(); res.skips = append(res.skips, s); res.mu.Unlock() },
	}
	it := scanner.Item{Loc: finding.Location{Source: finding.SourceFile, Path: name}, Data: data, Size: int64(len(data))}
	if _, err := e.Run(context.Background(), items{it}, res); err != nil {
		t.Fatalf("run: %v", err)
	}
	for _, s := range res.skips {
		t.Logf("skip: %s: %s", s.Where, s.Reason)
	}
	return res
}

func newKey(t testing.TB) string {
	t.Helper()
	k, err := patterns.Generate(patterns.Production)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func fp(k string) string { return patterns.Fingerprint([]byte(k)) }

func flate(t testing.TB, s string) string {
	var b bytes.Buffer
	w := zlib.NewWriter(&b)
	if _, err := w.Write([]byte(s)); err != nil {
		t.Fatal(err)
	}
	w.Close()
	return b.String()
}

// pdf writes a minimal PDF whose objects are the given streams (dictionary
// entries and data), with a cross-reference table, then appends each
// update as an incremental revision.
func pdf(streams []pdfStream, updates ...[]pdfStream) []byte {
	var b bytes.Buffer
	b.WriteString("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
	var offs []int
	obj := func(n int, body string) {
		offs = append(offs, b.Len())
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", n, body)
	}
	obj(1, "<< /Type /Catalog /Pages 2 0 R >>")
	obj(2, "<< /Type /Pages /Kids [3 0 R] /Count 1 >>")
	obj(3, "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R >>")
	n := 4
	write := func(ss []pdfStream) {
		for _, s := range ss {
			obj(n, fmt.Sprintf("<< %s /Length %d >>\nstream\n%s\nendstream", s.dict, len(s.data), s.data))
			n++
		}
		xref := b.Len()
		fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f \n", len(offs)+1)
		for _, o := range offs {
			fmt.Fprintf(&b, "%010d 00000 n \n", o)
		}
		fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(offs)+1, xref)
	}
	write(streams)
	for _, u := range updates {
		write(u)
	}
	return b.Bytes()
}

type pdfStream struct{ dict, data string }

func TestPDF(t *testing.T) {
	k := make([]string, 7)
	for i := range k {
		k[i] = newKey(t)
	}
	bad := k[6][:46] + string("ab"[strings.IndexByte("a", k[6][46])+1])
	content := "BT /F1 12 Tf 72 712 Td [(" + k[0][:9] + ") -250 (" + k[0][9:30] + ")12(" + k[0][30:] + ")] TJ ET\n" +
		"BT 72 690 Td (" + k[1][:20] + ") Tj (" + k[1][20:] + ") Tj ET\n" +
		"BT (" + strings.ReplaceAll(k[2][:12], "_", `\137`) + ") Tj <" + hex.EncodeToString([]byte(k[2][12:])) + "> Tj ET\n" +
		"BT [(" + bad[:10] + ")(" + bad[10:] + ")] TJ ET\n"
	a85 := func(s string) string {
		buf := make([]byte, ascii85.MaxEncodedLen(len(s)))
		return string(buf[:ascii85.Encode(buf, []byte(s))]) + "~>"
	}
	doc := pdf([]pdfStream{
		{"/Filter /FlateDecode", flate(t, content)},
		{"/Filter /ASCIIHexDecode", strings.ToUpper(hex.EncodeToString([]byte("BT ("+k[3]+") Tj ET"))) + ">"},
		{"/Filter [/ASCII85Decode /FlateDecode]", a85(flate(t, "BT [("+k[4][:15]+")("+k[4][15:]+")] TJ ET"))},
	}, []pdfStream{
		// An incremental update: a new revision of the page's content.
		{"/Filter /Fl", flate(t, "q BT ("+k[5][:9]+")' ("+k[5][9:]+") Tj ET Q")},
	})
	if bytes.Contains(doc, []byte(patterns.Prefix)) && bytes.Contains(doc, []byte(k[3])) {
		t.Fatal("the test PDF shows a key in its raw bytes: it proves nothing")
	}
	res := scan(t, "report.pdf", doc, scanner.Limits{})
	got := res.found()
	for i, key := range k[:6] {
		if len(got[fp(key)]) == 0 {
			t.Errorf("key %d not found; found %v", i, got)
		}
	}
	if len(got) != 6 {
		t.Errorf("found %d keys, want 6", len(got))
	}
	if len(res.nears) == 0 {
		t.Error("the split key with a bad checksum is not a near miss")
	}
	for _, p := range got[fp(k[0])] {
		if !strings.HasPrefix(p, "report.pdf!obj 4 0 stream") {
			t.Errorf("location %q does not name the stream", p)
		}
	}
}

// TestPDFBomb: a Flate stream that inflates far beyond the ratio limit is
// stopped and reported, and what was read before it is still found. (The
// Engine stops the whole level at a ratio bomb, so streams after it are
// not read: that is the Engine's policy for archives too.)
func TestPDFBomb(t *testing.T) {
	k := newKey(t)
	bomb := flate(t, strings.Repeat("\x00", 64<<20))
	doc := pdf([]pdfStream{
		{"/Filter /FlateDecode", flate(t, "BT ("+k[:9]+")Tj("+k[9:]+")Tj ET")},
		{"/Filter /FlateDecode", bomb},
	})
	res := scan(t, "bomb.pdf", doc, scanner.Limits{MaxRatio: 50})
	if len(res.found()[fp(k)]) == 0 {
		t.Error("the key before the bomb is not found")
	}
	limited := false
	for _, s := range res.skips {
		limited = limited || strings.Contains(s.Reason, "ratio")
	}
	if !limited {
		t.Errorf("no expansion limit reported: %+v", res.skips)
	}
}

func TestRTF(t *testing.T) {
	k := newKey(t)
	k2 := newKey(t)
	doc := `{\rtf1\ansi\deff0{\fonttbl{\f0 Calibri;}}` + "\r\n" +
		`{\pard The key is {\b ` + k[:4] + `\'5f` + k[5:20] + `}` + "\r\n" + k[20:] + `\par}` + "\r\n" +
		`{\pard \u97?` + k2[1:30] + `{\i ` + k2[30:] + `}\par}}`
	if strings.Contains(doc, k) || strings.Contains(doc, k2[1:]) && strings.Contains(doc, k2) {
		t.Fatal("the RTF shows a key in its raw bytes")
	}
	got := scan(t, "letter.rtf", []byte(doc), scanner.Limits{}).found()
	if len(got) != 2 || len(got[fp(k)]) == 0 || len(got[fp(k2)]) == 0 {
		t.Fatalf("found %v, want both keys", got)
	}
	if got[fp(k)][0] != "letter.rtf!text" {
		t.Errorf("location %q", got[fp(k)][0])
	}
}

func zipOf(t *testing.T, files map[string]string) []byte {
	var b bytes.Buffer
	w := zip.NewWriter(&b)
	for name, body := range files {
		f, err := w.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		f.Write([]byte(body))
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestOOXML(t *testing.T) {
	k := make([]string, 4)
	for i := range k {
		k[i] = newKey(t)
	}
	run := func(s string, bold bool) string {
		rpr := ""
		if bold {
			rpr = "<w:rPr><w:b/></w:rPr>"
		}
		return `<w:r>` + rpr + `<w:t xml:space="preserve">` + s + `</w:t></w:r>`
	}
	docx := zipOf(t, map[string]string{
		"[Content_Types].xml": `<?xml version="1.0"?><Types/>`,
		"word/document.xml": `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>` +
			`<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>` +
			`<w:p>` + run("key: "+k[0][:10], false) + run(k[0][10:25], true) + `<w:proofErr w:type="spellStart"/>` + run(k[0][25:], false) + `</w:p>` +
			`<w:p><w:del><w:r><w:delText>` + k[1][:20] + `</w:delText></w:r></w:del>` + run(k[1][20:], false) + `</w:p>` +
			`</w:body></w:document>`,
	})
	xlsx := zipOf(t, map[string]string{
		"xl/sharedStrings.xml": `<?xml version="1.0"?><sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">` +
			`<si><t>plain</t></si><si><r><t>` + k[2][:9] + `</t></r><r><rPr><b/></rPr><t>` + k[2][9:] + `</t></r></si></sst>`,
	})
	pptx := zipOf(t, map[string]string{
		"ppt/slides/slide1.xml": `<?xml version="1.0"?><p:sld xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main" xmlns:p="p">` +
			`<a:p><a:r><a:t>` + k[3][:30] + `</a:t></a:r><a:r><a:t>` + k[3][30:] + `</a:t></a:r></a:p></p:sld>`,
	})
	for name, data := range map[string][]byte{"memo.docx": docx, "sheet.xlsx": xlsx, "deck.pptx": pptx} {
		for _, key := range k {
			if bytes.Contains(data, []byte(key)) {
				t.Fatalf("%s shows a key in its raw bytes", name)
			}
		}
		got := scan(t, name, data, scanner.Limits{}).found()
		want := map[string]int{"memo.docx": 2, "sheet.xlsx": 1, "deck.pptx": 1}[name]
		if len(got) != want {
			t.Errorf("%s: found %d keys, want %d", name, len(got), want)
		}
		for _, paths := range got {
			if !strings.HasSuffix(paths[0], ".xml!text") {
				t.Errorf("%s: location %q", name, paths[0])
			}
		}
	}
}

// A stream cut short by the bomb ratio is skipped; the streams after it
// are still read, as an archive's siblings are.
func TestPDFAfterBomb(t *testing.T) {
	before, after := newKey(t), newKey(t)
	doc := pdf([]pdfStream{
		{"/Filter /FlateDecode", flate(t, "BT ("+before+")Tj ET")},
		{"/Filter /FlateDecode", flate(t, strings.Repeat("\x00", 64<<20))},
		{"/Filter /FlateDecode", flate(t, "BT ("+after[:9]+")Tj("+after[9:]+")Tj ET")},
	})
	res := scan(t, "bomb.pdf", doc, scanner.Limits{MaxRatio: 50})
	got := res.found()
	if len(got[fp(before)]) == 0 || len(got[fp(after)]) == 0 {
		t.Fatalf("found %v, want the keys before and after the bomb; skips %+v", got, res.skips)
	}
}
