package hook

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/atomyx/atomyx-guard/internal/config"
	"github.com/atomyx/atomyx-guard/internal/finding"
	"github.com/atomyx/atomyx-guard/patterns"
)

var update = flag.Bool("update", false, "rewrite golden files")

func fp(c byte) string { return "sha256:" + strings.Repeat(string(c), 64) }

func TestBlockedAdvice(t *testing.T) {
	tests := []struct {
		name     string
		findings []finding.Finding
		golden   string // empty: no output expected
	}{
		{name: "none"},
		{
			name: "all allowed",
			findings: []finding.Finding{{Fingerprint: fp('a'), Redacted: "atmx_prd_abcd…", Environment: "production",
				Locations: []finding.Location{{Source: "git", Path: "a.env", Line: 1, Allowed: "fingerprint"}}}},
		},
		{
			name:   "one key two places",
			golden: "one.golden",
			findings: []finding.Finding{{Fingerprint: fp('b'), Redacted: "atmx_prd_q7Lw…", Environment: "production",
				Locations: []finding.Location{
					{Source: "git", Kind: "blob", Path: "config/app.env", Line: 12, Column: 7},
					{Source: "git", Kind: "blob", Path: "deploy/values.yaml", Line: 3, Column: 14},
					{Source: "git", Kind: "blob", Path: "fixtures/ok.txt", Line: 1, Allowed: "inline atomyx-guard:allow"},
				}}},
		},
		{
			name:   "two keys",
			golden: "two.golden",
			findings: []finding.Finding{
				{Fingerprint: fp('c'), Redacted: "atmx_dev_ZZZZ…", Environment: "development",
					Locations: []finding.Location{{Source: "git", Kind: "blob", Path: "a b/c.go", Line: 40, Column: 2}}},
				{Fingerprint: fp('d'), Redacted: "atmx_stg_abcd…", Environment: "staging",
					Locations: []finding.Location{{Source: "git", Kind: "blob", Path: "x\x1b[31m.txt", Line: 2}}},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := BlockedAdvice(&buf, tt.findings); err != nil {
				t.Fatal(err)
			}
			if tt.golden == "" {
				if buf.Len() != 0 {
					t.Fatalf("want no output, got:\n%s", buf.String())
				}
				return
			}
			golden := filepath.Join("testdata", tt.golden)
			if *update {
				if err := os.WriteFile(golden, buf.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if buf.String() != string(want) {
				t.Errorf("output differs from %s (run with -update):\n%s", golden, buf.String())
			}
			out := buf.String()
			for _, f := range tt.findings {
				if !strings.Contains(out, `fingerprint = "`+f.Fingerprint+`"`) {
					t.Errorf("no allowlist snippet for %s", f.Fingerprint)
				}
			}
			for _, must := range []string{"--no-verify", "SKIP=atomyx-guard", "--respond", ConfigFile} {
				if !strings.Contains(out, must) {
					t.Errorf("advice lacks %q", must)
				}
			}
			if strings.Contains(out, "fixtures/ok.txt") || strings.ContainsRune(out, 0x1b) {
				t.Errorf("allowed location listed or control character passed through:\n%q", out)
			}
		})
	}
}

// A path that holds a whole key (a crafted file name) is masked.
func TestBlockedAdviceScrubsPaths(t *testing.T) {
	key, err := patterns.Generate(patterns.Production)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	err = BlockedAdvice(&buf, []finding.Finding{{Fingerprint: patterns.Fingerprint([]byte(key)),
		Redacted: patterns.Redact([]byte(key)), Environment: "production",
		Locations: []finding.Location{{Source: "git", Path: "dir/" + key + ".txt", Line: 1}}}})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(buf.String(), key) {
		t.Fatal("whole key in the advice")
	}
	if !strings.Contains(buf.String(), "dir/"+patterns.Redact([]byte(key))+".txt:1") {
		t.Errorf("masked path not shown:\n%s", buf.String())
	}
}

// The allowlist snippet the advice shows is what config reads, and it
// allows the key.
func TestAllowSnippetParses(t *testing.T) {
	key, err := patterns.Generate(patterns.Staging)
	if err != nil {
		t.Fatal(err)
	}
	fpr := patterns.Fingerprint([]byte(key))
	for _, reason := range []string{"", `revoked "demo" key`} {
		cfg, err := config.Parse([]byte(AllowSnippet(fpr, reason)))
		if err != nil {
			t.Fatalf("config.Parse(snippet, %q): %v", reason, err)
		}
		kept, allowed := cfg.Filter([]finding.Finding{{Fingerprint: fpr, Redacted: patterns.Redact([]byte(key)),
			Environment: "staging", Locations: []finding.Location{{Source: "git", Path: "a.env", Line: 1}}}})
		if len(kept) != 0 || len(allowed) != 1 {
			t.Errorf("snippet with reason %q: kept %d, allowed %d; want 0, 1", reason, len(kept), len(allowed))
		}
	}
}
