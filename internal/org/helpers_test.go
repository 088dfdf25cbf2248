package org

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-github/v60/github"

	"github.com/atomyx/atomyx-guard/internal/finding"
	"github.com/atomyx/atomyx-guard/internal/ghapi"
	"github.com/atomyx/atomyx-guard/internal/ghapi/ghfake"
	"github.com/atomyx/atomyx-guard/internal/org/orgtest"
	"github.com/atomyx/atomyx-guard/patterns"
	"github.com/atomyx/atomyx-guard/scanner"
)

// fixture is an organisation "acme" on a fake GitHub whose clone URLs
// point at real repositories served over loopback.
type fixture struct {
	gh     *ghfake.Server
	git    *orgtest.GitServer
	client *github.Client
	cache  string
	keys   []string // every key the test generated
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{gh: ghfake.New(), git: orgtest.NewGitServer(t), cache: t.TempDir()}
	t.Cleanup(f.gh.Close)
	f.gh.AddOrg("acme")
	c, err := ghapi.New(ghapi.Config{BaseURL: f.gh.URL()})
	if err != nil {
		t.Fatal(err)
	}
	f.client = c.GitHub()
	return f
}

// repo creates acme/NAME, served and listed.
func (f *fixture) repo(t *testing.T, name string) *orgtest.Work {
	t.Helper()
	full := "acme/" + name
	w := f.git.NewRepo(t, full)
	f.gh.AddRepo("acme", name, false)
	f.gh.UpdateRepo(full, func(r *ghfake.Repo) { r.CloneURL = f.git.CloneURL(full) })
	return w
}

func (f *fixture) key(t *testing.T) string {
	t.Helper()
	k, err := patterns.Generate(patterns.Production)
	if err != nil {
		t.Fatal(err)
	}
	f.keys = append(f.keys, k)
	return k
}

// scanner returns a Scanner over the fixture with state in the cache.
func (f *fixture) scanner(t *testing.T) *Scanner {
	t.Helper()
	return &Scanner{
		Client: f.client, Org: "acme", Shard: Shard{1, 1},
		Mirror:      &Mirror{Dir: filepath.Join(f.cache, "repos")},
		RepoWorkers: 2,
		Engine:      &scanner.Engine{Detector: &scanner.Detector{}, Workers: 2},
	}
}

// run runs one scan with its own state handle, as one process would.
func (f *fixture) run(t *testing.T, tweak ...func(*Scanner)) *Result {
	t.Helper()
	st, err := OpenState(filepath.Join(f.cache, "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	s := f.scanner(t)
	s.State = st
	for _, fn := range tweak {
		fn(s)
	}
	res, err := s.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	f.noKeys(t, "result", []byte(dump(res)))
	return res
}

// noKeys fails if b holds any whole key the fixture generated.
func (f *fixture) noKeys(t *testing.T, what string, b []byte) {
	t.Helper()
	for _, k := range f.keys {
		if bytes.Contains(b, []byte(k)) {
			t.Errorf("%s holds the whole key %s", what, patterns.Redact([]byte(k)))
		}
	}
	if i := patterns.IndexKeyShape(string(b)); i >= 0 {
		t.Errorf("%s holds a key-shaped string at byte %d", what, i)
	}
}

func (f *fixture) stateBytes(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(f.cache, "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// byKey indexes findings by the key they are of.
func byKey(res *Result, keys ...string) map[string]finding.Finding {
	out := map[string]finding.Finding{}
	for _, fd := range res.Findings {
		for _, k := range keys {
			if fd.Fingerprint == patterns.Fingerprint([]byte(k)) {
				out[k] = fd
			}
		}
	}
	return out
}

// dump is a readable form of a result for failure messages (no keys:
// results hold fingerprints and redacted forms only).
func dump(r *Result) string {
	var b strings.Builder
	b.WriteString(r.Summary() + "\n")
	b.WriteString("commits " + itoa(r.Commits) + " blobs " + itoa(r.Blobs) + "\n")
	for _, fd := range r.Findings {
		b.WriteString(fd.Redacted + "\n")
		for _, l := range fd.Locations {
			b.WriteString("  " + l.Kind + " " + l.Path + " " + l.Commit + "\n")
		}
	}
	for _, s := range r.Skipped {
		b.WriteString("skip " + s.Where + ": " + s.Reason + "\n")
	}
	for _, w := range r.Warnings {
		b.WriteString("warning " + w + "\n")
	}
	return b.String()
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// objectCounts counts the commits and blobs of a served repository.
func objectCounts(t *testing.T, bare string) (commits, blobs int64) {
	t.Helper()
	out := orgtest.Git(t, bare, "cat-file", "--batch-all-objects", "--batch-check=%(objecttype)")
	for _, l := range strings.Fields(out) {
		switch l {
		case "commit":
			commits++
		case "blob":
			blobs++
		}
	}
	return commits, blobs
}
