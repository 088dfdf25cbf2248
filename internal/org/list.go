package org

import (
	"context"
	"fmt"
	"path"
	"regexp"
	"strings"
	"sync"

	"github.com/google/go-github/v60/github"
)

// Repo is a repository as the organisation's listing gives it.
type Repo struct {
	Name, FullName          string
	Fork, Archived, Private bool
	CloneURL, DefaultBranch string
}

// login is what GitHub allows as an organisation's login.
var login = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$`) })

// List returns every repository of org, all pages, in full-name order.
func List(ctx context.Context, gh *github.Client, org string) ([]Repo, error) {
	if !login().MatchString(org) {
		return nil, fmt.Errorf("organisation %q: not a GitHub login (letters, digits, '-')", org)
	}
	opt := &github.RepositoryListByOrgOptions{Type: "all", Sort: "full_name", Direction: "asc",
		ListOptions: github.ListOptions{PerPage: 100}}
	var out []Repo
	for page := 0; ; page++ {
		rs, resp, err := gh.Repositories.ListByOrg(ctx, org, opt)
		if err != nil {
			return nil, fmt.Errorf("list repositories of %s: %w", org, err)
		}
		for _, r := range rs {
			out = append(out, Repo{
				Name: r.GetName(), FullName: r.GetFullName(),
				Fork: r.GetFork(), Archived: r.GetArchived(), Private: r.GetPrivate(),
				CloneURL: r.GetCloneURL(), DefaultBranch: r.GetDefaultBranch(),
			})
		}
		if resp.NextPage == 0 {
			return out, nil
		}
		if page > 10000 { // 1,000,000 repositories: the server is looping
			return nil, fmt.Errorf("list repositories of %s: more than %d pages", org, page)
		}
		opt.Page = resp.NextPage
	}
}

// Filter selects repositories: forks and archived ones only when asked,
// names matching one of Match (all when empty) and none of Exclude. Globs
// are path.Match patterns over the name without the owner ("api-*").
type Filter struct {
	IncludeForks, IncludeArchived bool
	Match, Exclude                []string
}

// Validate checks the globs.
func (f Filter) Validate() error {
	for _, g := range append(append([]string{}, f.Match...), f.Exclude...) {
		if _, err := path.Match(g, ""); err != nil {
			return fmt.Errorf("glob %q: %w", g, err)
		}
	}
	return nil
}

// Keep reports whether r is selected.
func (f Filter) Keep(r Repo) bool {
	if r.Fork && !f.IncludeForks || r.Archived && !f.IncludeArchived {
		return false
	}
	if len(f.Match) > 0 && !anyMatch(f.Match, r.Name) {
		return false
	}
	return !anyMatch(f.Exclude, r.Name)
}

func anyMatch(globs []string, name string) bool {
	for _, g := range globs {
		if ok, _ := path.Match(g, name); ok {
			return true
		}
	}
	return false
}

// safeName is what GitHub allows in owner and repository names; anything
// else from the API is refused before it becomes a path in the cache.
var safeName = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9._-]{1,100}$`) })

// checkName checks that full is "OWNER/NAME" of org with safe parts.
func checkName(org, full string) error {
	owner, name, ok := strings.Cut(full, "/")
	switch {
	case !ok || !safeName().MatchString(owner) || !safeName().MatchString(name) || name == "." || name == ".." || strings.HasPrefix(name, "."):
		return fmt.Errorf("repository name %q: not OWNER/NAME of letters, digits, '.', '-', '_'", full)
	case !strings.EqualFold(owner, org):
		return fmt.Errorf("repository %q is not in organisation %s", full, org)
	}
	return nil
}
