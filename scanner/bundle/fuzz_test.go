package bundle

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/atomyx/atomyx-guard/internal/finding"
	"github.com/atomyx/atomyx-guard/scanner"
)

// FuzzParseMap checks the source-map reader (JSON, VLQ, sections) on
// hostile input: no panic, lookups stay in range, and where encoding/json
// reads the same map unambiguously, both agree on sources and contents.
func FuzzParseMap(f *testing.F) {
	f.Add([]byte(`{"version":3,"sources":["a.ts","b.ts"],"sourcesContent":["x\ny","\"q\"\u00e9"],"mappings":"AAAA,CAAC;ACCA;;gBAAgB"}`))
	f.Add([]byte(`{"version":3,"sections":[{"offset":{"line":0,"column":0},"map":{"version":3,"sources":["s"],"sourcesContent":["k"],"mappings":"AAAA"}}]}`))
	f.Add([]byte(")]}'\n" + `{"version":3,"sources":[null],"sourcesContent":[null],"mappings":";;"}`))
	f.Add([]byte(`{"version":3,"sources":["a"],"mappings":"AA!A"}`))
	f.Add([]byte(`{"version":3,"sources":["a"],"mappings":"A\u0041AA;AACA","mappings":"AAAA"}`))
	f.Add([]byte(`{"version":3,"sources":["\ud83d\ude00\\"],"sourcesContent":["\\\"",1],"names":[{"a":[true,false,null,-1.5e3]}],"mappings":""}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		lazy, lerr := parseLazy(data)
		m, err := ParseMap(data)
		if err != nil {
			if lerr == nil { // a map the expander took: it maps nothing back where mappings are bad
				for line := range 3 {
					if _, ok := lazy.Lookup(line, 0); ok && strings.Contains(err.Error(), "VLQ") {
						t.Fatalf("lazy map with bad mappings (%v) maps line %d", err, line)
					}
				}
			}
			return
		}
		if lerr != nil {
			t.Fatalf("ParseMap takes the map, the lazy parse refuses it: %v", lerr)
		}
		for line := range 3 {
			for _, col := range []int{0, 1, 7, 1 << 20} {
				p, ok := m.Lookup(line, col)
				if ok && (p.Line < 1 || p.Column < 1) {
					t.Fatalf("Lookup(%d,%d) = %+v", line, col, p)
				}
				if lp, lok := lazy.Lookup(line, col); lp != p || lok != ok {
					t.Fatalf("Lookup(%d,%d) = %+v %v, lazily %+v %v", line, col, p, ok, lp, lok)
				}
			}
		}
		m.eachContent(func(owner *Map, sp contentSpan) {
			c, err := owner.content(sp)
			if err != nil {
				return
			}
			for doff := 0; doff <= len(c); doff += max(1, len(c)/7) {
				if r := rawOffset(data, sp.start, sp.end, doff); r < sp.start || r > sp.end {
					t.Fatalf("rawOffset(%d) = %d outside %d..%d", doff, r, sp.start, sp.end)
				}
			}
		})
		body := stripXSSI(data)
		lower := strings.ToLower(string(body))
		if !json.Valid(body) || len(m.Sections) > 0 || strings.Count(lower, `"sourcescontent"`) != 1 || strings.Count(lower, `"sources"`) != 1 {
			return // duplicate or case-folded keys: each decoder picks its own
		}
		var std struct {
			Sources        []*string
			SourcesContent []*string
		}
		if json.Unmarshal(body, &std) != nil || len(std.Sources) != len(m.Sources) {
			return
		}
		for i, s := range std.Sources {
			if s != nil && *s != m.Sources[i] {
				t.Fatalf("sources[%d] = %q, encoding/json reads %q", i, m.Sources[i], *s)
			}
		}
		for _, sp := range m.contents {
			c, err := m.content(sp)
			if sp.index >= len(std.SourcesContent) || std.SourcesContent[sp.index] == nil {
				t.Fatalf("sourcesContent[%d] found, encoding/json has none", sp.index)
			}
			if want := *std.SourcesContent[sp.index]; err != nil || string(c) != want {
				t.Fatalf("sourcesContent[%d] = %q (%v), encoding/json reads %q", sp.index, c, err, want)
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

// FuzzUnquote holds unquote to encoding/json's reading of the same string.
func FuzzUnquote(f *testing.F) {
	for _, s := range []string{`plain`, `a\nb\t\"q\"\\\/`, `\u00e9\ud83d\ude00`, `\ud83d`, `\ud83dx`, `\ude00\ud83d\u0041`,
		"\xff\xfe", "caf\xc3\xa9", `\x`, `\u12`, `\uZZZZ`, "ctl\x01", `bare"quote`, `\'`, `\`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		got, ok := unquote(body)
		var want string
		err := json.Unmarshal([]byte(`"`+string(body)+`"`), &want)
		if ok != (err == nil) || ok && string(got) != want {
			t.Fatalf("unquote(%q) = %q, %v; encoding/json: %q, %v", body, got, ok, want, err)
		}
	})
}
