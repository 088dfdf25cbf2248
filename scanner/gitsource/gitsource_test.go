package gitsource

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/atomyx/atomyx-guard/internal/finding"
	"github.com/atomyx/atomyx-guard/internal/testkit"
	"github.com/atomyx/atomyx-guard/patterns"
)

// scenario is one repository holding a key in every place history can
// hide one.
type scenario struct {
	dir     string
	keys    map[string]string // label -> key
	decoys  []string          // valid keys that appear only in non-matching forms
	commits map[string]string // label -> commit id
	blobs   map[string]string // label -> blob id
}

func buildScenario(t *testing.T) *scenario {
	t.Helper()
	s := &scenario{keys: map[string]string{}, commits: map[string]string{}, blobs: map[string]string{}}
	key := func(label string) string {
		k := testkit.NewKey(t, patterns.Production)
		s.keys[label] = k
		return k
	}
	d := initRepo(t)
	s.dir = d
	s.commits["init"] = commit(t, d, "init", "README.md", "hello\n")

	// A branch.
	tgit(t, d, "checkout", "-q", "-b", "feature")
	s.commits["branch"] = commit(t, d, "feature work", "config/app.env", "A=1\nATOMYX_KEY="+key("branch")+"\n")
	tgit(t, d, "checkout", "-q", "main")

	// Refs that nothing else reaches: each from a throwaway branch.
	side := func(label, file string) string {
		tgit(t, d, "checkout", "-q", "-b", "tmp-"+label, "main")
		c := commit(t, d, label, file, "k = \""+key(label)+"\"\n")
		s.commits[label] = c
		tgit(t, d, "checkout", "-q", "main")
		tgit(t, d, "branch", "-q", "-D", "tmp-"+label)
		return c
	}
	tgit(t, d, "tag", "light", side("lightweight", "lt.txt"))
	tgit(t, d, "tag", "-a", "-m", "release", "v1", side("annotated", "at.txt"))
	tgit(t, d, "update-ref", "refs/pull/1/head", side("pull", "pr.txt"))
	// A remote-tracking ref, fetched for real from another repository.
	up := filepath.Join(filepath.Dir(d), "upstream")
	tgit(t, filepath.Dir(d), "init", "-q", up)
	s.commits["remote"] = commit(t, up, "upstream work", "remote.txt", key("remote")+"\n")
	tgit(t, d, "fetch", "-q", up, "main:refs/remotes/origin/topic")
	// A note.
	tgit(t, d, "notes", "add", "-m", "deploy with "+key("note"), s.commits["init"])

	// Added, then deleted.
	s.commits["deleted"] = commit(t, d, "add old env", "secrets/old.env", "TOKEN="+key("deleted")+"\n")
	tgit(t, d, "rm", "-q", "secrets/old.env")
	tgit(t, d, "commit", "-q", "-m", "remove old env")

	// Added, then renamed.
	s.commits["renamed"] = commit(t, d, "add orig", "a/orig.txt", "x\n"+key("renamed")+"\n")
	if err := os.MkdirAll(filepath.Join(d, "b"), 0o755); err != nil {
		t.Fatal(err)
	}
	tgit(t, d, "mv", "a/orig.txt", "b/renamed.txt")
	tgit(t, d, "commit", "-q", "-m", "rename")
	s.commits["renamed2"] = tgit(t, d, "rev-parse", "HEAD")

	// Only in a merge's conflict resolution.
	tgit(t, d, "checkout", "-q", "-b", "m1", "main")
	commit(t, d, "one side", "conflict.txt", "x=1\n")
	tgit(t, d, "checkout", "-q", "main")
	commit(t, d, "other side", "conflict.txt", "x=2\n")
	tgitMay(t, d, "merge", "-q", "m1")
	write(t, d, "conflict.txt", "x="+key("merge")+"\n")
	tgit(t, d, "add", "conflict.txt")
	tgit(t, d, "commit", "-q", "--no-edit")
	s.commits["merge"] = tgit(t, d, "rev-parse", "HEAD")

	// Only in a commit message.
	s.commits["message"] = commit(t, d, "rotate\n\nold key was "+key("message"), "m.txt", "m\n")

	// The same key in many files.
	var files []string
	many := key("many")
	for i := range 12 {
		files = append(files, "many/f"+string(rune('a'+i))+".txt", "line1\nkey: "+many+"\n")
	}
	s.commits["many"] = commit(t, d, "many", files...)

	// A multi-megabyte single line and a binary blob.
	line := strings.Repeat("x=1;", 800_000) + " " + key("bigline") + " " + strings.Repeat("y=2;", 200_000)
	bin := make([]byte, 200_000)
	_, _ = rand.Read(bin)
	copy(bin[100_000:], "\x00"+key("binary")+"\x00")
	s.commits["blobs"] = commit(t, d, "assets", "dist/app.min.js", line, "bin/data.bin", string(bin))

	// Decoys: none of these is a key.
	dec := func() string { k := testkit.NewKey(t, patterns.Production); s.decoys = append(s.decoys, k); return k }
	k1 := dec()
	flip := "a"
	if k1[46] == 'a' {
		flip = "b"
	}
	decoys := "bad checksum " + k1[:46] + flip + "\n" +
		"truncated " + dec()[:46] + "\n" +
		"unknown environment atmx_qa1_" + dec()[9:] + "\n" +
		"upper " + strings.ToUpper(dec()[:9]) + s.decoys[3][9:] + "\n"
	commit(t, d, "decoys", "decoys.txt", decoys)

	// A tag message, on main.
	tgit(t, d, "tag", "-a", "-m", "release notes\nkey: "+key("tagmsg"), "v2")

	// A tag on an orphan commit that no branch reaches.
	tgit(t, d, "checkout", "-q", "--orphan", "orphan")
	tgit(t, d, "rm", "-rq", "--cached", ".")
	tgit(t, d, "clean", "-qfdx")
	s.commits["orphan"] = commit(t, d, "orphan", "orphan.txt", key("orphan")+"\n")
	tgit(t, d, "tag", "-a", "-m", "orphan release", "orphan-tag")
	tgit(t, d, "checkout", "-q", "-f", "main")
	tgit(t, d, "branch", "-q", "-D", "orphan")

	// Only in the reflog: committed, then reset away.
	s.commits["reflog"] = commit(t, d, "oops", "reflog.txt", key("reflog")+"\n")
	s.blobs["reflog"] = tgit(t, d, "rev-parse", "HEAD:reflog.txt")
	tgit(t, d, "reset", "-q", "--hard", "HEAD~1")

	// Stashes: an older one (stash@{1}, reachable only from the stash's
	// reflog) and one with an untracked file.
	write(t, d, "README.md", "hello "+key("stashold")+"\n")
	tgit(t, d, "stash", "push", "-q")
	s.commits["stashold"] = tgit(t, d, "rev-parse", "refs/stash")
	write(t, d, "README.md", "hello "+key("stash")+"\n")
	write(t, d, "untracked.txt", key("untracked")+"\n")
	tgit(t, d, "stash", "push", "-q", "-u")
	s.commits["stash"] = tgit(t, d, "rev-parse", "refs/stash")
	s.commits["untracked"] = tgit(t, d, "rev-parse", "refs/stash^3")

	// A blob no commit holds.
	write(t, d, "dangling.txt", key("dangling")+"\n")
	s.blobs["dangling"] = tgit(t, d, "hash-object", "-w", "dangling.txt")
	os.Remove(filepath.Join(d, "dangling.txt"))

	// Last: a commit only a detached HEAD reaches.
	tgit(t, d, "checkout", "-q", "--detach")
	s.commits["detached"] = commit(t, d, "detached", "detached.txt", key("detached")+"\n")
	return s
}

// want describes one expected location: kind, path, commit label, tag,
// unreachable.
type want struct {
	kind, path, commit, tag string
	unreachable             bool
}

func (s *scenario) expect(reflog bool) map[string][]want {
	blob := finding.KindBlob
	w := map[string][]want{
		"branch":      {{kind: blob, path: "config/app.env", commit: "branch"}},
		"lightweight": {{kind: blob, path: "lt.txt", commit: "lightweight"}},
		"annotated":   {{kind: blob, path: "at.txt", commit: "annotated"}},
		"pull":        {{kind: blob, path: "pr.txt", commit: "pull"}},
		"remote":      {{kind: blob, path: "remote.txt", commit: "remote"}},
		"note":        {{kind: blob, path: s.commits["init"], commit: "*"}},
		"deleted":     {{kind: blob, path: "secrets/old.env", commit: "deleted"}},
		"renamed":     {{kind: blob, path: "a/orig.txt", commit: "renamed"}, {kind: blob, path: "b/renamed.txt", commit: "renamed2"}},
		"merge":       {{kind: blob, path: "conflict.txt", commit: "merge"}},
		"message":     {{kind: finding.KindCommitMessage, commit: "message"}},
		"bigline":     {{kind: blob, path: "dist/app.min.js", commit: "blobs"}},
		"binary":      {{kind: blob, path: "bin/data.bin", commit: "blobs"}},
		"tagmsg":      {{kind: finding.KindTagMessage, tag: "v2", commit: "*"}},
		"orphan":      {{kind: blob, path: "orphan.txt", commit: "orphan"}},
		"stashold":    {{kind: blob, path: "README.md", commit: "stashold"}},
		"stash":       {{kind: blob, path: "README.md", commit: "stash"}},
		"untracked":   {{kind: blob, path: "untracked.txt", commit: "untracked"}},
		"dangling":    {{kind: blob, unreachable: true}},
		"detached":    {{kind: blob, path: "detached.txt", commit: "detached"}},
	}
	for i := range 12 {
		w["many"] = append(w["many"], want{kind: blob, path: "many/f" + string(rune('a'+i)) + ".txt", commit: "many"})
	}
	if reflog {
		w["reflog"] = []want{{kind: blob, path: "reflog.txt", commit: "reflog"}}
	} else {
		w["reflog"] = []want{{kind: blob, unreachable: true}}
	}
	return w
}

func (s *scenario) check(t *testing.T, got scanned, reflog bool) {
	t.Helper()
	label := map[string]string{}
	for l, c := range s.commits {
		label[c] = l
	}
	expect := s.expect(reflog)
	for name, ws := range expect {
		fp := patterns.Fingerprint([]byte(s.keys[name]))
		f, ok := got.byFP[fp]
		if !ok {
			t.Errorf("%s: key not found", name)
			continue
		}
		var have []string
		for _, l := range f.Locations {
			c := label[l.Commit]
			if c == "" && l.Commit != "" {
				c = "*"
			}
			have = append(have, strings.Join([]string{l.Kind, l.Path, c, l.Tag, boolStr(l.Unreachable)}, "|"))
			if l.Source != finding.SourceGit {
				t.Errorf("%s: source %q", name, l.Source)
			}
			if l.Kind == finding.KindBlob && l.Blob == "" {
				t.Errorf("%s: blob location without blob id", name)
			}
			if l.Commit != "" {
				if l.Author != "A U Thor <author@example.com>" && l.Kind != finding.KindTagMessage {
					t.Errorf("%s: author %q", name, l.Author)
				}
				if _, err := time.Parse(time.RFC3339, l.Date); err != nil {
					t.Errorf("%s: date %q: %v", name, l.Date, err)
				}
			}
			if l.Line < 1 {
				t.Errorf("%s: line %d", name, l.Line)
			}
		}
		var wantS []string
		for _, w := range ws {
			wantS = append(wantS, strings.Join([]string{w.kind, w.path, w.commit, w.tag, boolStr(w.unreachable)}, "|"))
		}
		slices.Sort(have)
		slices.Sort(wantS)
		if !slices.Equal(have, wantS) {
			t.Errorf("%s: locations\n got %q\nwant %q", name, have, wantS)
		}
	}
	if len(got.findings) != len(expect) {
		var extra []string
		for _, f := range got.findings {
			extra = append(extra, f.Redacted)
		}
		t.Errorf("found %d keys, want %d: %v", len(got.findings), len(expect), extra)
	}
	for _, k := range s.decoys {
		if _, ok := got.byFP[patterns.Fingerprint([]byte(k))]; ok {
			t.Errorf("decoy %s reported", patterns.Redact([]byte(k)))
		}
	}
	if got.res.Partial || len(got.res.Skipped) > 0 {
		t.Errorf("partial %v, skipped %v", got.res.Partial, got.res.Skipped)
	}
}

func boolStr(b bool) string {
	if b {
		return "unreachable"
	}
	return ""
}

func TestScanEveryRefKind(t *testing.T) {
	s := buildScenario(t)
	for _, tt := range []struct {
		name   string
		reflog bool
		large  int64
	}{
		{"full", false, 0},
		{"reflog", true, 0},
		{"streamed large blobs", false, 64 << 10},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var tweak []func(*Repo)
			if tt.large > 0 {
				tweak = append(tweak, func(r *Repo) { r.large = tt.large })
			}
			got := both(t, s.dir, Options{Reflog: tt.reflog}, tweak...)
			s.check(t, got, tt.reflog)
			if got.res.Commits < 20 || got.res.Blobs < 20 || got.res.Bytes < 3_000_000 {
				t.Errorf("result counts look short: %+v", got.res)
			}
		})
	}
	t.Run("lines", func(t *testing.T) {
		got := scanRepo(t, s.dir, Options{})
		for name, line := range map[string]int{"message": 3, "many": 2, "bigline": 1, "branch": 2} {
			f := got.byFP[patterns.Fingerprint([]byte(s.keys[name]))]
			for _, l := range f.Locations {
				if l.Line != line {
					t.Errorf("%s: line %d, want %d", name, l.Line, line)
				}
			}
		}
	})
}

func TestOpen(t *testing.T) {
	d := initRepo(t)
	k := testkit.NewKey(t, patterns.Production)
	commit(t, d, "one", "sub/dir/a.txt", k+"\n")
	bare := filepath.Join(filepath.Dir(d), "bare.git")
	tgit(t, filepath.Dir(d), "clone", "-q", "--bare", d, bare)
	for _, p := range []string{d, filepath.Join(d, "sub", "dir"), bare} {
		got := both(t, p, Options{})
		if f, ok := got.byFP[patterns.Fingerprint([]byte(k))]; !ok || f.Locations[0].Path != "sub/dir/a.txt" {
			t.Errorf("%s: key not found at sub/dir/a.txt: %+v", p, f.Locations)
		}
	}
	_, err := Open(context.Background(), t.TempDir())
	if !errors.Is(err, ErrNotRepository) {
		t.Errorf("Open(not a repo) = %v, want ErrNotRepository", err)
	}
	if _, err := Open(context.Background(), filepath.Join(d, "missing")); err == nil {
		t.Error("Open(missing path) succeeded")
	}
}

func TestShallowClone(t *testing.T) {
	d := initRepo(t)
	old, recent := testkit.NewKey(t, patterns.Production), testkit.NewKey(t, patterns.Production)
	commit(t, d, "one", "a.txt", old+"\n")
	commit(t, d, "two", "b.txt", recent+"\n")
	sh := filepath.Join(filepath.Dir(d), "shallow")
	tgit(t, filepath.Dir(d), "clone", "-q", "--depth", "1", "file://"+d, sh)
	got := both(t, sh, Options{})
	if !got.res.Partial {
		t.Error("shallow clone not marked partial")
	}
	if len(got.res.Warnings) != 1 || !strings.Contains(got.res.Warnings[0], "shallow clone") || !strings.Contains(got.res.Warnings[0], "--unshallow") {
		t.Errorf("warnings = %q", got.res.Warnings)
	}
	// Both keys are in the one commit's tree: both found there.
	for _, k := range []string{old, recent} {
		if _, ok := got.byFP[patterns.Fingerprint([]byte(k))]; !ok {
			t.Errorf("key %s not found", patterns.Redact([]byte(k)))
		}
	}
}

func TestCorruptObject(t *testing.T) {
	d := initRepo(t)
	good := testkit.NewKey(t, patterns.Production)
	commit(t, d, "one", "good.txt", good+"\n", "bad.txt", strings.Repeat("filler ", 20_000)+testkit.NewKey(t, patterns.Production)+"\n")
	bad := tgit(t, d, "rev-parse", "HEAD:bad.txt")
	p := filepath.Join(d, ".git", "objects", bad[:2], bad[2:])
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(p, fi.Size()/2); err != nil {
		t.Fatal(err)
	}
	got := both(t, d, Options{})
	if _, ok := got.byFP[patterns.Fingerprint([]byte(good))]; !ok || len(got.findings) != 1 {
		t.Errorf("want the good key only, got %d findings", len(got.findings))
	}
	if !got.res.Partial || len(got.res.Skipped) != 1 || !strings.Contains(got.res.Skipped[0].Where, bad) {
		t.Errorf("want one skip for %s, got partial=%v %+v", bad, got.res.Partial, got.res.Skipped)
	}
}

func TestRange(t *testing.T) {
	d := initRepo(t)
	before, onMain, inPR, inPR2 := testkit.NewKey(t, patterns.Production), testkit.NewKey(t, patterns.Production), testkit.NewKey(t, patterns.Production), testkit.NewKey(t, patterns.Production)
	base := commit(t, d, "base", "a.txt", before+"\n")
	tgit(t, d, "checkout", "-q", "-b", "pr")
	c1 := commit(t, d, "pr one", "pr.txt", inPR+"\n")
	c2 := commit(t, d, "pr two\n\n"+inPR2, "pr2.txt", "x\n", "a.txt", before+"\nmore\n")
	tgit(t, d, "checkout", "-q", "main")
	commit(t, d, "main moves", "main.txt", onMain+"\n")
	got := both(t, d, Options{Range: "main..pr"})
	// a.txt changed in the PR: its new blob still holds the old key, and
	// that blob entered history in the PR.
	if f := got.byFP[patterns.Fingerprint([]byte(before))]; len(f.Locations) != 1 || f.Locations[0].Commit != c2 {
		t.Errorf("modified file's key: %+v", f.Locations)
	}
	if len(got.findings) != 3 {
		t.Fatalf("range found %d keys, want 3:\n%s", len(got.findings), summary(got))
	}
	if f := got.byFP[patterns.Fingerprint([]byte(inPR))]; len(f.Locations) != 1 || f.Locations[0].Commit != c1 || f.Locations[0].Path != "pr.txt" {
		t.Errorf("in-PR key: %+v", f.Locations)
	}
	if f := got.byFP[patterns.Fingerprint([]byte(inPR2))]; len(f.Locations) != 1 || f.Locations[0].Kind != finding.KindCommitMessage || f.Locations[0].Commit != c2 {
		t.Errorf("PR message key: %+v", f.Locations)
	}
	if got.res.Commits != 2 {
		t.Errorf("commits = %d, want 2", got.res.Commits)
	}
	// base..main holds only the main commit.
	got = both(t, d, Options{Range: base + "..main"})
	if _, ok := got.byFP[patterns.Fingerprint([]byte(onMain))]; !ok || len(got.findings) != 1 {
		t.Errorf("base..main: %s", summary(got))
	}
	for _, bad := range []string{"main", "main...pr", "nosuch..pr", "--output=x..pr"} {
		r, err := Open(context.Background(), d)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := r.Scan(context.Background(), newEngine(), Options{Range: bad}, setSink{finding.NewSet()}); err == nil {
			t.Errorf("range %q accepted", bad)
		}
	}
}

func TestSinceCommit(t *testing.T) {
	d := initRepo(t)
	old, recent, side := testkit.NewKey(t, patterns.Production), testkit.NewKey(t, patterns.Production), testkit.NewKey(t, patterns.Production)
	since := commit(t, d, "old", "a.txt", old+"\n")
	commit(t, d, "recent", "b.txt", recent+"\n")
	tgit(t, d, "checkout", "-q", "-b", "side", since)
	commit(t, d, "side", "c.txt", side+"\n")
	got := both(t, d, Options{SinceCommit: since})
	if len(got.findings) != 2 {
		t.Fatalf("since: %s", summary(got))
	}
	if _, ok := got.byFP[patterns.Fingerprint([]byte(old))]; ok {
		t.Error("key of the since commit itself reported")
	}
}

func TestStaged(t *testing.T) {
	d := initRepo(t)
	committed, staged, custom, unstaged := testkit.NewKey(t, patterns.Production), testkit.NewKey(t, patterns.Production), testkit.NewKey(t, patterns.Production), testkit.NewKey(t, patterns.Production)

	// Before the first commit, everything in the index is staged.
	write(t, d, "first.txt", committed+"\n")
	tgit(t, d, "add", "first.txt")
	got := both(t, d, Options{Staged: true})
	if f, ok := got.byFP[patterns.Fingerprint([]byte(committed))]; !ok || f.Locations[0].Path != "first.txt" || f.Locations[0].Commit != "" {
		t.Errorf("unborn HEAD: %s", summary(got))
	}
	tgit(t, d, "commit", "-q", "-m", "first")

	write(t, d, "staged.txt", "x\n"+staged+"\n")
	tgit(t, d, "add", "staged.txt")
	write(t, d, "unstaged.txt", unstaged+"\n")
	got = both(t, d, Options{Staged: true})
	if len(got.findings) != 1 {
		t.Fatalf("staged: %s", summary(got))
	}
	l := got.byFP[patterns.Fingerprint([]byte(staged))].Locations
	if len(l) != 1 || l[0].Path != "staged.txt" || l[0].Line != 2 || l[0].Commit != "" || l[0].Kind != finding.KindBlob {
		t.Errorf("staged location: %+v", l)
	}

	// A hook's GIT_INDEX_FILE, relative to the process's directory.
	idx := filepath.Join(filepath.Dir(d), "custom-index")
	write(t, d, "custom.txt", custom+"\n")
	tgitEnv(t, d, []string{"GIT_INDEX_FILE=" + idx}, "read-tree", "HEAD")
	tgitEnv(t, d, []string{"GIT_INDEX_FILE=" + idx}, "add", "custom.txt")
	wd, _ := os.Getwd()
	rel, err := filepath.Rel(wd, idx)
	if err != nil {
		t.Fatal(err)
	}
	got = both(t, d, Options{Staged: true, IndexFile: rel})
	if _, ok := got.byFP[patterns.Fingerprint([]byte(custom))]; !ok || len(got.findings) != 1 {
		t.Errorf("custom index: %s", summary(got))
	}
	r, _ := Open(context.Background(), d)
	if _, err := r.Scan(context.Background(), newEngine(), Options{Staged: true, IndexFile: idx + ".missing"}, setSink{finding.NewSet()}); err == nil {
		t.Error("missing index file accepted")
	}
}

func TestNoKeyNoWalk(t *testing.T) {
	d := initRepo(t)
	commit(t, d, "clean", "a.txt", "nothing here\n")
	got := both(t, d, Options{})
	if len(got.findings) != 0 || got.res.Commits != 1 || got.res.Blobs != 1 {
		t.Errorf("clean repo: %+v", got.res)
	}
	// Keys never reach a skip, warning or error text.
	var all bytes.Buffer
	for _, s := range got.res.Skipped {
		all.WriteString(s.Reason)
	}
	if bytes.Contains(all.Bytes(), []byte(patterns.Prefix)) {
		t.Error("key-like text in skips")
	}
}
