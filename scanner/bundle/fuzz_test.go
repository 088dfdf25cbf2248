package bundle

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/atomyx/atomyx-guard/finding"
	"github.com/atomyx/atomyx-guard/scanner"
)

// FuzzParseMap checks the source-map reader (JSON, VLQ, sections) on
// hostile input: no panic, lookups stay in range, and the raw spans the
// walker finds hold exactly the sources the JSON decoder read.
func FuzzParseMap(f *testing.F) {
	f.Add([]byte(`{"version":3,"sources":["a.ts","b.ts"],"sourcesContent":["x\ny","\"q\"\u00e9"],"mappings":"AAAA,CAAC;ACCA;;gBAAgB"}`))
	f.Add([]byte(`{"version":3,"sections":[{"offset":{"line":0,"column":0},"map":{"version":3,"sources":["s"],"sourcesContent":["k"],"mappings":"AAAA"}}]}`))
	f.Add([]byte(")]}'\n" + `{"version":3,"sources":[null],"sourcesContent":[null],"mappings":";;"}`))
	f.Add([]byte(`{"version":3,"sources":["a"],"mappings":"AA!A"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := ParseMap(data)
		if err != nil {
			return
		}
		lean, leanErr := parseMappingsOnly(data)
		for line := range 3 {
			for _, col := range []int{0, 1, 7, 1 << 20} {
				p, ok := m.Lookup(line, col)
				if ok && (p.Line < 1 || p.Column < 1) {
					t.Fatalf("Lookup(%d,%d) = %+v", line, col, p)
				}
				if leanErr == nil {
					if lp, lok := lean.Lookup(line, col); lp != p || lok != ok {
						t.Fatalf("lean Lookup(%d,%d) = %+v %v, full %+v %v", line, col, lp, lok, p, ok)
					}
				}
			}
		}
		contents := map[[2]int]string{}
		m.eachContent(func(s, i int, _, c string) { contents[[2]int{s, i}] = c })
		body := stripXSSI(data)
		spans, err := findContentSpans(body)
		if err != nil {
			return
		}
		if strings.Count(strings.ToLower(string(body)), "sourcescontent") != 1 || len(m.Sections) > 0 {
			return // duplicate or case-folded keys: the decoder's pick is its own
		}
		for _, sp := range spans {
			want, ok := contents[[2]int{sp.section, sp.index}]
			if !ok {
				continue
			}
			var got string
			if err := json.Unmarshal([]byte(`"`+string(body[sp.start:sp.end])+`"`), &got); err != nil || got != want {
				t.Fatalf("span %+v decodes to %q (%v), map has %q", sp, got, err, want)
			}
			for doff := 0; doff <= len(want); doff += max(1, len(want)/7) {
				if r := rawOffset(body, sp.start, sp.end, doff); r < sp.start || r > sp.end {
					t.Fatalf("rawOffset(%d) = %d outside %d..%d", doff, r, sp.start, sp.end)
				}
			}
		}
	})
}

// FuzzRefs checks the HTML/JS/CSS reference extractor and the expansion of
// the same bytes (eval modules, inline maps, remapping) on hostile input.
func FuzzRefs(f *testing.F) {
	inline := base64.StdEncoding.EncodeToString([]byte(`{"version":3,"sources":["a"],"sourcesContent":["k"],"mappings":"AAAA"}`))
	f.Add([]byte(`<html><script src="/a.js"></script><script>import("./c.js")</script><link rel=modulepreload href=m.js><style>/*# sourceMappingURL=s.map */</style></html>`))
	f.Add([]byte(`import{a}from"./x.js";eval("x;\n//# sourceURL=webpack://a/./s.js?");r.p="/";r.u=e=>""+e+"."+{1:"ab"}[e]+".js"` + "\n//# sourceMappingURL=data:application/json;base64," + inline))
	f.Add([]byte(`@import url("a.css"); /*# sourceMappingURL=a.css.map */`))
	f.Add([]byte(`eval('\\'); eval("a\\nb\n//# sourceMappingURL=data:,%7B%7D")`))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, k := range []Kind{HTML, JS, CSS} {
			for _, r := range Refs(k, data) {
				if r.URL == "" || r.Kind < RefScript || r.Kind > RefBase {
					t.Fatalf("bad ref %+v", r)
				}
			}
		}
		for _, m := range findEvalModules(data) {
			if m.start < 0 || m.end > len(data) || m.start > m.end {
				t.Fatalf("eval module %+v outside %d bytes", m, len(data))
			}
		}
		for _, name := range []string{"a.html", "a.js", "a.css", "a.map"} {
			it := scanner.Item{Loc: finding.Location{Source: finding.SourceURL, URL: "https://x.test/" + name}, Data: data}
			_ = (&Expander{LoadMap: noMaps}).Expand(context.Background(), it, strings.NewReader(string(data)),
				func(in scanner.Item) error {
					if in.Remap == nil {
						t.Fatalf("emitted item without Remap")
					}
					for line := 1; line < 4; line++ {
						for _, col := range []int{1, 2, 50} {
							in.Remap(finding.Location{Line: line, Column: col})
						}
					}
					return nil
				})
		}
	})
}

func noMaps(context.Context, scanner.Item, string) ([]byte, error) {
	return nil, errors.New("no maps while fuzzing")
}
