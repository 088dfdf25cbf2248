package report

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/atomyx/atomyx-guard/internal/finding"
	"github.com/atomyx/atomyx-guard/patterns"
)

// Validate checks that r is a well-formed report: what ReadJSON enforces on
// its input. Errors name the field (findings[2].locations[0].line) and quote
// values only in their scrubbed form.
func Validate(r *Report) error {
	var errs []error
	add := func(where, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", where, fmt.Sprintf(format, args...)))
	}
	seen := make(map[string]int, len(r.Findings))
	for i, f := range r.Findings {
		at := fmt.Sprintf("findings[%d]", i)
		if !patterns.ValidFingerprint(f.Fingerprint) {
			add(at+".fingerprint", "want \"sha256:\" and 64 lower-case hex digits, got %q", clip(f.Fingerprint))
		} else if j, dup := seen[f.Fingerprint]; dup {
			add(at+".fingerprint", "same key as findings[%d]", j)
		} else {
			seen[f.Fingerprint] = i
		}
		if !validRedacted(f.Redacted) {
			add(at+".redacted", "want a redacted key such as \"atmx_prd_q7Lw…\", got %q", clip(f.Redacted))
		}
		env, err := patterns.ParseEnvironment(f.Environment)
		if err != nil || string(env) != f.Environment {
			add(at+".environment", "want development, staging or production, got %q", clip(f.Environment))
		} else if validRedacted(f.Redacted) && patterns.EnvironmentOf([]byte(f.Redacted)) != env {
			add(at+".environment", "%q does not match the key's %q", f.Environment, f.Redacted)
		}
		if !knownStatus(f.Status) {
			add(at+".status", "want one of %v, got %q", statusOrder, clip(string(f.Status)))
		}
		for _, ts := range []struct{ name, v string }{{"created_at", f.CreatedAt}, {"last_used_at", f.LastUsedAt}} {
			if ts.v != "" && !validTime(ts.v) {
				add(at+"."+ts.name, "want an RFC 3339 time, got %q", clip(ts.v))
			}
		}
		if len(f.Locations) == 0 {
			add(at+".locations", "a finding needs at least one location")
		}
		for j, l := range f.Locations {
			validateLocation(fmt.Sprintf("%s.locations[%d]", at, j), l, add)
		}
		validateMismatches(at, f, add)
	}
	for i, n := range r.NearMisses {
		at := fmt.Sprintf("near_misses[%d]", i)
		if !validRedacted(n.Redacted) {
			add(at+".redacted", "want a redacted candidate, got %q", clip(n.Redacted))
		}
		validateLocation(at+".location", n.Location, add)
	}
	for i, k := range r.Skipped {
		if k.Where == "" && k.Reason == "" {
			add(fmt.Sprintf("skipped[%d]", i), "empty skip")
		}
	}
	st := r.Stats
	for _, c := range []struct {
		name string
		v    int64
	}{{"commits", st.Commits}, {"blobs", st.Blobs}, {"files", st.Files}, {"urls", st.URLs}, {"bytes", st.Bytes}, {"duration_ms", st.DurationMS}, {"allowed", st.Allowed}} {
		if c.v < 0 {
			add("stats."+c.name, "negative (%d)", c.v)
		}
	}
	if len(errs) > 10 {
		errs = append(errs[:10], fmt.Errorf("and %d more errors", len(errs)-10))
	}
	return errors.Join(errs...)
}

func validateLocation(at string, l finding.Location, add func(where, format string, args ...any)) {
	if !validToken(l.Source) {
		add(at+".source", "want a source such as \"git\", got %q", clip(l.Source))
	}
	if l.Kind != "" && !validToken(l.Kind) {
		add(at+".kind", "want a kind such as \"blob\", got %q", clip(l.Kind))
	}
	if l.Repo != "" && !validRepo(l.Repo) {
		add(at+".repo", "want OWNER/NAME, got %q", clip(l.Repo))
	}
	if l.Line < 0 {
		add(at+".line", "negative (%d)", l.Line)
	}
	if l.Column < 0 {
		add(at+".column", "negative (%d)", l.Column)
	}
	if l.Date != "" && !validTime(l.Date) {
		add(at+".date", "want an RFC 3339 time, got %q", clip(l.Date))
	}
	for _, id := range []struct{ name, v string }{{"commit", l.Commit}, {"blob", l.Blob}} {
		if id.v != "" && !validObjectID(id.v) {
			add(at+"."+id.name, "want a hex object id, got %q", clip(id.v))
		}
	}
	if o := l.Original; o != nil {
		if o.Path == "" {
			add(at+".original.path", "empty")
		}
		if o.Line < 0 || o.Column < 0 {
			add(at+".original", "negative position")
		}
	}
}

// validRepo accepts OWNER/NAME: two non-empty parts of printable
// characters without '/', ':' or spaces, as GitHub names repositories.
func validRepo(r string) bool {
	owner, name, ok := strings.Cut(r, "/")
	return ok && owner != "" && name != "" && !strings.Contains(name, "/") &&
		!strings.ContainsFunc(r, func(c rune) bool { return c <= ' ' || c == ':' || c == 0x7f })
}

// validRedacted accepts exactly the shape patterns.Redact gives a key:
// prefix, a known environment code, '_', four base62 characters and "…".
func validRedacted(r string) bool {
	body, ok := strings.CutSuffix(r, "…")
	if !ok || len(body) != patterns.RedactedLen || !strings.HasPrefix(body, patterns.Prefix) || body[8] != '_' {
		return false
	}
	if patterns.EnvironmentOf([]byte(body)) == "" {
		return false
	}
	for i := 9; i < len(body); i++ {
		if !patterns.IsBase62(body[i]) {
			return false
		}
	}
	return true
}

// validToken accepts short lower-case identifiers: sources and kinds other
// packages may add later stay readable.
func validToken(v string) bool {
	if v == "" || len(v) > 32 {
		return false
	}
	for _, c := range []byte(v) {
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// validObjectID accepts SHA-1 and SHA-256 object ids, abbreviated or not.
func validObjectID(v string) bool {
	if len(v) < 4 || len(v) > 64 {
		return false
	}
	for _, c := range []byte(v) {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

func validTime(v string) bool {
	_, err := time.Parse(time.RFC3339Nano, v)
	return err == nil
}

// clip shortens a value quoted in an error, masked.
func clip(v string) string {
	v = patterns.Scrub(v)
	if len(v) > 80 {
		v = v[:80] + "…"
	}
	return v
}
