package report

import (
	"errors"
	"fmt"

	"github.com/atomyx/atomyx-guard/internal/finding"
	"github.com/atomyx/atomyx-guard/patterns"
)

// ErrLeaks is the verdict of a scan that found keys its FailOn counts. It
// is an error so that every command (and the GitHub Action) says its
// outcome the same way; the CLI's Run alone turns it into exit code 1 (or
// --exit-code), and any other error into 2.
var ErrLeaks = errors.New("leaks found")

// FailOn says which findings fail a scan: the --fail-on flag and the
// action's fail-on input.
type FailOn string

const (
	FailAny    FailOn = "any"    // any key found
	FailActive FailOn = "active" // only keys the Vault says are active
	FailNever  FailOn = "never"  // report only
)

// ParseFailOn reads any, active or never.
func ParseFailOn(s string) (FailOn, error) {
	switch f := FailOn(s); f {
	case FailAny, FailActive, FailNever:
		return f, nil
	}
	return "", fmt.Errorf("%q is not any, active or never", patterns.Scrub(s))
}

// Fails says whether keys found, of which active are active, fail the
// scan.
func (f FailOn) Fails(keys, active int) bool {
	return f == FailAny && keys > 0 || f == FailActive && active > 0
}

// Active counts the active findings of fs.
func Active(fs []finding.Finding) int {
	n := 0
	for _, f := range fs {
		if f.Status == finding.Active {
			n++
		}
	}
	return n
}
