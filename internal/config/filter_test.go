package config

import (
	"reflect"
	"strings"
	"testing"

	"github.com/atomyx/atomyx-guard/internal/finding"
)

func TestGlob(t *testing.T) {
	tests := []struct {
		pat string
		yes []string
		no  []string
	}{
		{"testdata/**", []string{"testdata/a", "testdata/x/y/z.go", "testdata"}, []string{"pkg/testdata/a", "testdatax/a"}},
		{"docs/*.md", []string{"docs/a.md", "./docs/b.md"}, []string{"docs/x/a.md", "a.md", "docs/a.mdx"}},
		{"**/fixtures/**", []string{"fixtures/a", "x/y/fixtures/z/w"}, []string{"x/fixturesz/a"}},
		{"*.min.js", []string{"a.min.js", "dist/x/a.min.js"}, []string{"a.js", "dist/a.min.jsx"}},
		{"/config/dev.env", []string{"config/dev.env", "/config/dev.env"}, []string{"x/config/dev.env"}},
		{"vendor/", []string{"vendor/a", "vendor/a/b"}, []string{"vendorx", "a/vendor/b"}},
		{"a/**/b", []string{"a/b", "a/x/b", "a/x/y/b"}, []string{"a/x/c", "b"}},
		{"**", []string{"anything/at/all", "x"}, nil},
		{"file?.[ch]", []string{"file1.c", "sub/fileA.h"}, []string{"file10.c", "file1.go"}},
	}
	for _, tt := range tests {
		g, err := compileGlob(tt.pat)
		if err != nil {
			t.Fatalf("%q: %v", tt.pat, err)
		}
		for _, p := range tt.yes {
			if !g.match(p) {
				t.Errorf("%q should match %q", tt.pat, p)
			}
		}
		for _, p := range tt.no {
			if g.match(p) {
				t.Errorf("%q should not match %q", tt.pat, p)
			}
		}
	}
	for _, bad := range []string{"", "/", "a//b", "a/../b", `a\b`, "[", "x**"} {
		if _, err := compileGlob(bad); err == nil {
			t.Errorf("compileGlob(%q): no error", bad)
		}
	}
}

func TestGlobArchiveMembers(t *testing.T) {
	tests := []struct {
		pat, path string
		want      bool
	}{
		{"release/*.zip", "release/app.zip!conf/app.env", true},
		{"conf/*.env", "release/app.zip!conf/app.env", true},
		{"*.env", "release/app.zip!conf/app.env", true},
		{"docs/**", "release/app.zip!conf/app.env", false},
		{"inner.txt", "a.tar.gz!b.zip!inner.txt", true},
		{"b.zip", "a.tar.gz!b.zip!inner.txt", true},
	}
	for _, tt := range tests {
		g, err := compileGlob(tt.pat)
		if err != nil {
			t.Fatal(err)
		}
		if got := g.matchLocationPath(tt.path); got != tt.want {
			t.Errorf("%q on %q = %v, want %v", tt.pat, tt.path, got, tt.want)
		}
	}
}

func TestFilter(t *testing.T) {
	c, err := Parse([]byte(`
[allow]
paths = ["testdata/**", "docs/*.md"]
[[allow.fingerprints]]
fingerprint = "` + fp('d') + `"
reason = "revoked demo key"
`))
	if err != nil {
		t.Fatal(err)
	}
	loc := func(path string, allowed string) finding.Location {
		return finding.Location{Source: "git", Kind: "blob", Path: path, Line: 1, Allowed: allowed}
	}
	in := []finding.Finding{
		{Fingerprint: fp('a'), Locations: []finding.Location{loc("src/a.go", ""), loc("testdata/k.txt", "")}},
		{Fingerprint: fp('b'), Locations: []finding.Location{loc("testdata/x", ""), loc("docs/readme.md", "")}},
		{Fingerprint: fp('c'), Locations: []finding.Location{loc("src/c.go", "inline atomyx-guard:allow")}},
		{Fingerprint: fp('d'), Locations: []finding.Location{loc("src/d.go", "")}},
		{Fingerprint: fp('e'), Locations: []finding.Location{loc("src/e.go", ""), loc("src/e2.go", "inline atomyx-guard:allow")}},
		{Fingerprint: fp('f'), Locations: []finding.Location{{Source: "git", Kind: "commit-message", Commit: "abcd"}}},
		{Fingerprint: fp('g'), Locations: []finding.Location{loc("dist.zip!testdata/x", "")}},
	}
	snapshot := deepCopy(in)
	kept, allowed := c.Filter(in)
	if !reflect.DeepEqual(in, snapshot) {
		t.Error("Filter modified its input")
	}
	fps := func(fs []finding.Finding) string {
		var s []string
		for _, f := range fs {
			s = append(s, f.Fingerprint[7:8])
		}
		return strings.Join(s, "")
	}
	if got := fps(kept); got != "aef" {
		t.Errorf("kept = %s, want aef", got)
	}
	if got := fps(allowed); got != "bcdg" {
		t.Errorf("allowed = %s, want bcdg", got)
	}
	if len(kept[0].Locations) != 1 || kept[0].Locations[0].Path != "src/a.go" {
		t.Errorf("a keeps %v", kept[0].Locations)
	}
	if len(kept[1].Locations) != 1 || kept[1].Locations[0].Path != "src/e.go" {
		t.Errorf("e keeps %v", kept[1].Locations)
	}
	reasons := map[string]string{}
	for _, f := range allowed {
		reasons[f.Fingerprint[7:8]] = f.Locations[0].Allowed
	}
	want := map[string]string{
		"b": "path in config: testdata/**", "c": "inline atomyx-guard:allow",
		"d": "fingerprint in config: revoked demo key", "g": "path in config: testdata/**",
	}
	if !reflect.DeepEqual(reasons, want) {
		t.Errorf("reasons = %v\nwant %v", reasons, want)
	}
	// Defaults allow only inline markers.
	kept, allowed = Default().Filter(in)
	if fps(kept) != "abdefg" || fps(allowed) != "c" {
		t.Errorf("defaults: kept %s allowed %s", fps(kept), fps(allowed))
	}
}

func deepCopy(fs []finding.Finding) []finding.Finding {
	out := make([]finding.Finding, len(fs))
	for i, f := range fs {
		f.Locations = append([]finding.Location(nil), f.Locations...)
		out[i] = f
	}
	return out
}
