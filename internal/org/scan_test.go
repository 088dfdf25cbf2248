package org

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/atomyx/atomyx-guard/internal/finding"
	"github.com/atomyx/atomyx-guard/internal/ghapi/ghfake"
	"github.com/atomyx/atomyx-guard/internal/org/orgtest"
)

// TestIncremental runs the nightly cycle: a first full run, a run after
// new commits in one repository, a run over an unchanged organisation,
// and --full.
func TestIncremental(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	kA, kB, kTag, kPull, kNew := f.key(t), f.key(t), f.key(t), f.key(t), f.key(t)

	a := f.repo(t, "api")
	a.Commit("init", "README", "api\n")
	a.Commit("config", "conf/prod.env", "KEY="+kA+"\n")
	b := f.repo(t, "web")
	b.Commit("add "+kB+" by mistake", "index.html", "<p>hi</p>\n")
	a.Git("tag", "-a", "-m", "release "+kTag, "v1")
	a.Push()
	// A pull request's head, which no branch holds: GitHub serves it as
	// refs/pull/N/head.
	pr := f.repo(t, "tools")
	pr.Commit("init", "main.go", "package main\n")
	pr.Git("checkout", "-q", "-b", "pr")
	pull := pr.Commit("pr", "pr.txt", kPull+"\n")
	orgtest.Git(t, f.git.Bare("acme/tools"), "update-ref", "refs/pull/1/head", pull)
	orgtest.Git(t, f.git.Bare("acme/tools"), "update-ref", "-d", "refs/heads/pr")

	var wantCommits, wantBlobs int64
	for _, r := range []string{"acme/api", "acme/web", "acme/tools"} {
		c, bl := objectCounts(t, f.git.Bare(r))
		wantCommits += c
		wantBlobs += bl
	}

	first := f.run(t)
	if first.Scanned != 3 || first.Failed != 0 || first.Commits != wantCommits || first.Blobs != wantBlobs {
		t.Fatalf("first run: want 3 scanned, %d commits, %d blobs\n%s", wantCommits, wantBlobs, dump(first))
	}
	got := byKey(first, kA, kB, kTag, kPull)
	if len(got) != 4 || len(first.Findings) != 4 {
		t.Fatalf("first run found %d of 4 keys\n%s", len(got), dump(first))
	}
	for k, want := range map[string]finding.Location{
		kA:    {Kind: finding.KindBlob, Repo: "acme/api", Path: "conf/prod.env"},
		kB:    {Kind: finding.KindCommitMessage, Repo: "acme/web"},
		kTag:  {Kind: finding.KindTagMessage, Repo: "acme/api", Tag: "v1"},
		kPull: {Kind: finding.KindBlob, Repo: "acme/tools", Path: "pr.txt", Commit: pull},
	} {
		l := got[k].Locations[0]
		if len(got[k].Locations) != 1 || l.Kind != want.Kind || l.Repo != want.Repo || l.Path != want.Path || want.Tag != "" && l.Tag != want.Tag || want.Commit != "" && l.Commit != want.Commit {
			t.Errorf("%s: locations %+v, want %+v", got[k].Redacted, got[k].Locations, want)
		}
	}

	// New commits in one repository: only they are scanned.
	b.Commit("two more", "app.js", "const k = '"+kNew+"'\n", "style.css", "p{}\n")
	second := f.run(t)
	if second.Scanned != 1 || second.Unchanged != 2 || second.Commits != 1 || second.Blobs != 2 {
		t.Errorf("second run: want 1 scanned, 2 unchanged, 1 commit, 2 blobs\n%s", dump(second))
	}
	if got := byKey(second, kA, kB, kTag, kPull, kNew); len(got) != 5 || len(second.Findings) != 5 {
		t.Errorf("second run lists %d of 5 keys\n%s", len(got), dump(second))
	} else if l := got[kNew].Locations; len(l) != 1 || l[0].RepoPath() != "acme/web:app.js" {
		t.Errorf("new key at %+v", l)
	} else if l := got[kB].Locations; len(l) != 1 || l[0].RepoPath() != "acme/web:" {
		t.Errorf("old key of the rescanned repository at %+v", l)
	}

	// Nothing changed: fetches only, every finding still listed.
	third := f.run(t)
	if third.Scanned != 0 || third.Unchanged != 3 || third.Commits != 0 || third.Blobs != 0 || third.Bytes != 0 {
		t.Errorf("unchanged org: want nothing scanned\n%s", dump(third))
	}
	if len(third.Findings) != 5 {
		t.Errorf("unchanged org lists %d of 5 keys\n%s", len(third.Findings), dump(third))
	}

	// --full rescans everything.
	full := f.run(t, func(s *Scanner) { s.Full = true })
	if full.Scanned != 3 || full.Commits != wantCommits+1 || full.Blobs != wantBlobs+2 || len(full.Findings) != 5 {
		t.Errorf("full: want 3 scanned, %d commits, %d blobs, 5 keys\n%s", wantCommits+1, wantBlobs+2, dump(full))
	}

	// Without state, every run is whole.
	st := f.scanner(t)
	if res, err := st.Run(t.Context()); err != nil || res.Scanned != 3 || res.Commits != wantCommits+1 {
		t.Errorf("stateless run: %v\n%s", err, dump(res))
	}

	f.noKeys(t, "state database", f.stateBytes(t))
}

// TestForcePush: a rewritten branch's old tip is gone from the mirror; the
// next run scans what is new and keeps the old findings.
func TestForcePush(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	k1, k2 := f.key(t), f.key(t)
	w := f.repo(t, "svc")
	w.Commit("one", "a.txt", "x\n")
	w.Commit("leak", "b.txt", k1+"\n")
	if res := f.run(t); len(res.Findings) != 1 {
		t.Fatalf("first run\n%s", dump(res))
	}
	w.Git("reset", "-q", "--hard", "HEAD~1")
	w.Commit("other", "c.txt", k2+"\n")
	res := f.run(t)
	if res.Scanned != 1 || res.Commits != 1 || res.Blobs != 1 || len(byKey(res, k1, k2)) != 2 {
		t.Errorf("after force push: want 1 commit, 1 blob, both keys\n%s", dump(res))
	}
}

func TestFailingRepositories(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	kGood, kCorrupt := f.key(t), f.key(t)
	good := f.repo(t, "good")
	good.Commit("leak", "k.txt", kGood+"\n")
	bad := f.repo(t, "corrupt")
	bad.Commit("leak", "k.txt", kCorrupt+"\n")
	// Corrupt every loose object of the served copy.
	bare := f.git.Bare("acme/corrupt")
	filepath.WalkDir(filepath.Join(bare, "objects"), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && len(filepath.Base(filepath.Dir(p))) == 2 {
			os.Chmod(p, 0o644)
			os.WriteFile(p, []byte("not zlib"), 0o644)
		}
		return nil
	})
	f.gh.AddRepo("acme", "gone", false)
	f.gh.UpdateRepo("acme/gone", func(r *ghfake.Repo) { r.CloneURL = f.git.CloneURL("acme/gone") })
	f.gh.AddRepo("acme", "cleartext", false)
	f.gh.UpdateRepo("acme/cleartext", func(r *ghfake.Repo) { r.CloneURL = "http://192.0.2.1/acme/cleartext.git" })
	f.gh.AddRepo("acme", "elsewhere", false)
	f.gh.UpdateRepo("acme/elsewhere", func(r *ghfake.Repo) { r.CloneURL = "ssh://git@example.com/acme/elsewhere.git" })

	res := f.run(t)
	if res.Scanned != 1 || res.Failed != 4 || !res.Partial {
		t.Fatalf("want 1 scanned, 4 failed\n%s", dump(res))
	}
	if len(byKey(res, kGood)) != 1 || len(res.Findings) != 1 {
		t.Errorf("the good repository's key is missing\n%s", dump(res))
	}
	want := map[string]string{
		"repository acme/corrupt":   "fetch:",
		"repository acme/gone":      "fetch:",
		"repository acme/cleartext": "plain http only to a loopback host",
		"repository acme/elsewhere": "scheme",
	}
	for _, s := range res.Skipped {
		if frag, ok := want[s.Where]; ok && strings.Contains(s.Reason, frag) {
			delete(want, s.Where)
		}
	}
	if len(want) > 0 {
		t.Errorf("not reported: %v\n%s", want, dump(res))
	}
	if len(res.Warnings) == 0 || !strings.Contains(res.Warnings[len(res.Warnings)-1], "4 of 5 repositories") {
		t.Errorf("warnings %q", res.Warnings)
	}

	// A repository that fails later keeps its earlier findings.
	os.RemoveAll(f.git.Bare("acme/good"))
	res = f.run(t)
	if res.Failed != 5 || len(byKey(res, kGood)) != 1 {
		t.Errorf("known findings of a failing repository dropped\n%s", dump(res))
	}
}

func TestTimeout(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.repo(t, "slow").Commit("one", "a.txt", "x\n")
	res := f.run(t, func(s *Scanner) { s.RepoTimeout = 1 })
	if res.Failed != 1 || len(res.Skipped) != 1 || !strings.Contains(res.Skipped[0].Reason, "timed out") {
		t.Errorf("want a timeout skip\n%s", dump(res))
	}
}

func TestFiltersAndShards(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	names := []string{"api", "web", "api-old", "fork-of-x", "attic", "tools"}
	keys := map[string]string{}
	for _, n := range names {
		keys[n] = f.key(t)
		f.repo(t, n).Commit("leak", "k.txt", keys[n]+"\n")
	}
	f.gh.UpdateRepo("acme/fork-of-x", func(r *ghfake.Repo) { r.Fork = true })
	f.gh.UpdateRepo("acme/attic", func(r *ghfake.Repo) { r.Archived = true })
	repos := func(res *Result) []string {
		var out []string
		for _, n := range names {
			if len(byKey(res, keys[n])) == 1 {
				out = append(out, n)
			}
		}
		return out
	}
	for _, tc := range []struct {
		name   string
		filter Filter
		want   string
	}{
		{"default: no forks, no archived", Filter{}, "api web api-old tools"},
		{"forks", Filter{IncludeForks: true}, "api web api-old fork-of-x tools"},
		{"everything", Filter{IncludeForks: true, IncludeArchived: true}, "api web api-old fork-of-x attic tools"},
		{"match", Filter{Match: []string{"api*", "web"}}, "api web api-old"},
		{"match and exclude", Filter{Match: []string{"api*"}, Exclude: []string{"*-old"}}, "api"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := f.run(t, func(s *Scanner) { s.Filter = tc.filter })
			if got := strings.Join(repos(res), " "); got != tc.want || res.Listed != 6 {
				t.Errorf("got %q of %d listed, want %q", got, res.Listed, tc.want)
			}
		})
	}

	// Shards of an org cover it once, each machine with its own cache.
	everything := Filter{IncludeForks: true, IncludeArchived: true}
	for n := 2; n <= 2; n++ {
		seen := map[string]int{}
		for k := 1; k <= n; k++ {
			s := f.scanner(t)
			s.Filter, s.Shard = everything, Shard{k, n}
			s.Mirror.Dir = t.TempDir()
			res, err := s.Run(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range repos(res) {
				seen[r]++
			}
			if len(repos(res)) != res.Selected {
				t.Errorf("shard %d/%d: %d selected, %d with findings", k, n, res.Selected, len(repos(res)))
			}
		}
		for _, name := range names {
			if seen[name] != 1 {
				t.Errorf("N=%d: %s in %d shards", n, name, seen[name])
			}
		}
	}

	if _, err := (&Scanner{Filter: Filter{Match: []string{"["}}}).Run(t.Context()); err == nil {
		t.Error("bad glob accepted")
	}
}

// TestToken: the token goes to the GitHub host only, as x-access-token.
func TestToken(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	k := f.key(t)
	f.repo(t, "private").Commit("leak", "k.txt", k+"\n")
	f.git.Token = "ghs_test-token"
	res := f.run(t, func(s *Scanner) {
		s.Mirror.Token = "ghs_test-token"
		s.Mirror.TokenHosts = []string{"github.example"}
	})
	if res.Failed != 1 || f.git.Authed.Load() != 0 {
		t.Errorf("token sent to a host not its own (authed %d)\n%s", f.git.Authed.Load(), dump(res))
	}
	if strings.Contains(dump(res), "ghs_test-token") {
		t.Error("token in the result")
	}
	res = f.run(t, func(s *Scanner) {
		s.Mirror.Token = "ghs_test-token"
		s.Mirror.TokenHosts = TokenHosts(f.gh.URL())
	})
	if res.Scanned != 1 || len(byKey(res, k)) != 1 || f.git.Authed.Load() == 0 {
		t.Errorf("with the token\n%s", dump(res))
	}
	cfg, err := os.ReadFile(filepath.Join(f.cache, "repos", "acme", "private.git", "config"))
	if err != nil || strings.Contains(string(cfg), "ghs_test-token") {
		t.Errorf("mirror config: %v, holds token %v", err, strings.Contains(string(cfg), "ghs_test-token"))
	}
}

func TestListingErrors(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	s := f.scanner(t)
	s.Org = "nobody"
	if _, err := s.Run(t.Context()); err == nil || !strings.Contains(err.Error(), "list repositories of nobody") {
		t.Errorf("unknown org: %v", err)
	}
	f.gh.Fail(ghfake.Fault{Path: "/orgs/acme/repos", Kind: ghfake.Forbidden})
	s.Org = "acme"
	if _, err := s.Run(t.Context()); err == nil {
		t.Error("forbidden listing: no error")
	}
}
