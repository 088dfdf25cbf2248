package gitsource

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/atomyx/atomyx-guard/patterns"
	"github.com/go-git/go-billy/v5"
	"github.com/go-git/go-billy/v5/osfs"
	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing/cache"
	gitconfig "github.com/go-git/go-git/v5/plumbing/format/config"
	"github.com/go-git/go-git/v5/storage/filesystem"
	"github.com/go-git/go-git/v5/storage/filesystem/dotgit"
)

// ErrNotRepository is returned by Open for a path that is not inside a git
// repository.
var ErrNotRepository = errors.New("not a git repository")

// largeBlob is the size above which a blob is streamed rather than read
// into memory.
const largeBlob = 32 << 20

// Repo is an opened repository: its git directory and a go-git view of it.
type Repo struct {
	// GitDir is the repository's git directory (".git" of a work tree, or
	// the bare repository itself); CommonDir differs for linked work trees.
	GitDir, CommonDir string
	// WorkTree is the work tree's root, "" for a bare repository.
	WorkTree string

	repo    *git.Repository
	storage *filesystem.Storage
	// realRoots are roots(), resolved once by Open.
	realRoots []string
	// large overrides largeBlob in tests.
	large int64
	// guards are the filesystems go-git reads through (two for a linked
	// work tree); Scan sets whether they follow alternates.
	guards []*guardFS
	// gitTimeout, when set, overrides the deadline of each git child.
	gitTimeout time.Duration
	// onGit and onTree, when set, are told each git child's subcommand
	// and each HEAD tree the go-git staged reading loads (tests: the
	// work follows the change). onGit may be called concurrently.
	onGit  func(sub string)
	onTree func(dir string)
	// minPart, when set, overrides defaultMinPart (tests: small repositories
	// read in parallel).
	minPart int64
	// noPacks, when set, has git read the packs (tests: both ways agree).
	noPacks bool
}

// Close releases the files the repository holds open (pack files, their
// indexes). The Repo must not be used after.
func (r *Repo) Close() error {
	if r == nil || r.storage == nil {
		return nil
	}
	return r.storage.Close()
}

// Open opens the repository that holds path: a work tree (or any directory
// inside one) or a bare repository.
func Open(ctx context.Context, path string) (*Repo, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	if _, err := os.Stat(abs); err != nil {
		return nil, fmt.Errorf("open repository: %w", err)
	}
	gitDir, workTree, err := discover(abs)
	if err != nil {
		return nil, err
	}
	common := gitDir
	if b, err := readRegular(filepath.Join(gitDir, "commondir"), maxSmallFile); err == nil {
		c := strings.TrimSpace(string(b))
		if !filepath.IsAbs(c) {
			c = filepath.Join(gitDir, c)
		}
		common = filepath.Clean(c)
	}
	r := &Repo{GitDir: gitDir, CommonDir: common, WorkTree: workTree, large: largeBlob}
	roots := r.roots()
	r.realRoots = roots
	r.guards = []*guardFS{{Filesystem: osfs.New(gitDir), roots: roots}}
	var dfs billy.Filesystem = r.guards[0]
	if common != gitDir {
		r.guards = append(r.guards, &guardFS{Filesystem: osfs.New(common), roots: roots})
		dfs = dotgit.NewRepositoryFilesystem(r.guards[0], r.guards[1])
	}
	st := filesystem.NewStorageWithOptions(dfs, cache.NewObjectLRUDefault(), filesystem.Options{
		LargeObjectThreshold: largeBlob,
		MaxOpenDescriptors:   64,
		// Read only when a scan asks for alternates (guardFS refuses the
		// alternates file otherwise).
		AlternatesFS: osfs.New("/"),
	})
	repo, err := git.Open(st, nil)
	if err != nil {
		return nil, fmt.Errorf("open repository %s: %w", gitDir, err)
	}
	if err := checkExtensions(r.commonPath("config")); err != nil {
		return nil, fmt.Errorf("open repository %s: %w", gitDir, err)
	}
	r.repo, r.storage = repo, st
	return r, nil
}

// configValue is a value from a scanned repository's config as an error
// may quote it: short, and with any key in it redacted.
func configValue(v string) string {
	if len(v) > 40 {
		v = v[:40] + "…"
	}
	return patterns.RedactRuns(v)
}

// checkExtensions refuses a repository that declares what no reader here
// follows: objects named by another hash than SHA-1 (git init
// --object-format=sha256) or refs kept in a reftable (git init
// --ref-format=reftable). Every reader here takes ids for SHA-1 and reads
// refs from files, and would find nothing, or no refs, rather than say
// why. go-git sees the shadow config, not the repository's, so the
// repository's is read here, and parsed only when it names either.
func checkExtensions(config string) error {
	b, err := readRegular(config, maxConfigFile)
	if err != nil {
		// No config: git's defaults. Or one larger than git ever writes,
		// not read: the scan goes on, and a repository it cannot read
		// says so then.
		return nil
	}
	if low := bytes.ToLower(b); !bytes.Contains(low, []byte("objectformat")) && !bytes.Contains(low, []byte("refstorage")) {
		return nil
	}
	var cfg gitconfig.Config
	if err := gitconfig.NewDecoder(bytes.NewReader(b)).Decode(&cfg); err != nil {
		return nil // git refuses it too, and says why
	}
	ext := cfg.Section("extensions").Options
	if f := ext.Get("objectformat"); f != "" && !strings.EqualFold(f, "sha1") {
		return fmt.Errorf("objects named by %q (extensions.objectFormat): only SHA-1 repositories are read, so nothing is scanned", configValue(f))
	}
	if f := ext.Get("refstorage"); f != "" && !strings.EqualFold(f, "files") {
		return fmt.Errorf("refs kept in %q (extensions.refStorage): only refs in files are read, so nothing is scanned", configValue(f))
	}
	return nil
}

// discover finds the git directory for abs, walking up as git does.
func discover(abs string) (gitDir, workTree string, err error) {
	for dir := abs; ; {
		dotGit := filepath.Join(dir, ".git")
		if fi, err := os.Stat(dotGit); err == nil {
			if fi.IsDir() && isGitDir(dotGit) {
				return dotGit, dir, nil
			}
			if fi.Mode().IsRegular() {
				g, err := readGitFile(dotGit)
				if err != nil {
					return "", "", err
				}
				return g, dir, nil
			}
		}
		if isGitDir(dir) {
			return dir, "", nil // bare
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", "", fmt.Errorf("%w (nor any parent up to /): %s", ErrNotRepository, abs)
		}
		dir = parent
	}
}

// isGitDir reports whether dir looks like a git directory: HEAD, objects
// and refs (or a commondir that holds them).
func isGitDir(dir string) bool {
	if !isFile(filepath.Join(dir, "HEAD")) {
		return false
	}
	if isFile(filepath.Join(dir, "commondir")) {
		return true
	}
	return isDir(filepath.Join(dir, "objects")) && isDir(filepath.Join(dir, "refs"))
}

// readGitFile follows a ".git" file ("gitdir: <path>") of a linked work
// tree or a submodule.
func readGitFile(p string) (string, error) {
	b, err := readRegular(p, maxSmallFile)
	if err != nil {
		return "", fmt.Errorf("read %s: %w", p, err)
	}
	line, _, _ := bytes.Cut(b, []byte("\n"))
	rest, ok := bytes.CutPrefix(bytes.TrimSpace(line), []byte("gitdir:"))
	if !ok {
		return "", fmt.Errorf("%w: %s is not a gitdir file", ErrNotRepository, p)
	}
	g := strings.TrimSpace(string(rest))
	if !filepath.IsAbs(g) {
		g = filepath.Join(filepath.Dir(p), g)
	}
	if !isGitDir(g) {
		return "", fmt.Errorf("%w: %s points to %s", ErrNotRepository, p, g)
	}
	return filepath.Clean(g), nil
}

func isFile(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular()
}

func isDir(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}

// Bounds of the files read whole, far above what git writes (a shallow
// file of a million commits is 41 MB) and far below what a sparse file
// can claim: a larger one is refused, not read.
const (
	maxControlFile = 1 << 30   // an index
	maxReflogFile  = 256 << 20 // a reflog
	maxShallowFile = 64 << 20
	maxConfigFile  = 4 << 20
)

// commonPath names a file of the shared part of the git directory.
func (r *Repo) commonPath(elem ...string) string {
	return filepath.Join(append([]string{r.CommonDir}, elem...)...)
}

// shallow returns the shallow boundary commits (the "shallow" file).
func (r *Repo) shallow() (map[string]bool, error) {
	b, err := readRegular(r.commonPath("shallow"), maxShallowFile)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read shallow file: %w", err)
	}
	return parseShallow(b), nil
}

// parseShallow reads the shallow file: one commit id a line.
func parseShallow(b []byte) map[string]bool {
	out := map[string]bool{}
	for _, l := range strings.Fields(string(b)) {
		if h, ok := parseHex(l); ok {
			out[h.String()] = true
		}
	}
	return out
}
