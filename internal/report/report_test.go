package report

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/atomyx/atomyx-guard/internal/finding"
	"github.com/atomyx/atomyx-guard/internal/testkit"
	"github.com/atomyx/atomyx-guard/patterns"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata")

// fp is a fixed fake fingerprint: goldens must not depend on keys made at
// run time.
func fp(c byte) string { return "sha256:" + strings.Repeat(string(c), 64) }

const (
	commitA = "1111111111111111111111111111111111111111"
	commitB = "2222222222222222222222222222222222222222"
	blobA   = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
)

// fixture is a report with every kind of location and status.
func fixture() *Report {
	return &Report{
		Findings: []finding.Finding{
			{
				Fingerprint: fp('1'), Redacted: "atmx_prd_q7Lw…", Environment: "production", Status: finding.Active,
				KeyID: "key_01HZX", Owner: &finding.Owner{Org: "acme", Team: "payments", Contact: "payments@acme.example"},
				Products: []string{"manage", "submit"}, CreatedAt: "2026-01-02T03:04:05Z", LastUsedAt: "2026-11-20T10:00:00Z",
				Locations: []finding.Location{
					{Source: finding.SourceGit, Kind: finding.KindBlob, Path: "config/settings.py", Line: 2, Column: 11,
						Commit: commitA, Blob: blobA, Author: "Dana Dev <dana@example.com>", Date: "2026-03-04T05:06:07Z"},
					{Source: finding.SourceGit, Kind: finding.KindCommitMessage, Line: 3, Commit: commitB,
						Author: "Eve Ops <eve@example.com>", Date: "2026-03-05T00:00:00+02:00"},
					{Source: finding.SourceGit, Kind: finding.KindBlob, Path: "dist/app.js", Line: 1, Column: 12345,
						Commit: commitB, Decoded: []string{"base64"},
						Original: &finding.Original{Path: "src/app.ts", Line: 10, Column: 4}, Unreachable: true},
				},
			},
			{
				Fingerprint: fp('2'), Redacted: "atmx_stg_ABCD…", Environment: "staging", Status: finding.Unverified,
				StatusReason: "vault unavailable after 5 tries",
				Locations: []finding.Location{
					{Source: finding.SourceFile, Path: "release.zip!conf/app env.yaml", Line: 7, Column: 5},
					{Source: finding.SourceURL, URL: "https://app.example.com/static/main.js?v=3", Line: 1, Column: 99},
				},
			},
			{
				Fingerprint: fp('3'), Redacted: "atmx_dev_0000…", Environment: "development", Status: finding.Revoked,
				Locations: []finding.Location{
					{Source: finding.SourceGit, Kind: finding.KindTagMessage, Tag: "v1.0.0", Commit: commitA, Line: 1},
				},
			},
			{
				Fingerprint: fp('4'), Redacted: "atmx_prd_zzzz…", Environment: "production", Status: finding.Unknown,
				Locations: []finding.Location{{Source: finding.SourceStdin, Line: 4, Column: 1}},
			},
		},
		NearMisses: []finding.NearMiss{
			{Redacted: "atmx_prd_0123…", Location: finding.Location{Source: finding.SourceFile, Path: "docs/example.md", Line: 12, Column: 3}},
		},
		Skipped:  []finding.Skip{{Where: "vendor/big.bin", Reason: "larger than 512 MiB"}},
		Warnings: []string{"shallow clone: history before 2026-01-01 was not scanned"},
		Stats:    Stats{Commits: 42, Blobs: 310, Files: 2, URLs: 1, Bytes: 5 << 20, DurationMS: 1234, Partial: true, Verified: true, Allowed: 1},
	}
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	p := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(p, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (go test -update rewrites it)\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

func TestGolden(t *testing.T) {
	tool := ToolInfo{Name: "atomyx-guard", Version: "v1.2.3", InformationURI: "https://github.com/atomyx/atomyx-guard"}
	writers := []struct {
		file  string
		write func(*bytes.Buffer, *Report) error
	}{
		{"report.json.golden", func(b *bytes.Buffer, r *Report) error { return WriteJSON(b, r) }},
		{"report.sarif.golden", func(b *bytes.Buffer, r *Report) error { return WriteSARIF(b, r, tool) }},
		{"report.txt.golden", func(b *bytes.Buffer, r *Report) error { return WriteText(b, r, TextOptions{}) }},
		{"report-verbose.txt.golden", func(b *bytes.Buffer, r *Report) error { return WriteText(b, r, TextOptions{Verbose: true}) }},
		{"report.md.golden", func(b *bytes.Buffer, r *Report) error { return Markdown(b, r) }},
		{"empty.json.golden", func(b *bytes.Buffer, _ *Report) error { return WriteJSON(b, &Report{}) }},
		{"empty.txt.golden", func(b *bytes.Buffer, _ *Report) error { return WriteText(b, &Report{}, TextOptions{}) }},
		{"empty.sarif.golden", func(b *bytes.Buffer, _ *Report) error { return WriteSARIF(b, &Report{}, tool) }},
	}
	for _, w := range writers {
		t.Run(w.file, func(t *testing.T) {
			var b bytes.Buffer
			if err := w.write(&b, fixture()); err != nil {
				t.Fatal(err)
			}
			golden(t, w.file, b.Bytes())
		})
	}
}

func TestJSONContract(t *testing.T) {
	var b bytes.Buffer
	if err := WriteJSON(&b, &Report{Findings: []finding.Finding{{
		Fingerprint: fp('a'), Redacted: "atmx_prd_q7Lw…", Environment: "production", Status: finding.Unverified,
	}}}); err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b.Bytes(), &m); err != nil {
		t.Fatal(err)
	}
	fs, ok := m["findings"].([]any)
	if !ok || len(fs) != 1 {
		t.Fatalf("findings = %#v, want an array of one", m["findings"])
	}
	if locs, ok := fs[0].(map[string]any)["locations"].([]any); !ok || len(locs) != 0 {
		t.Errorf("locations = %#v, want []", fs[0].(map[string]any)["locations"])
	}
	for _, k := range []string{"near_misses", "skipped", "warnings"} {
		if _, ok := m[k]; ok {
			t.Errorf("%s present although empty", k)
		}
	}
	st := m["stats"].(map[string]any)
	for _, k := range []string{"commits", "blobs", "files", "urls", "bytes", "duration_ms", "partial", "verified", "allowed"} {
		if _, ok := st[k]; !ok {
			t.Errorf("stats.%s missing", k)
		}
	}
	// A nil report and nil findings still give "findings": [].
	b.Reset()
	if err := WriteJSON(&b, nil); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), `"findings": []`) {
		t.Errorf("nil report: %s", b.String())
	}
}

func TestRoundTrip(t *testing.T) {
	var b bytes.Buffer
	if err := WriteJSON(&b, fixture()); err != nil {
		t.Fatal(err)
	}
	got, err := ReadJSON(&b)
	if err != nil {
		t.Fatal(err)
	}
	var b2 bytes.Buffer
	if err := WriteJSON(&b2, got); err != nil {
		t.Fatal(err)
	}
	var b1 bytes.Buffer
	_ = WriteJSON(&b1, fixture())
	if b1.String() != b2.String() {
		t.Errorf("round trip changed the report:\n%s\n---\n%s", b1.String(), b2.String())
	}
}

func TestReadJSONErrors(t *testing.T) {
	key := testkit.NewKey(t, patterns.Production)
	finding1 := `{"fingerprint": "` + fp('a') + `", "redacted": "atmx_prd_q7Lw…", "environment": "production",
		"status": "active", "locations": [{"source": "git", "line": 2}]}`
	valid := `{"findings": [` + finding1 + `], "stats": {}}`
	if _, err := ReadJSON(strings.NewReader(valid)); err != nil {
		t.Fatalf("valid report: %v", err)
	}
	if r, err := ReadJSON(strings.NewReader(strings.Replace(valid, `"line": 2`, `"repo": "acme/api", "path": "a.env"`, 1))); err != nil || r.Findings[0].Locations[0].Repo != "acme/api" {
		t.Fatalf("an org location: %+v, %v", r, err)
	}
	tests := []struct {
		name, in, want string
	}{
		{"empty", ``, "EOF"},
		{"not json", `{"findings": [}`, "line 1"},
		{"unknown field", `{"findings": [], "stats": {}, "extra": 1}`, `unknown field "extra"`},
		{"unknown stats field", `{"findings": [], "stats": {"speed": 1}}`, `unknown field "speed"`},
		{"trailing", `{"findings": [], "stats": {}} {}`, "trailing data"},
		{"no findings", `{"stats": {}}`, `"findings" is missing`},
		{"null findings", `{"findings": null, "stats": {}}`, `"findings" is missing`},
		{"no stats", `{"findings": []}`, `"stats" is missing`},
		{"wrong type", `{"findings": {}, "stats": {}}`, "cannot unmarshal"},
		{"bad fingerprint", strings.Replace(valid, fp('a'), "sha256:xyz", 1), "findings[0].fingerprint"},
		{"bad redacted", strings.Replace(valid, "atmx_prd_q7Lw…", "atmx_prd_q7Lw", 1), "findings[0].redacted"},
		{"bad env", strings.Replace(valid, `"production"`, `"prod"`, 1), "findings[0].environment"},
		{"env mismatch", strings.Replace(valid, `"production"`, `"staging"`, 1), "does not match"},
		{"bad status", strings.Replace(valid, `"active"`, `"leaked"`, 1), "findings[0].status"},
		{"no locations", strings.Replace(valid, `{"source": "git", "line": 2}`, ``, 1), "at least one location"},
		{"bad source", strings.Replace(valid, `"git"`, `"G!T"`, 1), "locations[0].source"},
		{"negative line", strings.Replace(valid, `"line": 2`, `"line": -2`, 1), "locations[0].line"},
		{"bad date", strings.Replace(valid, `"line": 2`, `"date": "yesterday"`, 1), "locations[0].date"},
		{"bad commit", strings.Replace(valid, `"line": 2`, `"commit": "HEAD"`, 1), "locations[0].commit"},
		{"bad repo", strings.Replace(valid, `"line": 2`, `"repo": "acme"`, 1), "locations[0].repo"},
		{"repo with a path", strings.Replace(valid, `"line": 2`, `"repo": "acme/api:conf"`, 1), "locations[0].repo"},
		{"repo too deep", strings.Replace(valid, `"line": 2`, `"repo": "acme/api/x"`, 1), "locations[0].repo"},
		{"duplicate", `{"findings": [` + finding1 + `,` + finding1 + `], "stats": {}}`, "same key as findings[0]"},
		{"negative stats", `{"findings": [], "stats": {"bytes": -1}}`, "stats.bytes"},
		{"whole key", strings.Replace(valid, `"line": 2`, `"path": "`+key+`"`, 1), "holds a whole Atomyx key"},
		{"escaped key", strings.Replace(valid, `"line": 2`, `"path": "atmx\u005f`+key[5:]+`"`, 1), "spelt with escapes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ReadJSON(strings.NewReader(tt.in))
			if err == nil {
				t.Fatalf("no error for %s", tt.in)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not mention %q", err, tt.want)
			}
			if strings.Contains(err.Error(), key) {
				t.Errorf("error prints the whole key")
			}
		})
	}
}

// TestNoWholeKey puts whole keys into every free-text field a report can
// carry and checks that no writer lets one through.
func TestNoWholeKey(t *testing.T) {
	var keys []string
	k := func() string {
		s := testkit.NewKey(t, patterns.Production)
		keys = append(keys, s)
		return s
	}
	loc := finding.Location{
		Source: finding.SourceGit, Kind: finding.KindBlob, Path: "leak/" + k() + ".txt", URL: "https://x.example/?k=" + k(),
		Line: 1, Column: 1, Commit: commitA, Tag: "tag-" + k(), Author: "Mallory <" + k() + "@example.com>", Date: "2026-01-01T00:00:00Z",
		Decoded: []string{k()}, Original: &finding.Original{Path: "src/" + k()}, Allowed: "because " + k(),
	}
	msg := loc
	msg.Kind = finding.KindCommitMessage
	tag := loc
	tag.Kind = finding.KindTagMessage
	url := loc
	url.Source, url.Path = finding.SourceURL, ""
	r := &Report{
		Findings: []finding.Finding{{
			Fingerprint: fp('5'), Redacted: "atmx_prd_q7Lw…" + k(), Environment: "production", Status: finding.Unverified,
			StatusReason: "vault said " + k(), KeyID: k(), Owner: &finding.Owner{Org: k(), Team: k(), Contact: k()},
			Products: []string{k()}, Locations: []finding.Location{loc, msg, tag, url},
		}},
		NearMisses: []finding.NearMiss{{Redacted: k(), Location: loc}},
		Skipped:    []finding.Skip{{Where: k(), Reason: "cannot read " + k()}},
		Warnings:   []string{"warned " + k()},
	}
	before := fixtureJSON(t, r)
	outs := map[string]func(*bytes.Buffer) error{
		"json":    func(b *bytes.Buffer) error { return WriteJSON(b, r) },
		"sarif":   func(b *bytes.Buffer) error { return WriteSARIF(b, r, ToolInfo{}) },
		"text":    func(b *bytes.Buffer) error { return WriteText(b, r, TextOptions{Verbose: true}) },
		"color":   func(b *bytes.Buffer) error { return WriteText(b, r, TextOptions{Verbose: true, Color: true}) },
		"summary": func(b *bytes.Buffer) error { _, err := b.WriteString(Summary(r)); return err },
		"md":      func(b *bytes.Buffer) error { return Markdown(b, r) },
	}
	for name, write := range outs {
		var b bytes.Buffer
		if err := write(&b); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for _, key := range keys {
			if strings.Contains(b.String(), key) {
				t.Errorf("%s output holds a whole key", name)
			}
			if strings.Contains(b.String(), key[:patterns.RedactedLen+1]) {
				t.Errorf("%s output holds more of a key than its redacted form", name)
			}
		}
		if i := patterns.IndexKeyShape(b.String()); i >= 0 {
			t.Errorf("%s output holds a key shape at %d", name, i)
		}
	}
	if after := fixtureJSON(t, r); after != before {
		t.Error("a writer modified the report it was given")
	}
}

// fixtureJSON serialises r without scrubbing, to detect mutation.
func fixtureJSON(t *testing.T, r *Report) string {
	t.Helper()
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func FuzzReadJSON(f *testing.F) {
	var b bytes.Buffer
	_ = WriteJSON(&b, fixture())
	f.Add(b.String())
	f.Add(`{"findings": [], "stats": {}}`)
	f.Add(`{"findings": [{"fingerprint": "` + fp('a') + `", "redacted": "atmx_prd_q7Lw…", "environment": "production", "status": "active", "locations": [{"source": "git"}]}], "stats": {"bytes": 3}}`)
	f.Add(`{"findings": [], "stats": {}, "near_misses": [{"redacted": "atmx_dev_abcd…", "location": {"source": "url", "url": "x"}}]}`)
	f.Add(`{"findings": [{"fingerprint": "` + fp('b') + `", "redacted": "atmx_prd_q7Lw…", "environment": "production", "status": "unverified", "locations": [{"source": "git", "repo": "acme/api", "path": "a.env"}]}], "stats": {}}`)
	f.Fuzz(func(t *testing.T, in string) {
		r, err := ReadJSON(strings.NewReader(in))
		if err != nil {
			if patterns.IndexKeyShape(err.Error()) >= 0 {
				t.Fatalf("error holds a key shape: %v", err)
			}
			return
		}
		// Whatever ReadJSON accepts, WriteJSON writes back identically and
		// every other writer handles.
		var b1, b2 bytes.Buffer
		if err := WriteJSON(&b1, r); err != nil {
			t.Fatal(err)
		}
		r2, err := ReadJSON(bytes.NewReader(b1.Bytes()))
		if err != nil {
			t.Fatalf("re-read of written report: %v\n%s", err, b1.String())
		}
		if err := WriteJSON(&b2, r2); err != nil {
			t.Fatal(err)
		}
		if b1.String() != b2.String() {
			t.Fatalf("not stable:\n%s\n%s", b1.String(), b2.String())
		}
		var sink bytes.Buffer
		if err := WriteSARIF(&sink, r, ToolInfo{}); err != nil {
			t.Fatal(err)
		}
		if !json.Valid(sink.Bytes()) {
			t.Fatal("invalid SARIF JSON")
		}
		if err := WriteText(&sink, r, TextOptions{Verbose: true}); err != nil {
			t.Fatal(err)
		}
		if err := Markdown(&sink, r); err != nil {
			t.Fatal(err)
		}
		if i := patterns.IndexKeyShape(sink.String()); i >= 0 {
			t.Fatalf("writers let a key shape through at %d", i)
		}
	})
}
