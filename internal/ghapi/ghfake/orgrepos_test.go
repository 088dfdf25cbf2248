package ghfake_test

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/google/go-github/v60/github"

	"github.com/atomyx/atomyx-guard/internal/ghapi"
	"github.com/atomyx/atomyx-guard/internal/ghapi/ghfake"
)

func TestListOrgRepos(t *testing.T) {
	srv := ghfake.New()
	defer srv.Close()
	for i := range 7 {
		srv.AddRepo("acme", fmt.Sprintf("r%d", i), i == 2)
	}
	srv.AddRepo("other", "x", false)
	srv.UpdateRepo("acme/r3", func(r *ghfake.Repo) { r.Fork = true })
	srv.UpdateRepo("acme/r4", func(r *ghfake.Repo) { r.Archived = true; r.CloneURL = "http://127.0.0.1:1/acme/r4.git" })
	if srv.UpdateRepo("acme/none", func(*ghfake.Repo) {}) {
		t.Error("UpdateRepo of a missing repository reported success")
	}
	c, err := ghapi.New(ghapi.Config{BaseURL: srv.URL()})
	if err != nil {
		t.Fatal(err)
	}
	gh := c.GitHub()
	ctx := context.Background()

	list := func(t *testing.T, org string, opt github.RepositoryListByOrgOptions) ([]*github.Repository, int) {
		t.Helper()
		opt.PerPage = 3
		var all []*github.Repository
		pages := 0
		for {
			rs, resp, err := gh.Repositories.ListByOrg(ctx, org, &opt)
			if err != nil {
				t.Fatalf("list %s: %v", org, err)
			}
			pages++
			all = append(all, rs...)
			if resp.NextPage == 0 {
				return all, pages
			}
			opt.Page = resp.NextPage
		}
	}
	names := func(rs []*github.Repository) []string {
		var out []string
		for _, r := range rs {
			out = append(out, r.GetName())
		}
		return out
	}

	for _, tc := range []struct {
		name  string
		opt   github.RepositoryListByOrgOptions
		want  []string
		pages int
	}{
		{"default: newest first", github.RepositoryListByOrgOptions{}, []string{"r6", "r5", "r4", "r3", "r2", "r1", "r0"}, 3},
		{"by name", github.RepositoryListByOrgOptions{Sort: "full_name"}, []string{"r0", "r1", "r2", "r3", "r4", "r5", "r6"}, 3},
		{"forks", github.RepositoryListByOrgOptions{Type: "forks"}, []string{"r3"}, 1},
		{"private", github.RepositoryListByOrgOptions{Type: "private"}, []string{"r2"}, 1},
		{"sources asc", github.RepositoryListByOrgOptions{Type: "sources", Direction: "asc"}, []string{"r0", "r1", "r2", "r4", "r5", "r6"}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rs, pages := list(t, "acme", tc.opt)
			if got := names(rs); !slices.Equal(got, tc.want) || pages != tc.pages {
				t.Errorf("got %v in %d pages, want %v in %d", got, pages, tc.want, tc.pages)
			}
		})
	}

	rs, _ := list(t, "acme", github.RepositoryListByOrgOptions{Sort: "full_name"})
	r3, r4 := rs[3], rs[4]
	if !r3.GetFork() || r3.GetArchived() || r3.GetCloneURL() != "https://github.com/acme/r3.git" || r3.GetFullName() != "acme/r3" {
		t.Errorf("r3: fork %v archived %v clone %q", r3.GetFork(), r3.GetArchived(), r3.GetCloneURL())
	}
	if r4.GetFork() || !r4.GetArchived() || r4.GetCloneURL() != "http://127.0.0.1:1/acme/r4.git" || r4.GetDefaultBranch() != "main" {
		t.Errorf("r4: fork %v archived %v clone %q", r4.GetFork(), r4.GetArchived(), r4.GetCloneURL())
	}
	if !rs[2].GetPrivate() {
		t.Error("r2 not private")
	}

	if _, _, err := gh.Repositories.ListByOrg(ctx, "nobody", nil); !ghapi.IsNotFound(err) {
		t.Errorf("unknown org: %v, want 404", err)
	}
	srv.AddOrg("empty")
	if rs, _ := list(t, "empty", github.RepositoryListByOrgOptions{}); len(rs) != 0 {
		t.Errorf("empty org listed %d", len(rs))
	}
}
