package gitsource

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/atomyx/atomyx-guard/internal/finding"
	"github.com/atomyx/atomyx-guard/internal/testkit"
	"github.com/atomyx/atomyx-guard/patterns"
)

// hostile is a repository whose config tries to make git run a program
// (promisor remote with core.sshCommand, or an ext:: remote) when an object
// it needs is missing, as a scanned repository may.
type hostile struct {
	dir, first, second string
	marker             string
}

// newHostile commits a clean file, then a file with a key, removes the
// second commit's tree (missing "tree") or the key's blob (missing "blob")
// and writes the hostile config (how: "ssh" or "ext"). bare scans a bare
// clone instead of the work tree.
func newHostile(t *testing.T, missing, how string, bare bool) hostile {
	t.Helper()
	d := initRepo(t)
	h := hostile{dir: d}
	h.first = commit(t, d, "one", "a.txt", "clean\n")
	h.second = commit(t, d, "two", "f.txt", "k="+testkit.NewKey(t, patterns.Production)+"\n")
	gitDir := filepath.Join(d, ".git")
	if bare {
		b := filepath.Join(filepath.Dir(d), "bare.git")
		tgit(t, filepath.Dir(d), "clone", "-q", "--bare", "--no-local", d, b)
		tgit(t, b, "update-ref", "refs/heads/main", h.second)
		// Unpack so that the object to remove is a loose file.
		packs, _ := filepath.Glob(filepath.Join(b, "objects", "pack", "*.pack"))
		for _, p := range packs {
			f, err := os.Open(p)
			if err != nil {
				t.Fatal(err)
			}
			moved := p + ".old"
			os.Rename(p, moved)
			os.Remove(strings.TrimSuffix(p, ".pack") + ".idx")
			cmdIn(t, b, f, "unpack-objects", "-q")
			f.Close()
			os.Remove(moved)
		}
		h.dir, gitDir = b, b
	}
	var gone string
	switch missing {
	case "tree":
		gone = tgit(t, d, "rev-parse", h.second+"^{tree}")
	case "blob":
		gone = tgit(t, d, "rev-parse", h.second+":f.txt")
	}
	if err := os.Remove(filepath.Join(gitDir, "objects", gone[:2], gone[2:])); err != nil {
		t.Fatal(err)
	}
	h.marker = filepath.Join(t.TempDir(), "PWNED")
	cfg := func(k, v string) { tgit(t, h.dir, "config", k, v) }
	switch how {
	case "ssh":
		cfg("remote.origin.url", "ssh://example.invalid/x")
		cfg("remote.origin.promisor", "true")
		cfg("core.sshCommand", "touch "+h.marker+"; false")
	case "ext":
		cfg("core.repositoryformatversion", "1")
		cfg("extensions.partialClone", "origin")
		cfg("remote.origin.url", "ext::sh -c touch% "+h.marker)
		cfg("protocol.ext.allow", "always")
		cfg("protocol.allow", "always")
	}
	return h
}

// cmdIn runs git in dir with stdin from f.
func cmdIn(t *testing.T, dir string, f *os.File, args ...string) {
	t.Helper()
	c := tgitCmd(dir, args...)
	c.Stdin = f
	if out, err := c.CombinedOutput(); err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
}

// TestHostileRepoRunsNothing: no mode makes git run a program or fetch
// because of the scanned repository's config; the missing object is a
// skip.
func TestHostileRepoRunsNothing(t *testing.T) {
	for _, missing := range []string{"tree", "blob"} {
		for _, how := range []string{"ssh", "ext"} {
			for _, bare := range []bool{false, true} {
				h := newHostile(t, missing, how, bare)
				modes := map[string]Options{
					"full":         {},
					"reflog":       {Reflog: true},
					"range":        {Range: h.first + ".." + h.second},
					"since-commit": {SinceCommit: h.first},
				}
				if !bare {
					write(t, h.dir, "new.txt", "staged\n")
					tgit(t, h.dir, "add", "new.txt")
					modes["staged"] = Options{Staged: true}
				}
				for mode, opts := range modes {
					name := missing + "/" + how + "/" + mode
					if bare {
						name += "/bare"
					}
					t.Run(name, func(t *testing.T) {
						r, err := Open(context.Background(), h.dir)
						if err != nil {
							t.Fatal(err)
						}
						defer r.Close()
						res, err := r.Scan(context.Background(), newEngine(), opts, setSink{finding.NewSet()})
						if _, serr := os.Stat(h.marker); serr == nil {
							os.Remove(h.marker)
							t.Fatalf("the repository's config ran a program (scan err %v)", err)
						}
						if err != nil {
							t.Fatalf("scan: %v", err)
						}
						// A full scan reads the objects there are: a blob
						// missing from the store is no more there than
						// one never added (git fsck checks connectivity).
						blobUnneeded := missing == "blob" && (mode == "full" || mode == "reflog" || mode == "staged")
						if !blobUnneeded && (!res.Partial || len(res.Skipped) == 0) {
							t.Errorf("missing %s not reported as a skip: partial=%v skipped=%+v", missing, res.Partial, res.Skipped)
						}
					})
				}
			}
		}
	}
}

// TestHostileConfigDoesNotHang: repository settings that make git read
// forever are not read at all.
func TestHostileConfigDoesNotHang(t *testing.T) {
	d := initRepo(t)
	key := testkit.NewKey(t, patterns.Production)
	commit(t, d, "one", "a.txt", "k="+key+"\n")
	commit(t, d, "two", "b.txt", "x\n")
	tgit(t, d, "config", "diff.orderFile", "/dev/zero")
	tgit(t, d, "config", "core.attributesFile", "/dev/zero")
	tgit(t, d, "config", "--add", "include.path", "/proc/self/fd/2")
	for _, opts := range []Options{{}, {Range: "HEAD~1..HEAD"}, {Staged: true}} {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		r, err := Open(ctx, d)
		if err != nil {
			t.Fatal(err)
		}
		set := finding.NewSet()
		res, err := r.Scan(ctx, newEngine(), opts, setSink{set})
		r.Close()
		cancel()
		if err != nil || errors.Is(ctx.Err(), context.DeadlineExceeded) {
			t.Fatalf("%+v: %v", opts, err)
		}
		if opts.Range == "" && !opts.Staged && len(set.Findings()) != 1 {
			t.Errorf("full scan found %d keys, want 1 (%+v)", len(set.Findings()), res)
		}
	}
}

// TestFIFOInRepository: a FIFO where git or go-git would read a file (a
// pack index, a loose object, a ref, a reflog) is refused and reported,
// and no git child is left to block on it: the shadow git directory
// leaves such files out, so no child runs into its deadline (they once
// all did, a minute each, before the scan fell back to go-git).
func TestFIFOInRepository(t *testing.T) {
	d := initRepo(t)
	key := testkit.NewKey(t, patterns.Production)
	commit(t, d, "one", "a.txt", "k="+key+"\n")
	tgit(t, d, "repack", "-adq")
	gd := filepath.Join(d, ".git")
	// A second "pack" whose index is a FIFO.
	fake := filepath.Join(gd, "objects", "pack", "pack-"+strings.Repeat("ab", 20))
	if err := os.WriteFile(fake+".pack", []byte("PACK\x00\x00\x00\x02\x00\x00\x00\x00"), 0o644); err != nil {
		t.Fatal(err)
	}
	loose := filepath.Join(gd, "objects", "cd", strings.Repeat("cd", 19))
	for _, p := range []string{fake + ".idx", loose, filepath.Join(gd, "refs", "heads", "fifo"), filepath.Join(gd, "logs", "refs", "heads", "fifo")} {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := syscall.Mkfifo(p, 0o644); err != nil {
			t.Skipf("mkfifo: %v", err)
		}
	}
	for _, opts := range []Options{{}, {Reflog: true}, {NoGitBinary: true}} {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		r, err := Open(ctx, d)
		if err != nil {
			t.Fatal(err)
		}
		// Far above what a child of this repository needs, even on a
		// loaded machine; a child that blocks on a FIFO is stopped by it
		// and its warning fails the test below.
		r.gitTimeout = 30 * time.Second
		set := finding.NewSet()
		res, err := r.Scan(ctx, newEngine(), opts, setSink{set})
		r.Close()
		cancel()
		if err != nil {
			t.Fatalf("%+v: %v", opts, err)
		}
		if len(set.Findings()) != 1 || !res.Partial {
			t.Errorf("%+v: %d findings, partial %v, skipped %+v", opts, len(set.Findings()), res.Partial, res.Skipped)
		}
		for _, where := range []string{"object " + strings.Repeat("cd", 20), "ref refs/heads/fifo"} {
			if !slices.ContainsFunc(res.Skipped, func(s finding.Skip) bool { return s.Where == where }) {
				t.Errorf("%+v: %s is not reported: %+v", opts, where, res.Skipped)
			}
		}
		// The FIFO ref costs itself only: main still leads to the commit
		// that added the key (it once cost every ref, and the key was
		// reported as an unreachable blob).
		if fs := set.Findings(); len(fs) == 1 && (len(fs[0].Locations) != 1 || fs[0].Locations[0].Commit == "") {
			t.Errorf("%+v: key not placed in its commit: %+v", opts, fs[0].Locations)
		}
		for _, w := range res.Warnings {
			if strings.Contains(w, "git binary failed") {
				t.Errorf("%+v: %s", opts, w)
			}
		}
	}
}

// openFDs counts this process's open descriptors (Linux).
func openFDs(t *testing.T) int {
	t.Helper()
	des, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("no /proc/self/fd: %v", err)
	}
	return len(des)
}

// TestCloseReleasesDescriptors: N scans, each closed, leave no pack or
// index open.
func TestCloseReleasesDescriptors(t *testing.T) {
	d := initRepo(t)
	commit(t, d, "one", "a.txt", "k="+testkit.NewKey(t, patterns.Production)+"\n")
	tgit(t, d, "repack", "-adq")
	commit(t, d, "two", "b.txt", "x\n")
	tgit(t, d, "repack", "-dq")
	for _, noBin := range []bool{false, true} {
		before := openFDs(t)
		for range 20 {
			s := scanRepo(t, d, Options{NoGitBinary: noBin, Reflog: true})
			if len(s.findings) != 1 {
				t.Fatalf("%d findings", len(s.findings))
			}
		}
		if after := openFDs(t); after != before {
			t.Errorf("no-git-binary=%v: %d descriptors open before 20 scans, %d after", noBin, before, after)
		}
	}
}

// FuzzShadowInputs: the repository's alternates file and HEAD are read
// into the shadow directory; whatever they hold, every alternate is an
// absolute, clean path and only a ref or an id passes as HEAD.
func FuzzShadowInputs(f *testing.F) {
	f.Add([]byte("../../other/objects\n/abs/objects\n# comment\n"))
	f.Add([]byte("ref: refs/heads/main\n"))
	f.Add([]byte("0123456789abcdef0123456789abcdef01234567"))
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, p := range alternatePaths(b, "/repo/.git/objects") {
			if !filepath.IsAbs(p) || filepath.Clean(p) != p || strings.ContainsRune(p, '\n') {
				t.Fatalf("alternate %q", p)
			}
		}
		if validHead(b) {
			l := strings.TrimSpace(string(b))
			if !strings.HasPrefix(l, "ref: refs/") {
				if _, ok := parseHex(l); !ok {
					t.Fatalf("HEAD %q accepted", l)
				}
			}
		}
	})
}

// A repository whose objects are named by SHA-256 is refused at Open with
// the reason, not scanned into "nothing could be read".
func TestSHA256RepositoryRefused(t *testing.T) {
	d := t.TempDir()
	if out, err := tgitCmd(d, "init", "-q", "--object-format=sha256", d).CombinedOutput(); err != nil {
		t.Skipf("git cannot make a SHA-256 repository: %v\n%s", err, out)
	}
	commit(t, d, "one", "a.txt", "k="+testkit.NewKey(t, patterns.Production)+"\n")
	_, err := Open(context.Background(), d)
	if err == nil || !strings.Contains(err.Error(), "sha256") {
		t.Fatalf("Open: %v, want the object format refused", err)
	}
	// A SHA-1 repository that says so is read.
	d1 := initRepo(t)
	tgit(t, d1, "config", "extensions.objectFormat", "sha1")
	if _, err := Open(context.Background(), d1); err != nil {
		t.Fatalf("Open of a repository declaring sha1: %v", err)
	}
}

// Refs kept in a reftable (git 2.45's --ref-format=reftable) are refused
// with the reason; refs in files, said so or not, are read.
func TestReftableRepositoryRefused(t *testing.T) {
	for _, c := range []struct {
		format string
		refuse bool
	}{{"reftable", true}, {"REFTABLE", true}, {"files", false}, {"KEY", true}} {
		t.Run(c.format, func(t *testing.T) {
			d := initRepo(t)
			commit(t, d, "one", "a.txt", "x\n")
			// Written by hand: the git here may predate reftable.
			f, err := os.OpenFile(filepath.Join(d, ".git", "config"), os.O_APPEND|os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			format := c.format
			key := testkit.NewKey(t, patterns.Production)
			if format == "KEY" { // a hostile value: a key in it is not quoted whole
				format = key
			}
			fmt.Fprintf(f, "[extensions]\n\trefStorage = %s\n", format)
			f.Close()
			_, err = Open(context.Background(), d)
			if refused := err != nil && strings.Contains(err.Error(), "extensions.refStorage"); refused != c.refuse {
				t.Fatalf("Open: %v; want refused %v", err, c.refuse)
			}
			if err != nil && strings.Contains(err.Error(), key) {
				t.Errorf("the error quotes a whole key: %s", patterns.RedactRuns(err.Error()))
			}
		})
	}
}

// TestHostileRefFiles: a loose ref file that cannot be read as a ref (a
// symlink loop, a link out of the repository, a sparse file of 256 MiB)
// costs that ref only, reported by name: the other refs still
// place the key in its commit, in bounded memory (go-git read a loose ref
// whole, and stopped its iteration of all refs at the first such file).
func TestHostileRefFiles(t *testing.T) {
	outside := filepath.Join(t.TempDir(), "outside")
	if err := os.WriteFile(outside, []byte(strings.Repeat("ab", 20)+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		make func(t *testing.T, ref string)
		why  string
	}{
		{"symlink loop", func(t *testing.T, ref string) {
			if err := os.Symlink(filepath.Base(ref), ref); err != nil {
				t.Fatal(err)
			}
		}, "symbolic links"},
		{"link out of the repository", func(t *testing.T, ref string) {
			if err := os.Symlink(outside, ref); err != nil {
				t.Fatal(err)
			}
		}, ""}, // billy's own words: "chroot boundary crossed"
		{"sparse 256 MiB", func(t *testing.T, ref string) {
			f, err := os.Create(ref)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if err := f.Truncate(256 << 20); err != nil {
				t.Skipf("no sparse file here: %v", err)
			}
		}, "larger than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := initRepo(t)
			key := testkit.NewKey(t, patterns.Production)
			commit(t, d, "one", "a.txt", "k="+key+"\n")
			tt.make(t, filepath.Join(d, ".git", "refs", "heads", "bad"))
			for _, noBin := range []bool{false, true} {
				got := scanRepo(t, d, Options{NoGitBinary: noBin})
				f, ok := got.byFP[patterns.Fingerprint([]byte(key))]
				if !ok || len(f.Locations) != 1 || f.Locations[0].Commit == "" {
					t.Errorf("no-git-binary=%v: key not placed in its commit: %s", noBin, summary(got))
				}
				if !slices.ContainsFunc(got.res.Skipped, func(s finding.Skip) bool {
					return s.Where == "ref refs/heads/bad" && s.Reason != "" && strings.Contains(s.Reason, tt.why)
				}) {
					t.Errorf("no-git-binary=%v: the bad ref is not reported (%q): %+v", noBin, tt.why, got.res.Skipped)
				}
			}
		})
	}
}

// TestOversizedRepositoryFiles: a shallow file or a reflog larger than git
// ever writes (a sparse file claims any size for free) is refused before
// it is read, and reported; the rest of the scan goes on. Each was read
// whole: a sparse shallow file of 900 MB cost 12 s and 2.9 GB.
func TestOversizedRepositoryFiles(t *testing.T) {
	tests := []struct {
		file  string
		size  int64
		opts  Options
		where string
	}{
		{"shallow", maxShallowFile + 1, Options{}, "shallow"},
		{"logs/refs/stash", maxReflogFile + 1, Options{}, "stash"},
		{"logs/HEAD", maxReflogFile + 1, Options{Reflog: true}, "reflog logs/HEAD"},
	}
	for _, tt := range tests {
		t.Run(tt.where, func(t *testing.T) {
			d := initRepo(t)
			key := testkit.NewKey(t, patterns.Production)
			commit(t, d, "one", "a.txt", "k="+key+"\n")
			p := filepath.Join(d, ".git", filepath.FromSlash(tt.file))
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.Truncate(p, tt.size); err != nil {
				if f, cerr := os.Create(p); cerr != nil || f.Truncate(tt.size) != nil {
					t.Skipf("no sparse file here: %v", err)
				}
			}
			for _, noBin := range []bool{false, true} {
				opts := tt.opts
				opts.NoGitBinary = noBin
				got := scanRepo(t, d, opts)
				f, ok := got.byFP[patterns.Fingerprint([]byte(key))]
				if !ok || len(f.Locations) != 1 || f.Locations[0].Commit == "" {
					t.Errorf("no-git-binary=%v: key not placed in its commit: %s", noBin, summary(got))
				}
				if !slices.ContainsFunc(got.res.Skipped, func(s finding.Skip) bool {
					return s.Where == tt.where && strings.Contains(s.Reason, "larger than")
				}) {
					t.Errorf("no-git-binary=%v: %s not reported as too large: %+v", noBin, tt.file, got.res.Skipped)
				}
			}
		})
	}
}

// TestReadRegularRefusesBeforeReading: a file above the limit costs a
// stat, not a read.
func TestReadRegularRefusesBeforeReading(t *testing.T) {
	p := filepath.Join(t.TempDir(), "config")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(256 << 20); err != nil {
		t.Skipf("no sparse file here: %v", err)
	}
	f.Close()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err = readRegular(p, maxConfigFile)
	runtime.ReadMemStats(&after)
	if err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Fatalf("err %v, want larger than", err)
	}
	if n := after.TotalAlloc - before.TotalAlloc; n > 1<<20 {
		t.Errorf("refusing it allocated %d bytes: it was read", n)
	}
}
