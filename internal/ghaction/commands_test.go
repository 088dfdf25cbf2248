package ghaction

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/atomyx/atomyx-guard/patterns"
)

func TestAnnotationString(t *testing.T) {
	key, err := patterns.Generate(patterns.Production)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		a    Annotation
		want string
	}{
		{"plain", Annotation{Level: "error", File: "a/b.go", Line: 3, Col: 7, Title: "t", Message: "m"},
			"::error file=a/b.go,line=3,col=7,title=t::m"},
		{"no location", Annotation{Level: "notice", Message: "just so"}, "::notice::just so"},
		{"col without line is dropped", Annotation{Level: "warning", File: "x", Col: 4, Message: "m"}, "::warning file=x::m"},
		{"property escapes", Annotation{Level: "error", File: "dir,with:colon/100%\r\n.txt", Line: 1, Title: "a: b, c", Message: "m"},
			"::error file=dir%2Cwith%3Acolon/100%25%0D%0A.txt,line=1,title=a%3A b%2C c::m"},
		{"message escapes, colon and comma kept", Annotation{Level: "error", Message: "50% done\r\nnext: a, b"},
			"::error::50%25 done%0D%0Anext: a, b"},
		{"forged command in a message stays on one line", Annotation{Level: "error", Message: "x\n::add-mask::y"},
			"::error::x%0A::add-mask::y"},
		{"key in a path or message is redacted", Annotation{Level: "error", File: "k/" + key, Message: "found " + key},
			"::error file=k/" + escapeProperty(patterns.Redact([]byte(key))) + "::found " + patterns.Redact([]byte(key))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.a.String(); got != tt.want {
				t.Errorf("got  %q\nwant %q", got, tt.want)
			}
		})
	}
}

// unescape is the runner's decoding, to check the round trip.
func unescape(s string) string {
	return strings.NewReplacer("%0D", "\r", "%0A", "\n", "%3A", ":", "%2C", ",", "%25", "%").Replace(s)
}

func FuzzEscape(f *testing.F) {
	for _, s := range []string{"", "a%b", "%25", "a\r\nb", "x:y,z", "%0A", "%%3A"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, p := escapeData(s), escapeProperty(s)
		if strings.ContainsAny(d, "\r\n") || strings.ContainsAny(p, "\r\n:,") {
			t.Fatalf("unescaped separator: data %q property %q", d, p)
		}
		if unescape(d) != s || unescape(p) != s {
			t.Fatalf("round trip of %q: data %q property %q", s, unescape(d), unescape(p))
		}
	})
}

func FuzzParseEvent(f *testing.F) {
	sha := strings.Repeat("a", 40)
	for _, s := range []string{
		`{}`, `null`, `[]`, `{"before":"` + sha + `","after":"` + sha + `"}`,
		`{"pull_request":{"number":1,"base":{"sha":"` + sha + `"},"head":{"sha":"` + sha + `","repo":{"full_name":"x/y","fork":true}}}}`,
		`{"merge_group":{"base_sha":"x","head_sha":"` + sha + `"}}`, `{"after":"--upload-pack=evil"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := ParseEvent(data)
		if err != nil {
			return
		}
		ids := []string{e.Before, e.After}
		if pr := e.PullRequest; pr != nil {
			ids = append(ids, pr.Base.SHA, pr.Head.SHA)
			e.IsFork()
		}
		if mg := e.MergeGroup; mg != nil {
			ids = append(ids, mg.BaseSHA, mg.HeadSHA)
		}
		for _, id := range ids {
			if id != "" && !validSHA(id) {
				t.Fatalf("accepted commit id %q", id)
			}
		}
	})
}

func TestParseEventRejects(t *testing.T) {
	for _, in := range []string{`{`, `{"after":"HEAD"}`, `{"after":"--output=/etc/passwd"}`,
		`{"pull_request":{"base":{"sha":"main"},"head":{"sha":""}}}`, `{"merge_group":{"head_sha":"ABCDEF0000000000000000000000000000000000"}}`} {
		if _, err := ParseEvent([]byte(in)); err == nil {
			t.Errorf("ParseEvent(%s): no error", in)
		}
	}
}

func TestWriteOutputsCannotBeForged(t *testing.T) {
	p := filepath.Join(t.TempDir(), "out")
	vals := map[string]string{"report": "/tmp/x\nfindings<<EOF\n999\nEOF", "findings": "2"}
	if err := writeOutputs(p, vals); err != nil {
		t.Fatal(err)
	}
	if err := writeOutputs(p, map[string]string{"active": "1"}); err != nil {
		t.Fatal(err)
	}
	got := parseOutputs(t, p)
	if got["findings"] != "2" || got["report"] != vals["report"] || got["active"] != "1" || len(got) != 3 {
		t.Errorf("outputs = %q", got)
	}
}
