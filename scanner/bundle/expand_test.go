package bundle

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/atomyx/atomyx-guard/internal/finding"
	"github.com/atomyx/atomyx-guard/internal/testkit"
	"github.com/atomyx/atomyx-guard/patterns"
	"github.com/atomyx/atomyx-guard/scanner"
)

// want is one location a key must have.
type want struct {
	key          string
	path         string
	line, column int // 0: not asserted
	orig         *finding.Original
}

func TestExpand(t *testing.T) {
	dir := t.TempDir()
	k := make([]string, 12)
	for i := range k {
		k[i] = testkit.NewKey(t, patterns.Production)
	}
	bad, upper := decoys(t)
	col := func(text, sub string) int { // 1-based column of sub on its line
		i := strings.Index(text, sub)
		return i - strings.LastIndexByte(text[:i], '\n')
	}

	// A .map file carrying its sources: one key on line 3 of config.ts,
	// one at the start of a line (glued to the "n" of "\n" in the raw
	// JSON, so only the decoded source shows it).
	configTS := "// settings\nexport const region = \"eu\";\nexport const key = \"" + k[0] + "\";\n// " + bad + "\n"
	envTXT := "FOO=1\n" + k[1] + "\n" + upper + "\n"
	mapFile := mapJSON(t, testMap{SourceRoot: "webpack://app/", Sources: []string{"src/config.ts", "src/env.txt"},
		SourcesContent: []*string{strp(configTS), strp(envTXT)}, Mappings: "AAAA"})

	// A bundle with an inline map whose sources differ from the bundle's
	// text: the generated key maps through mappings to main.ts line 3.
	gen := `!function(){var e="` + k[2] + `";console.log(e)}();`
	q := strings.Index(gen, `"`)
	mainTS := "import x from './x';\n\nconst e = \"" + k[3] + "\";\n"
	inline := mapJSON(t, testMap{Sources: []string{"src/main.ts"}, SourcesContent: []*string{strp(mainTS)},
		Mappings: encodeMappings([][]seg{{{0, 0, 0, 0}, {q, 0, 2, 10}}})})
	inlineBundle := gen + "\n//# sourceMappingURL=data:application/json;charset=utf-8;base64," +
		base64.StdEncoding.EncodeToString([]byte(inline)) + "\n"

	// A bundle and a CSS file whose maps sit beside them on disk.
	ext := "var a=1;\nvar b={k:\"" + k[4] + "\"};\n//# sourceMappingURL=ext.js.map"
	extMap := mapJSON(t, testMap{Sources: []string{"../src/keys.js"},
		Mappings: encodeMappings([][]seg{{{0, 0, 0, 0}}, {{0, 0, 4, 0}, {7, 0, 6, 2}}})})
	css := ".a{color:red}\n.b{background:url(\"/i.png?k=" + k[5] + "\")}\n/*# sourceMappingURL=site.css.map */\n"
	cssMap := mapJSON(t, testMap{Sources: []string{"scss/site.scss"},
		Mappings: encodeMappings([][]seg{{{0, 0, 0, 0}}, {{0, 0, 6, 0}}})})
	for name, content := range map[string]string{"ext.js": ext, "ext.js.map": extMap, "site.css": css, "site.css.map": cssMap} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	// webpack's eval devtool: the module text is a string literal.
	evalBundle := `(()=>{var __webpack_modules__={"./src/config.js":((m,e,r)=>{eval("__webpack_require__.r(__webpack_exports__);\n/* harmony export */ \nconst key = \"` +
		k[6] + `\";\n\n//# sourceURL=webpack://app/./src/config.js?");})};})();` + "\n"

	// A page: an inline script with an inline map, a key in an attribute.
	scriptGen := "var k=\"" + k[7] + "\";"
	pageMap := mapJSON(t, testMap{Sources: []string{"src/inline.ts"},
		Mappings: encodeMappings([][]seg{{{0, 0, 1, 0}}})})
	page := "<!doctype html>\n<html><head>\n<meta name=\"k\" content=\"" + k[8] + "\">\n<script>" + scriptGen +
		"\n//# sourceMappingURL=data:application/json;base64," + base64.StdEncoding.EncodeToString([]byte(pageMap)) +
		"\n</script></head><body>" + bad + "</body></html>\n"

	tests := []struct {
		name  string
		items []scanner.Item
		want  []want
		keys  int    // distinct keys expected
		skip  string // a Skip reason must contain this
	}{
		{
			name:  "map file sourcesContent",
			items: []scanner.Item{fileItem("dist/app.js.map", mapFile)},
			want: []want{
				{k[0], "dist/app.js.map", 1, col(mapFile, k[0]), &finding.Original{Path: "webpack://app/src/config.ts", Line: 3, Column: col(configTS, k[0])}},
				{k[1], "dist/app.js.map", 1, col(mapFile, k[1]), &finding.Original{Path: "webpack://app/src/env.txt", Line: 2, Column: 1}},
			},
			keys: 2,
		},
		{
			name:  "inline data map",
			items: []scanner.Item{fileItem("dist/inline.js", inlineBundle)},
			want: []want{
				{k[2], "dist/inline.js", 1, q + 2, &finding.Original{Path: "src/main.ts", Line: 3, Column: 11}},
				{k[3], "dist/inline.js", 2, col(inlineBundle, "data:"), &finding.Original{Path: "src/main.ts", Line: 3, Column: col(mainTS, k[3])}},
			},
			keys: 2,
		},
		{
			name:  "external maps on disk",
			items: []scanner.Item{fileItem(filepath.Join(dir, "ext.js"), ext), fileItem(filepath.Join(dir, "site.css"), css)},
			want: []want{
				{k[4], filepath.Join(dir, "ext.js"), 2, col(ext, k[4]), &finding.Original{Path: "../src/keys.js", Line: 7, Column: 3}},
				{k[5], filepath.Join(dir, "site.css"), 2, col(css, k[5]), &finding.Original{Path: "scss/site.scss", Line: 7, Column: 1}},
			},
			keys: 2,
		},
		{
			name:  "webpack eval module",
			items: []scanner.Item{fileItem("dist/main.js", evalBundle)},
			want:  []want{{k[6], "dist/main.js", 1, col(evalBundle, k[6]), &finding.Original{Path: "webpack://app/./src/config.js", Line: 3}}},
			keys:  1,
		},
		{
			name:  "html inline script",
			items: []scanner.Item{fileItem("index.html", page)},
			want: []want{
				{k[7], "index.html", 4, col(page, k[7]), &finding.Original{Path: "src/inline.ts", Line: 2, Column: 1}},
				{k[8], "index.html", 3, col(page, k[8]), nil},
			},
			keys: 2,
		},
		{
			name:  "malformed map JSON",
			items: []scanner.Item{fileItem("dist/bad.js.map", `{"version":3,"sources":["a.ts"],"sourcesContent":["const k = '`+k[9]+`'"],`)},
			want:  []want{{k[9], "dist/bad.js.map", 1, 0, nil}},
			keys:  1,
			skip:  "source map",
		},
		{
			name:  "bad VLQ",
			items: []scanner.Item{fileItem("dist/vlq.js.map", mapJSON(t, testMap{Sources: []string{"a.ts"}, SourcesContent: []*string{strp("k='" + k[10] + "'")}, Mappings: "AA!A"}))},
			want:  []want{{k[10], "dist/vlq.js.map", 1, 0, nil}},
			keys:  1,
			skip:  "bad VLQ",
		},
		{
			name:  "bad inline map",
			items: []scanner.Item{fileItem("dist/x.js", "var k='"+k[11]+"';\n//# sourceMappingURL=data:application/json;base64,@@@")},
			want:  []want{{k[11], "dist/x.js", 1, 8, nil}},
			keys:  1,
			skip:  "inline source map",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			set, skips := scan(t, &Expander{}, tc.items...)
			if got := set.Len(); got != tc.keys {
				t.Errorf("found %d keys, want %d (decoys reported?)", got, tc.keys)
			}
			for _, w := range tc.want {
				locs := locationsOf(set, w.key)
				if !hasLocation(locs, w) {
					t.Errorf("key %s: locations %q, want %s:%d:%d <- %+v", patterns.Redact([]byte(w.key)), describeLocs(locs), w.path, w.line, w.column, w.orig)
				}
				for _, l := range locs {
					if l.Original == nil && l.Decoded == nil && w.orig != nil {
						t.Errorf("location without origin beside the mapped one: %+v", l)
					}
				}
			}
			var reasons []string
			for _, s := range skips {
				reasons = append(reasons, s.Reason)
			}
			if tc.skip == "" && len(skips) > 0 {
				t.Errorf("unexpected skips %q", reasons)
			}
			if tc.skip != "" && !strings.Contains(strings.Join(reasons, "|"), tc.skip) {
				t.Errorf("skips %q, want one containing %q", reasons, tc.skip)
			}
		})
	}
}

func hasLocation(locs []finding.Location, w want) bool {
	for _, l := range locs {
		if l.Path != w.path || (w.line != 0 && l.Line != w.line) || (w.column != 0 && l.Column != w.column) {
			continue
		}
		if (l.Original == nil) != (w.orig == nil) || l.Original != nil && *l.Original != *w.orig {
			continue
		}
		return true
	}
	return false
}

func describeLocs(locs []finding.Location) []string {
	var out []string
	for _, l := range locs {
		s := fmt.Sprintf("%s:%d:%d", l.Path, l.Line, l.Column)
		if l.Original != nil {
			s += fmt.Sprintf(" <- %s:%d:%d", l.Original.Path, l.Original.Line, l.Original.Column)
		}
		out = append(out, s)
	}
	return out
}

// A source path is the map author's text: a key in it must not reach a
// report whole.
func TestOriginalPathsAreLabelled(t *testing.T) {
	inPath, inContent := testkit.NewKey(t, patterns.Production), testkit.NewKey(t, patterns.Production)
	m := mapJSON(t, testMap{Sources: []string{"src/x.ts?k=" + inPath}, SourcesContent: []*string{strp("k='" + inContent + "'")}, Mappings: "AAAA"})
	set, _ := scan(t, &Expander{}, fileItem("x.js.map", m))
	locs := locationsOf(set, inContent)
	if len(locs) != 1 || locs[0].Original == nil {
		t.Fatalf("locations %v", describeLocs(locs))
	}
	if p := locs[0].Original.Path; strings.Contains(p, inPath) || !strings.Contains(p, patterns.Redact([]byte(inPath))) {
		t.Errorf("original path %q not redacted", patterns.Scrub(p))
	}
}

// An external map is loaded only to place a key found in its bundle: a
// bundle without keys costs no map read and no map parse, and one with
// keys loads its map once.
func TestExternalMapLoadedOnlyForKeys(t *testing.T) {
	k := testkit.NewKey(t, patterns.Production)
	sm := mapJSON(t, testMap{Sources: []string{"src/a.ts"}, Mappings: "AAAA"})
	loads := 0
	ex := &Expander{LoadMap: func(context.Context, scanner.Item, string) ([]byte, error) {
		loads++
		return []byte(sm), nil
	}}
	scan(t, ex, fileItem("dist/clean.js", "var a=1;\n//# sourceMappingURL=clean.js.map\n"))
	if loads != 0 {
		t.Fatalf("a bundle without keys loaded its map %d times", loads)
	}
	set, _ := scan(t, ex, fileItem("dist/k.js", "var a='"+k+"',b='"+k+"';\n//# sourceMappingURL=k.js.map\n"))
	if loads != 1 {
		t.Fatalf("map loaded %d times, want 1", loads)
	}
	locs := locationsOf(set, k)
	if len(locs) == 0 || locs[0].Original == nil || locs[0].Original.Path != "src/a.ts" {
		t.Fatalf("locations %v, want mapped to src/a.ts", describeLocs(locs))
	}
}

// Items that come with a reader (files the Engine streams, archive
// members) are read into pooled buffers: one after another, each is
// scanned from its own bytes, its keys placed in it, and a longer one
// after a shorter (a buffer that grows) too.
func TestStreamedItemsPooled(t *testing.T) {
	var items []scanner.Item
	var keys []string
	for i, pad := range []int{100, 50, 300 << 10, 10} {
		k := testkit.NewKey(t, patterns.Production)
		keys = append(keys, k)
		js := strings.Repeat("var a=1;\n", pad/9+1) + "var k='" + k + "';\n"
		it := fileItem(fmt.Sprintf("dist/%d.js", i), js)
		data := it.Data
		it.Data, it.Size = nil, -1 // streamed: read by the expander
		it.Open = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }
		items = append(items, it)
	}
	set, skips := scan(t, &Expander{}, items...)
	if len(skips) > 0 {
		t.Fatalf("skips %v", skips)
	}
	for i, k := range keys {
		locs := locationsOf(set, k)
		want := fmt.Sprintf("dist/%d.js", i)
		if len(locs) != 1 || locs[0].Path != want || locs[0].Line != []int{100, 50, 300 << 10, 10}[i]/9+2 {
			t.Errorf("key %d at %v, want once in %s", i, describeLocs(locs), want)
		}
	}
}
