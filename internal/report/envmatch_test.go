package report

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/atomyx/atomyx-guard/internal/finding"
	"github.com/atomyx/atomyx-guard/patterns"
)

func mismatchReport(t *testing.T) *Report {
	t.Helper()
	k, err := patterns.Generate(patterns.Production)
	if err != nil {
		t.Fatal(err)
	}
	f := finding.Finding{Fingerprint: patterns.Fingerprint([]byte(k)), Redacted: patterns.Redact([]byte(k)),
		Environment: "production", Status: finding.Unverified,
		Locations: []finding.Location{
			{Source: finding.SourceFile, Path: ".env.development", Line: 3},
			{Source: finding.SourceFile, Path: "config/production/app.env", Line: 1},
		}}
	fs := []finding.Finding{f}
	finding.MarkEnvironmentMismatches(fs, finding.EnvCheck{})
	return &Report{Findings: fs}
}

func TestEnvironmentMismatchInJSON(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteJSON(&buf, mismatchReport(t)); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), `"environment_mismatch"`) {
		t.Fatalf("no environment_mismatch:\n%s", buf.String())
	}
	back, err := ReadJSON(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	m := back.Findings[0].EnvironmentMismatch
	if len(m) != 1 || m[0].Environment != "development" || m[0].Evidence != finding.EvidencePath || m[0].Path != ".env.development" || m[0].Line != 3 {
		t.Fatalf("read back: %+v", m)
	}
	// ReadJSON holds the field to the contract.
	for _, bad := range []string{
		`{"environment":"qa","evidence":"path","path":"x"}`,
		`{"environment":"production","evidence":"path","path":"x"}`,
		`{"environment":"staging","evidence":"hunch","path":"x"}`,
		`{"environment":"staging","evidence":"path"}`,
		`{"environment":"staging","evidence":"path","path":"x","line":-1}`,
		`{"environment":"staging","evidence":"path","path":"x","colour":"red"}`,
	} {
		var raw map[string]any
		_ = json.Unmarshal(buf.Bytes(), &raw)
		f := raw["findings"].([]any)[0].(map[string]any)
		var entry any
		_ = json.Unmarshal([]byte(bad), &entry)
		f["environment_mismatch"] = []any{entry}
		data, _ := json.Marshal(raw)
		if _, err := ReadJSON(bytes.NewReader(data)); err == nil {
			t.Errorf("accepted %s", bad)
		}
	}
}

func TestEnvironmentMismatchInSARIFAndText(t *testing.T) {
	r := mismatchReport(t)
	var buf bytes.Buffer
	if err := WriteSARIF(&buf, r, ToolInfo{}); err != nil {
		t.Fatal(err)
	}
	var sarif struct {
		Runs []struct {
			Results []struct {
				Message    struct{ Text string }
				Properties struct {
					EnvironmentMismatch *finding.EnvMismatch `json:"environment_mismatch"`
				}
				Locations []struct {
					PhysicalLocation struct {
						ArtifactLocation struct{ URI string }
					}
				}
			}
		}
	}
	if err := json.Unmarshal(buf.Bytes(), &sarif); err != nil {
		t.Fatal(err)
	}
	marked := 0
	for _, res := range sarif.Runs[0].Results {
		uri := res.Locations[0].PhysicalLocation.ArtifactLocation.URI
		m := res.Properties.EnvironmentMismatch
		switch {
		case strings.HasSuffix(uri, ".env.development"):
			if m == nil || m.Environment != "development" || !strings.Contains(res.Message.Text, "Environment mismatch: this is a development place") {
				t.Fatalf("development place: %+v %q", m, res.Message.Text)
			}
			marked++
		case m != nil || strings.Contains(res.Message.Text, "mismatch"):
			t.Fatalf("%s marked: %q", uri, res.Message.Text)
		}
	}
	if marked != 1 {
		t.Fatalf("%d results marked, want 1", marked)
	}
	buf.Reset()
	if err := WriteText(&buf, r, TextOptions{}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "environment mismatch: a production key found in 1 place(s) of another environment: .env.development:3 is a development place (path .env.development)") {
		t.Fatalf("text:\n%s", buf.String())
	}
}
