package cli

import (
	"regexp"
	"testing"
)

// TestVersionCommand: `atomyx-guard version` names a version that starts
// with a digit (the same string as SARIF's driver.version), never "dev".
func TestVersionCommand(t *testing.T) {
	r := runCLI(t, nil, "version")
	if r.code != ExitClean {
		t.Fatalf("exit %d: %s", r.code, r.errOut)
	}
	if !regexp.MustCompile(`^atomyx-guard [0-9]+\.[0-9]+\.[0-9]+\S* \(go[^,]+, \w+/\w+\)\n$`).MatchString(r.out) {
		t.Errorf("version output %q", r.out)
	}
}
