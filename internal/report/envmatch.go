package report

import (
	"fmt"

	"github.com/atomyx/atomyx-guard/internal/finding"
	"github.com/atomyx/atomyx-guard/patterns"
)

// validateMismatches checks a finding's environment_mismatch entries: a
// known environment other than the key's, a known evidence, a place.
func validateMismatches(at string, f finding.Finding, add func(where, format string, args ...any)) {
	for k, m := range f.EnvironmentMismatch {
		where := fmt.Sprintf("%s.environment_mismatch[%d]", at, k)
		if env, err := patterns.ParseEnvironment(m.Environment); err != nil || string(env) != m.Environment {
			add(where+".environment", "want development, staging or production, got %q", clip(m.Environment))
		} else if m.Environment == f.Environment {
			add(where+".environment", "the key's own environment is no mismatch")
		}
		switch m.Evidence {
		case finding.EvidencePath, finding.EvidenceWorkflowEnvironment, finding.EvidenceWorkflowJob:
		default:
			add(where+".evidence", "want path, workflow-environment or workflow-job, got %q", clip(m.Evidence))
		}
		if m.Path == "" && m.URL == "" {
			add(where, "names no place (path or url)")
		}
		if m.Line < 0 {
			add(where+".line", "negative (%d)", m.Line)
		}
	}
}

// mismatchNote is the text and SARIF note of a finding's environment
// mismatches; "" when there are none.
func mismatchNote(f finding.Finding) string {
	if len(f.EnvironmentMismatch) == 0 {
		return ""
	}
	s := fmt.Sprintf("environment mismatch: a %s key found in %d place(s) of another environment: ", f.Environment, len(f.EnvironmentMismatch))
	for i, m := range f.EnvironmentMismatch {
		if i > 0 {
			s += "; "
		}
		s += m.String()
	}
	return s
}

// locationMismatch is the mismatch entry of the place l, if any.
func locationMismatch(f finding.Finding, l finding.Location) *finding.EnvMismatch {
	for _, m := range f.EnvironmentMismatch {
		if m.Path == l.Path && m.URL == l.URL && m.Line == l.Line {
			return &m
		}
	}
	return nil
}

func scrubMismatches(ms []finding.EnvMismatch) []finding.EnvMismatch {
	if ms == nil {
		return nil
	}
	out := make([]finding.EnvMismatch, len(ms))
	for i, m := range ms {
		m.Environment, m.Evidence, m.Path, m.URL, m.Detail = s(m.Environment), s(m.Evidence), s(m.Path), s(m.URL), s(m.Detail)
		out[i] = m
	}
	return out
}
