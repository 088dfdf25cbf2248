package org

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/atomyx/atomyx-guard/internal/ghapi"
	"github.com/atomyx/atomyx-guard/internal/ghapi/ghfake"
	"github.com/atomyx/atomyx-guard/internal/org/orgtest"
	"github.com/atomyx/atomyx-guard/patterns"
	"github.com/atomyx/atomyx-guard/scanner"
)

// BenchmarkOrg measures a first (full) run and a nightly run over an
// unchanged organisation of 8 repositories of 20 commits each, served over
// loopback: the second is the fetch-only cost incremental state buys.
func BenchmarkOrg(b *testing.B) {
	gh := ghfake.New()
	defer gh.Close()
	git := orgtest.NewGitServer(b)
	for i := range 8 {
		full := fmt.Sprintf("acme/r%d", i)
		w := git.NewRepo(b, full)
		for c := range 20 {
			k, _ := patterns.Generate(patterns.Staging)
			body := strings.Repeat(fmt.Sprintf("line %d of commit %d\n", c, c), 200)
			if c%5 == 0 {
				body += "KEY=" + k + "\n"
			}
			writeFile(b, filepath.Join(w.Dir, fmt.Sprintf("f%d.txt", c)), body)
			w.Git("add", "-A")
			w.Git("commit", "-q", "-m", fmt.Sprintf("c%d", c))
		}
		w.Push()
		gh.AddRepo("acme", fmt.Sprintf("r%d", i), false)
		gh.UpdateRepo(full, func(r *ghfake.Repo) { r.CloneURL = git.CloneURL(full) })
	}
	c, err := ghapi.New(ghapi.Config{BaseURL: gh.URL()})
	if err != nil {
		b.Fatal(err)
	}
	run := func(b *testing.B, cache string) *Result {
		st, err := OpenState(filepath.Join(cache, "state.db"))
		if err != nil {
			b.Fatal(err)
		}
		defer st.Close()
		s := &Scanner{Client: c.GitHub(), Org: "acme", Mirror: &Mirror{Dir: filepath.Join(cache, "repos")},
			State: st, RepoWorkers: 2, Engine: &scanner.Engine{Detector: &scanner.Detector{}, Workers: 2}}
		res, err := s.Run(context.Background())
		if err != nil || res.Failed > 0 {
			b.Fatalf("%v\n%s", err, dump(res))
		}
		return res
	}
	b.Run("first", func(b *testing.B) {
		for b.Loop() {
			if res := run(b, b.TempDir()); res.Scanned != 8 || len(res.Findings) != 32 {
				b.Fatal(dump(res))
			}
		}
	})
	b.Run("unchanged", func(b *testing.B) {
		cache := b.TempDir()
		run(b, cache)
		for b.Loop() {
			if res := run(b, cache); res.Unchanged != 8 || len(res.Findings) != 32 {
				b.Fatal(dump(res))
			}
		}
	})
}

func writeFile(b *testing.B, p, body string) {
	b.Helper()
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		b.Fatal(err)
	}
}
