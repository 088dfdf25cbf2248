package bundle

import (
	"errors"
	"strings"
	"testing"
)

func TestVLQ(t *testing.T) {
	tests := []struct {
		in   string
		want int32
		err  bool
	}{
		{"A", 0, false},
		{"C", 1, false},
		{"D", -1, false},
		{"E", 2, false},
		{"gB", 16, false},
		{"hB", -16, false},
		{"+/D", 0, false}, // continuation then terminator
		{"//////H", 0, true},
		{"g", 0, true}, // continuation without more
		{"!", 0, true},
	}
	for _, tc := range tests {
		v, _, err := vlq(tc.in, 0)
		if (err != nil) != tc.err {
			t.Errorf("vlq(%q) error %v, want error %v", tc.in, err, tc.err)
			continue
		}
		if err == nil && tc.in != "+/D" && v != tc.want {
			t.Errorf("vlq(%q) = %d, want %d", tc.in, v, tc.want)
		}
	}
	for _, v := range []int{0, 1, -1, 15, 16, -17, 1000, -123456, 1<<31 - 1} {
		got, _, err := vlq(vlqEnc(v), 0)
		if err != nil || int(got) != v {
			t.Errorf("round trip %d: got %d, %v", v, got, err)
		}
	}
}

func TestLookup(t *testing.T) {
	m, err := ParseMap([]byte(mapJSON(t, testMap{SourceRoot: "/root", Sources: []string{"a.ts", "b.ts"},
		Mappings: encodeMappings([][]seg{
			{{0, 0, 0, 0}, {10, 1, 4, 2}, {20, 0, 9, 0}},
			{},
			{{5, 1, 0, 7}},
		})})))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		line, col int
		want      Position
		ok        bool
	}{
		{0, 0, Position{"/root/a.ts", 1, 1}, true},
		{0, 9, Position{"/root/a.ts", 1, 1}, true},
		{0, 10, Position{"/root/b.ts", 5, 3}, true},
		{0, 1000, Position{"/root/a.ts", 10, 1}, true},
		{1, 3, Position{}, false},
		{2, 4, Position{}, false},
		{2, 5, Position{"/root/b.ts", 1, 8}, true},
		{3, 0, Position{}, false},
		{-1, 0, Position{}, false},
	}
	for _, tc := range tests {
		got, ok := m.Lookup(tc.line, tc.col)
		if ok != tc.ok || got != tc.want {
			t.Errorf("Lookup(%d, %d) = %+v, %v; want %+v, %v", tc.line, tc.col, got, ok, tc.want, tc.ok)
		}
	}
}

func TestIndexMap(t *testing.T) {
	inner := mapJSON(t, testMap{Sources: []string{"s.ts"}, SourcesContent: []*string{strp("x")},
		Mappings: encodeMappings([][]seg{{{0, 0, 3, 0}}})})
	raw := `{"version":3,"sections":[{"offset":{"line":0,"column":0},"map":` +
		mapJSON(t, testMap{Sources: []string{"first.ts"}, Mappings: "AAAA"}) +
		`},{"offset":{"line":2,"column":4},"map":` + inner + `}]}`
	m, err := ParseMap([]byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	if p, ok := m.Lookup(2, 6); !ok || p != (Position{"s.ts", 4, 1}) {
		t.Errorf("Lookup in second section = %+v, %v", p, ok)
	}
	if p, ok := m.Lookup(0, 3); !ok || p.Source != "first.ts" {
		t.Errorf("Lookup in first section = %+v, %v", p, ok)
	}
	var got []string
	m.eachContent(func(owner *Map, sp contentSpan) {
		c, err := owner.content(sp)
		if err != nil || owner != m.Sections[1].Map {
			t.Errorf("content %+v of %p: %v", sp, owner, err)
		}
		got = append(got, string(c))
	})
	if len(got) != 1 || got[0] != "x" {
		t.Errorf("contents %q", got)
	}
}

func TestParseMapErrors(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"not JSON", `{"version":3,`, "malformed JSON"},
		{"trailing", `{"version":3,"sources":[],"mappings":""} x`, "data after the map"},
		{"bad literal", `{"version":3,"sources":[],"mappings":"","x":nul}`, "value expected"},
		{"deep", `{"version":3,"x":` + strings.Repeat("[", 100) + strings.Repeat("]", 100) + `}`, "too deep"},
		{"version", `{"version":2,"sources":[],"mappings":""}`, "version 2"},
		{"bad VLQ", `{"version":3,"sources":["a"],"mappings":"AA*A"}`, "bad VLQ"},
		{"source index", `{"version":3,"sources":["a"],"mappings":"ACAA"}`, "source index"},
		{"segment of 2", `{"version":3,"sources":["a"],"mappings":"AC"}`, "2 fields"},
		{"negative line", `{"version":3,"sources":["a"],"mappings":"AADA"}`, "negative"},
		{"nested index", `{"version":3,"sections":[{"offset":{"line":0,"column":0},"map":{"version":3,"sections":[]}}]}`, "nested index map"},
	}
	for _, tc := range tests {
		_, err := ParseMap([]byte(tc.in))
		if tc.want == "" {
			continue // accepted or not, it must not panic
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err %v, want %q", tc.name, err, tc.want)
		}
	}
	if _, err := ParseMap([]byte(`{"version":3,"sources":["a"],"mappings":"AA!A"}`)); !errors.Is(err, errVLQ) {
		t.Errorf("bad VLQ error does not wrap errVLQ: %v", err)
	}
	if _, err := ParseMap([]byte(")]}'\n" + `{"version":3,"sources":["a"],"mappings":"AAAA"}`)); err != nil {
		t.Errorf("XSSI guard: %v", err)
	}
}

func TestRawPositions(t *testing.T) {
	raw := []byte(`"a\nb\u00e9\"\\c\ud83d\ude00d\nxy"`)
	start, end := 1, len(raw)-1
	// Decoded: "a\nb" "é" "\"" "\\" "c" "😀" "d\nxy"
	for _, tc := range []struct {
		sub       string
		line, col int
	}{
		{"a", 1, 1}, {"b", 2, 1}, {"c", 2, 6}, {"d", 2, 11}, {"x", 3, 1},
	} {
		off := strings.Index(string(raw), tc.sub)
		if l, c := rawPosition(raw, start, end, off); l != tc.line || c != tc.col {
			t.Errorf("rawPosition(%q) = %d:%d, want %d:%d", tc.sub, l, c, tc.line, tc.col)
		}
	}
	decoded := "a\nbé\"\\c😀d\nxy"
	for _, sub := range []string{"a", "b", "c", "d", "x"} {
		doff := strings.Index(decoded, sub)
		if got := rawOffset(raw, start, end, doff); string(raw[got]) != sub {
			t.Errorf("rawOffset(%q) = %d (%q)", sub, got, raw[got])
		}
	}
}

func TestKindOf(t *testing.T) {
	tests := []struct {
		name, head string
		want       Kind
	}{
		{"dist/app.js", "", JS},
		{"https://x.test/a/chunk.mjs?v=1", "", JS},
		{"x.zip!static/site.css", "", CSS},
		{"index.HTML", "", HTML},
		{"app.js.map", "", SourceMap},
		{"https://x.test/", "\n<!DOCTYPE html><html>", HTML},
		{"blob", `{"version":3,"sources":["a"],"mappings":""}`, SourceMap},
		{"blob", ")]}'\n{}", SourceMap},
		{"page", "<HtMl lang=en>", HTML},
		{"page", "<!doctype\x00html>", Unknown},
		{"page", "\x1c\x01doctype html", Unknown},
		{"README.md", "# hello", Unknown},
		{"data.json", `{"version":"1.0"}`, Unknown},
	}
	for _, tc := range tests {
		if got := KindOf(tc.name, []byte(tc.head)); got != tc.want {
			t.Errorf("KindOf(%q, %q) = %v, want %v", tc.name, tc.head, got, tc.want)
		}
	}
}

func TestUTF16Len(t *testing.T) {
	for _, s := range []string{"", "abc", "0123456789abcdef", "é", "aé0123456789abcdefg", "😀", "abcdefgh😀ijklmnopq€", strings.Repeat("x", 100) + "\xff" + strings.Repeat("y", 9)} {
		want := 0
		for _, r := range s {
			want++
			if r >= 0x10000 {
				want++
			}
		}
		if got := utf16Len([]byte(s)); got != want {
			t.Errorf("utf16Len(%q) = %d, want %d", s, got, want)
		}
	}
}
