package report

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/atomyx/atomyx-guard/internal/finding"
)

func TestTextColor(t *testing.T) {
	for _, color := range []bool{false, true} {
		var b bytes.Buffer
		if err := WriteText(&b, fixture(), TextOptions{Color: color, Verbose: true}); err != nil {
			t.Fatal(err)
		}
		hasEsc := strings.Contains(b.String(), "\x1b[")
		if hasEsc != color {
			t.Errorf("Color=%v: escape codes present = %v", color, hasEsc)
		}
		if color {
			// Styling adds escapes and nothing else.
			var plain bytes.Buffer
			_ = WriteText(&plain, fixture(), TextOptions{Verbose: true})
			if got := stripANSI(b.String()); got != plain.String() {
				t.Errorf("coloured text differs from plain text beyond escapes:\n%s\n---\n%s", got, plain.String())
			}
		}
	}
}

func stripANSI(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == 0x1b && i+1 < len(s) && s[i+1] == '[' {
			j := i + 2
			for j < len(s) && !(s[j] >= 0x40 && s[j] <= 0x7e) {
				j++
			}
			i = j
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func TestColorEnabled(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "out"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	tests := []struct {
		name string
		w    any
		env  map[string]string
	}{
		{"buffer", &bytes.Buffer{}, nil},
		{"regular file", f, nil},
		{"NO_COLOR on a file", f, map[string]string{"NO_COLOR": "1"}},
	}
	for _, tt := range tests {
		if ColorEnabled(tt.w.(interface{ Write([]byte) (int, error) }), env(tt.env)) {
			t.Errorf("%s: colour enabled", tt.name)
		}
	}
	tty := openTTY(t)
	if tty == nil {
		t.Log("no pseudo-terminal available: terminal cases skipped")
		return
	}
	if !ColorEnabled(tty, env(nil)) {
		t.Error("terminal: colour disabled")
	}
	if ColorEnabled(tty, env(map[string]string{"NO_COLOR": "1"})) {
		t.Error("terminal with NO_COLOR=1: colour enabled")
	}
	if !ColorEnabled(tty, env(map[string]string{"NO_COLOR": ""})) {
		t.Error("terminal with empty NO_COLOR: colour disabled")
	}
	if ColorEnabled(tty, env(map[string]string{"TERM": "dumb"})) {
		t.Error("terminal with TERM=dumb: colour enabled")
	}
}

// TestTextEscapesControl checks that a hostile path cannot drive the
// terminal: escapes and newlines are printed escaped.
func TestTextEscapesControl(t *testing.T) {
	r := &Report{Findings: []finding.Finding{{
		Fingerprint: fp('9'), Redacted: "atmx_prd_abcd…", Environment: "production", Status: finding.Active,
		Locations: []finding.Location{{Source: "file", Path: "evil\x1b]0;pwned\x07\n\u202eexe.txt", Line: 1, Author: "a\rb"}},
	}}, Skipped: []finding.Skip{{Where: "x\x1b[2J", Reason: "y\tz"}}}
	for _, color := range []bool{false, true} {
		var b bytes.Buffer
		if err := WriteText(&b, r, TextOptions{Color: color}); err != nil {
			t.Fatal(err)
		}
		out := b.String()
		if color {
			out = stripANSI(out)
		}
		for _, bad := range []string{"\x1b", "\x07", "\r", "\t", "\u202e", "pwned\n"} {
			if strings.Contains(out, bad) {
				t.Errorf("color=%v: output holds %q:\n%q", color, bad, out)
			}
		}
		if !strings.Contains(out, `evil\x1b]0;pwned\a\n\u202eexe.txt:1`) {
			t.Errorf("color=%v: escaped path missing:\n%s", color, out)
		}
	}
}

func TestSummary(t *testing.T) {
	tests := []struct {
		name string
		r    *Report
		want string
	}{
		{"empty", &Report{}, "No Atomyx keys found · scanned 0 bytes in 0ms"},
		{"one", &Report{
			Findings: []finding.Finding{{Status: finding.Active, Locations: make([]finding.Location, 1)}},
			Stats:    Stats{Commits: 1, Bytes: 1, DurationMS: 2500},
		}, "1 key in 1 location (1 active) · scanned 1 commit, 1 byte in 2.5s"},
		{"partial", &Report{Stats: Stats{Files: 3, Bytes: 3 << 30, Partial: true}, Skipped: make([]finding.Skip, 2)},
			"No Atomyx keys found · scanned 3 files, 3.0 GiB in 0ms · 2 skipped · PARTIAL scan"},
	}
	for _, tt := range tests {
		if got := Summary(tt.r); got != tt.want {
			t.Errorf("%s: Summary = %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestMarkdownEscapes(t *testing.T) {
	r := &Report{Findings: []finding.Finding{{
		Fingerprint: fp('9'), Redacted: "atmx_prd_abcd…", Environment: "production", Status: finding.Active,
		Locations: []finding.Location{{Source: "file", Path: "a|b`c.txt", Line: 1, Author: "<script>x</script> | **bold**\n# h"}},
	}}}
	var b bytes.Buffer
	if err := Markdown(&b, r); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, bad := range []string{"<script>", "| **bold**", "a|b", "b`c", "\n# h"} {
		if strings.Contains(out, bad) {
			t.Errorf("markdown holds %q unescaped:\n%s", bad, out)
		}
	}
	// Each table row keeps its five cells.
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "| 🔴") {
			if n := strings.Count(strings.ReplaceAll(line, `\|`, ""), "|"); n != 6 {
				t.Errorf("row has %d separators: %s", n, line)
			}
		}
	}
}

func TestMarkdownCut(t *testing.T) {
	r := &Report{}
	for i := range mdMaxFindings + 5 {
		f := finding.Finding{Fingerprint: fp('a'), Redacted: "atmx_prd_abcd…", Environment: "production", Status: finding.Active}
		for range mdMaxLocations + 2 {
			f.Locations = append(f.Locations, finding.Location{Source: "file", Path: "f", Line: i + 1})
		}
		r.Findings = append(r.Findings, f)
	}
	var b bytes.Buffer
	if err := Markdown(&b, r); err != nil {
		t.Fatal(err)
	}
	if rows := strings.Count(b.String(), "\n| 🔴"); rows != mdMaxFindings {
		t.Errorf("%d rows, want %d", rows, mdMaxFindings)
	}
	if !strings.Contains(b.String(), "…and 5 more keys") || !strings.Contains(b.String(), "…and 2 more") {
		t.Error("cut notes missing")
	}
}
