package report

import (
	"bytes"
	"fmt"
	"io"
	"testing"

	"github.com/atomyx/atomyx-guard/internal/finding"
)

// bigReport has 1,000 keys in 10 locations each.
func bigReport() *Report {
	r := &Report{Stats: Stats{Commits: 100000, Blobs: 500000, Bytes: 10 << 30}}
	for i := range 1000 {
		f := finding.Finding{
			Fingerprint: fmt.Sprintf("sha256:%064x", i), Redacted: "atmx_prd_q7Lw…",
			Environment: "production", Status: finding.Unverified,
		}
		for j := range 10 {
			f.Locations = append(f.Locations, finding.Location{
				Source: "git", Kind: "blob", Path: fmt.Sprintf("services/svc%d/config/settings_%d.py", i, j),
				Line: j + 1, Column: 7, Commit: fmt.Sprintf("%040x", i*10+j), Author: "Dana Dev <dana@example.com>",
				Date: "2026-03-04T05:06:07Z",
			})
		}
		r.Findings = append(r.Findings, f)
	}
	return r
}

func BenchmarkWriters(b *testing.B) {
	r := bigReport()
	var js bytes.Buffer
	_ = WriteJSON(&js, r)
	for _, w := range []struct {
		name  string
		write func(io.Writer) error
	}{
		{"JSON", func(w io.Writer) error { return WriteJSON(w, r) }},
		{"SARIF", func(w io.Writer) error { return WriteSARIF(w, r, ToolInfo{}) }},
		{"Text", func(w io.Writer) error { return WriteText(w, r, TextOptions{Color: true}) }},
		{"Markdown", func(w io.Writer) error { return Markdown(w, r) }},
		{"ReadJSON", func(io.Writer) error { _, err := ReadJSON(bytes.NewReader(js.Bytes())); return err }},
	} {
		b.Run(w.name, func(b *testing.B) {
			b.SetBytes(int64(js.Len()))
			for b.Loop() {
				if err := w.write(io.Discard); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
