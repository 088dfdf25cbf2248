package ghapi

import (
	"errors"
	"fmt"
	"strings"

	"github.com/atomyx/atomyx-guard/patterns"
)

// ParseSecretTarget parses a delivery spec such as
// "github-secret:acme/app:ATOMYX_API_KEY", as the policy file writes it,
// with GitHub's own rules for owner, repository, environment and secret
// names. Its errors never hold a whole key.
func ParseSecretTarget(spec string) (SecretTarget, error) {
	if i := patterns.IndexKeyShape(spec); i >= 0 {
		return SecretTarget{}, fmt.Errorf("sink %q holds what looks like a whole Atomyx key; a sink names where a key goes, never the key", patterns.Scrub(spec))
	}
	kind, rest, _ := strings.Cut(spec, ":")
	parts := strings.Split(rest, ":")
	bad := func(format string, args ...any) (SecretTarget, error) {
		// Scrubbed whole: parts of the spec are quoted below.
		return SecretTarget{}, errors.New(patterns.Scrub(fmt.Sprintf("sink %q: %s", clipSpec(spec), fmt.Sprintf(format, args...))))
	}
	var s SecretTarget
	switch kind {
	case KindRepoSecret:
		if len(parts) != 2 {
			return bad("want %s:OWNER/REPO:NAME", kind)
		}
		s = SecretTarget{Kind: kind, Name: parts[1]}
		if err := s.setRepo(parts[0]); err != nil {
			return bad("%v", err)
		}
	case KindEnvSecret:
		if len(parts) != 3 {
			return bad("want %s:OWNER/REPO:ENV:NAME", kind)
		}
		s = SecretTarget{Kind: kind, Env: parts[1], Name: parts[2]}
		if err := s.setRepo(parts[0]); err != nil {
			return bad("%v", err)
		}
		if !validEnvName(s.Env) {
			return bad("environment name %q: want 1 to 255 printable characters", s.Env)
		}
	case KindOrgSecret:
		if len(parts) != 2 {
			return bad("want %s:ORG:NAME", kind)
		}
		s = SecretTarget{Kind: kind, Org: parts[0], Name: parts[1]}
		if !validOwner(s.Org) {
			return bad("organisation %q: want letters, digits and single hyphens", s.Org)
		}
	default:
		return bad("unknown kind %q (want %s, %s or %s)", kind, KindRepoSecret, KindEnvSecret, KindOrgSecret)
	}
	if err := s.Validate(); err != nil {
		return bad("%v", err)
	}
	return s, nil
}

// Valid says r follows GitHub's owner and repository names.
func (r Repo) Valid() bool { return validOwner(r.Owner) && validRepo(r.Name) }

// clipSpec bounds a quoted spec in an error.
func clipSpec(v string) string {
	if len(v) > 80 {
		return v[:80] + "…"
	}
	return v
}

func (s *SecretTarget) setRepo(v string) error {
	owner, repo, ok := strings.Cut(v, "/")
	if !ok || !validOwner(owner) || !validRepo(repo) {
		return fmt.Errorf("repository %q: want OWNER/REPO", v)
	}
	s.Owner, s.Repo = owner, repo
	return nil
}

// validOwner follows GitHub's user and organisation names: up to 39
// letters, digits and hyphens, no hyphen at either end or twice in a row.
func validOwner(v string) bool {
	if v == "" || len(v) > 39 || v[0] == '-' || v[len(v)-1] == '-' || strings.Contains(v, "--") {
		return false
	}
	for _, c := range []byte(v) {
		if !(isAlnum(c) || c == '-') {
			return false
		}
	}
	return true
}

// validRepo follows GitHub's repository names: up to 100 letters, digits,
// '.', '-' and '_', and not "." or "..".
func validRepo(v string) bool {
	if v == "" || len(v) > 100 || v == "." || v == ".." {
		return false
	}
	for _, c := range []byte(v) {
		if !(isAlnum(c) || c == '.' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// validSecretName follows GitHub's secret names: letters, digits and
// underscores, not starting with a digit or GITHUB_.
func validSecretName(v string) error {
	if v == "" || len(v) > 255 {
		return fmt.Errorf("secret name %q: want 1 to 255 characters", v)
	}
	if '0' <= v[0] && v[0] <= '9' {
		return fmt.Errorf("secret name %q: must not start with a digit", v)
	}
	if strings.HasPrefix(strings.ToUpper(v), "GITHUB_") {
		return errors.New("secret names must not start with GITHUB_")
	}
	for _, c := range []byte(v) {
		if !(isAlnum(c) || c == '_') {
			return fmt.Errorf("secret name %q: letters, digits and underscores only", v)
		}
	}
	return nil
}

func validEnvName(v string) bool {
	if v == "" || len(v) > 255 || strings.TrimSpace(v) != v {
		return false
	}
	for _, c := range v {
		if c < 0x20 || c == 0x7f || c == '\ufffd' {
			return false
		}
	}
	return true
}

func isAlnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}
