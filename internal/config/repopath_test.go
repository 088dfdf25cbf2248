package config

import (
	"testing"

	"github.com/atomyx/atomyx-guard/internal/finding"
)

// Org scans prefix paths with "OWNER/NAME:"; patterns match both the
// prefixed path and the path inside the repository.
func TestGlobOrgPaths(t *testing.T) {
	for _, tt := range []struct {
		pat, path string
		want      bool
	}{
		{"testdata/**", "acme/api:testdata/k.env", true},
		{"conf/*.env", "acme/api:conf/prod.env", true},
		{"*.env", "acme/api:conf/prod.env", true},
		{"acme/api:conf/*.env", "acme/api:conf/prod.env", true},
		{"acme/api:conf/*.env", "acme/web:conf/prod.env", false},
		{"acme/*:conf/*.env", "acme/web:conf/prod.env", true},
		{"conf/*.env", "acme/api:src/conf/prod.env", false},
		{"conf/*.env", "acme/api:dist/app.zip!conf/prod.env", true},
		{"dist/*.zip", "acme/api:dist/app.zip!conf/prod.env", true},
		{"docs/**", "acme/api:", false},
		// Not an org prefix: a colon deeper in a path, or no owner.
		{"b/c", "x/y/a:b/c", false},
		{"b/c", "a:b/c", false},
	} {
		g, err := compileGlob(tt.pat)
		if err != nil {
			t.Fatal(err)
		}
		if got := g.matchLocationPath(tt.path); got != tt.want {
			t.Errorf("%q on %q = %v, want %v", tt.pat, tt.path, got, tt.want)
		}
	}
}

// Filter matches an org location by its repository and path
// (Location.RepoPath), as it matched the prefixed paths before.
func TestFilterOrgLocations(t *testing.T) {
	c, err := Parse([]byte("[allow]\npaths = [\"acme/api:conf/*.env\", \"testdata/**\"]\n"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		loc     finding.Location
		allowed bool
	}{
		{finding.Location{Source: "git", Repo: "acme/api", Path: "conf/prod.env"}, true},
		{finding.Location{Source: "git", Repo: "acme/web", Path: "conf/prod.env"}, false},
		{finding.Location{Source: "git", Repo: "acme/web", Path: "testdata/k.env"}, true},
		{finding.Location{Source: "git", Path: "conf/prod.env"}, false},
	} {
		kept, _ := c.Filter([]finding.Finding{{Fingerprint: fp('a'), Locations: []finding.Location{tt.loc}}})
		if got := len(kept) == 0; got != tt.allowed {
			t.Errorf("%s: allowed %v, want %v", tt.loc.RepoPath(), got, tt.allowed)
		}
	}
}
