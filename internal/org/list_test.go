package org

import (
	"fmt"
	"strings"
	"testing"

	"github.com/atomyx/atomyx-guard/internal/ghapi"
	"github.com/atomyx/atomyx-guard/internal/ghapi/ghfake"
)

func TestListPages(t *testing.T) {
	t.Parallel()
	gh := ghfake.New()
	defer gh.Close()
	for i := range 250 {
		gh.AddRepo("big", fmt.Sprintf("r%03d", i), i%7 == 0)
	}
	c, err := ghapi.New(ghapi.Config{BaseURL: gh.URL()})
	if err != nil {
		t.Fatal(err)
	}
	repos, err := List(t.Context(), c.GitHub(), "big")
	if err != nil {
		t.Fatal(err)
	}
	if len(repos) != 250 || repos[0].FullName != "big/r000" || repos[249].Name != "r249" || !repos[7].Private || repos[8].Private {
		t.Fatalf("listed %d, first %+v", len(repos), repos[0])
	}
	if repos[1].CloneURL != "https://github.com/big/r001.git" || repos[1].DefaultBranch != "main" {
		t.Errorf("repo fields: %+v", repos[1])
	}
	pages := 0
	for _, r := range gh.Requests() {
		if r.Path == "/orgs/big/repos" {
			pages++
		}
	}
	if pages != 3 {
		t.Errorf("%d pages requested, want 3", pages)
	}
}

func TestFilterKeep(t *testing.T) {
	r := func(name string, fork, archived bool) Repo { return Repo{Name: name, Fork: fork, Archived: archived} }
	for _, tc := range []struct {
		f    Filter
		r    Repo
		keep bool
	}{
		{Filter{}, r("a", false, false), true},
		{Filter{}, r("a", true, false), false},
		{Filter{}, r("a", false, true), false},
		{Filter{IncludeForks: true}, r("a", true, false), true},
		{Filter{IncludeForks: true}, r("a", true, true), false},
		{Filter{IncludeArchived: true}, r("a", false, true), true},
		{Filter{Match: []string{"svc-*"}}, r("svc-a", false, false), true},
		{Filter{Match: []string{"svc-*"}}, r("web", false, false), false},
		{Filter{Exclude: []string{"*.github.io"}}, r("acme.github.io", false, false), false},
		{Filter{Match: []string{"svc-*"}, Exclude: []string{"svc-old*"}}, r("svc-old1", false, false), false},
		{Filter{Match: []string{"[a-c]*"}}, r("b", false, false), true},
	} {
		if got := tc.f.Keep(tc.r); got != tc.keep {
			t.Errorf("%+v keeps %+v: %v, want %v", tc.f, tc.r, got, tc.keep)
		}
	}
	if err := (Filter{Exclude: []string{"a["}}).Validate(); err == nil {
		t.Error("bad glob accepted")
	}
}

func TestCheckName(t *testing.T) {
	for _, tc := range []struct {
		full string
		ok   bool
	}{
		{"acme/api", true},
		{"ACME/api.js", true},
		{"acme/..", false},
		{"acme/.hidden", false},
		{"acme/a/b", false},
		{"other/api", false},
		{"acme/", false},
		{"acme/a b", false},
		{"acme\\x/y", false},
	} {
		if err := checkName("acme", tc.full); (err == nil) != tc.ok {
			t.Errorf("%q: %v", tc.full, err)
		}
	}
}

func TestCheckCloneURL(t *testing.T) {
	for _, tc := range []struct {
		url, err string
	}{
		{"https://github.com/acme/api.git", ""},
		{"http://127.0.0.1:8080/acme/api.git", ""},
		{"http://[::1]:8080/acme/api.git", ""},
		{"http://localhost/acme/api.git", ""},
		{"http://github.com/acme/api.git", "loopback"},
		{"http://127.0.0.1.example.com/a.git", "loopback"},
		{"https://user:secret@github.com/acme/api.git", "credentials"},
		{"ssh://git@github.com/acme/api.git", "scheme"},
		{"git://github.com/acme/api.git", "scheme"},
		{"file:///etc/passwd", "not an absolute URL"},
		{"/srv/git/api.git", "not an absolute URL"},
		{"", "not an absolute URL"},
	} {
		_, err := checkCloneURL(tc.url)
		if tc.err == "" && err != nil || tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("%q: %v, want %q", tc.url, err, tc.err)
		}
		if err != nil && strings.Contains(err.Error(), "secret") {
			t.Errorf("%q: error quotes the password", tc.url)
		}
	}
}

func TestTokenHosts(t *testing.T) {
	for in, want := range map[string]string{
		"https://api.github.com/":     "api.github.com github.com",
		"https://ghe.example/api/v3/": "ghe.example",
		"http://127.0.0.1:4000/":      "127.0.0.1",
		"https://API.GitHub.com/":     "api.github.com github.com",
		"not a url":                   "",
	} {
		if got := strings.Join(TokenHosts(in), " "); got != want {
			t.Errorf("%q: %q, want %q", in, got, want)
		}
	}
}
