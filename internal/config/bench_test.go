package config

import (
	"fmt"
	"testing"

	"github.com/atomyx/atomyx-guard/internal/finding"
)

// BenchmarkFilter filters 1,000 keys in 10 locations each through 20 globs
// and 100 allowed fingerprints.
func BenchmarkFilter(b *testing.B) {
	toml := "[allow]\npaths = ["
	for i := range 20 {
		toml += fmt.Sprintf("%q,", fmt.Sprintf("vendor%d/**/testdata/*.json", i))
	}
	toml += "]\n"
	for i := range 100 {
		toml += fmt.Sprintf("[[allow.fingerprints]]\nfingerprint = \"sha256:%064x\"\nreason = \"r\"\n", 1_000_000+i)
	}
	c, err := Parse([]byte(toml))
	if err != nil {
		b.Fatal(err)
	}
	var fs []finding.Finding
	for i := range 1000 {
		f := finding.Finding{Fingerprint: fmt.Sprintf("sha256:%064x", i)}
		for j := range 10 {
			f.Locations = append(f.Locations, finding.Location{Source: "git", Path: fmt.Sprintf("services/svc%d/deep/er/path/file%d.py", i, j)})
		}
		fs = append(fs, f)
	}
	for b.Loop() {
		kept, _ := c.Filter(fs)
		if len(kept) != 1000 {
			b.Fatal(len(kept))
		}
	}
}
