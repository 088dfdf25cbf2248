package org

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
)

// Mirror keeps bare copies of repositories under Dir, one per repository
// at Dir/OWNER/NAME.git, fetched to the disk (never into memory) with the
// git binary, hardened (gitfetch.go), or with go-git where there is none.
type Mirror struct {
	Dir string
	// Token authenticates fetches ("x-access-token" basic auth, as GitHub
	// takes installation and Actions tokens), sent only to TokenHosts.
	Token string
	// TokenHosts are the host names (no port) the token may go to: the
	// GitHub host the API belongs to. Others are fetched anonymously.
	TokenHosts []string
	// NoGitBinary fetches with go-git even where a git binary is on PATH.
	NoGitBinary bool

	gitPath string // for tests: the git executable to run
}

// fetchRefSpec mirrors every ref: branches, tags, pull requests' refs,
// notes.
const fetchRefSpec = "+refs/*:refs/*"

// Sync fetches r into its bare mirror, creating it if needed, and returns
// the mirror's path and ref tips (ref name → object id).
func (m *Mirror) Sync(ctx context.Context, r Repo) (string, map[string]string, error) {
	u, err := checkCloneURL(r.CloneURL)
	if err != nil {
		return "", nil, err
	}
	dir := filepath.Join(m.Dir, filepath.FromSlash(r.FullName)+".git")
	if gitPath, err := m.gitBinary(); err == nil {
		return m.syncGit(ctx, gitPath, dir, u, r)
	}
	repo, err := openOrInit(dir)
	if err != nil {
		return "", nil, err
	}
	remote := git.NewRemote(repo.Storer, &config.RemoteConfig{Name: "origin", URLs: []string{r.CloneURL}})
	err = remote.FetchContext(ctx, &git.FetchOptions{
		RefSpecs: []config.RefSpec{fetchRefSpec},
		Auth:     m.auth(u),
		Tags:     git.AllTags,
		Force:    true,
		Prune:    true,
	})
	switch {
	case err == nil, errors.Is(err, git.NoErrAlreadyUpToDate), errors.Is(err, transport.ErrEmptyRemoteRepository):
	default:
		return "", nil, cleanErr(err, r.CloneURL)
	}
	tips, err := finish(repo, r)
	if err != nil {
		return "", nil, err
	}
	// A fetch cut short (a server that fails while packing) can leave refs
	// to objects that never arrived; such a mirror would never ask for
	// them again, so it is dropped and the next run fetches afresh.
	for name, id := range tips {
		if repo.Storer.HasEncodedObject(plumbing.NewHash(id)) != nil {
			os.RemoveAll(dir)
			return "", nil, fmt.Errorf("incomplete: %s points to %s, which did not arrive", name, id)
		}
	}
	return dir, tips, nil
}

// syncGit is Sync with the git binary. git updates refs only once the
// objects they need have arrived and are connected, so a fetch cut short
// leaves the mirror as it was.
func (m *Mirror) syncGit(ctx context.Context, gitPath, dir string, u *url.URL, r Repo) (string, map[string]string, error) {
	if err := m.gitFetch(ctx, gitPath, dir, u); err != nil {
		return "", nil, cleanErr(err, r.CloneURL)
	}
	repo, err := git.PlainOpen(dir)
	if err != nil {
		return "", nil, fmt.Errorf("open mirror: %w", err)
	}
	tips, err := finish(repo, r)
	if err != nil {
		return "", nil, err
	}
	return dir, tips, nil
}

// finish points the mirror's HEAD at the default branch and returns its
// ref tips.
func finish(repo *git.Repository, r Repo) (map[string]string, error) {
	if r.DefaultBranch != "" {
		head := plumbing.NewSymbolicReference(plumbing.HEAD, plumbing.NewBranchReferenceName(r.DefaultBranch))
		if err := repo.Storer.SetReference(head); err != nil {
			return nil, fmt.Errorf("set HEAD: %w", err)
		}
	}
	return refTips(repo)
}

// openOrInit opens the bare mirror at dir, or starts it; a mirror that
// cannot be opened (a half-written first fetch) is started afresh.
func openOrInit(dir string) (*git.Repository, error) {
	repo, err := git.PlainOpen(dir)
	if err == nil {
		return repo, nil
	}
	if !errors.Is(err, git.ErrRepositoryNotExists) {
		if err := os.RemoveAll(dir); err != nil {
			return nil, fmt.Errorf("reset mirror: %w", err)
		}
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return nil, fmt.Errorf("create mirror: %w", err)
	}
	repo, err = git.PlainInit(dir, true)
	if err != nil {
		return nil, fmt.Errorf("create mirror: %w", err)
	}
	return repo, nil
}

// refTips lists every ref of the mirror that names an object directly.
func refTips(repo *git.Repository) (map[string]string, error) {
	it, err := repo.Storer.IterReferences()
	if err != nil {
		return nil, fmt.Errorf("read refs: %w", err)
	}
	tips := map[string]string{}
	err = it.ForEach(func(ref *plumbing.Reference) error {
		if ref.Type() == plumbing.HashReference {
			tips[ref.Name().String()] = ref.Hash().String()
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read refs: %w", err)
	}
	return tips, nil
}

func (m *Mirror) auth(u *url.URL) transport.AuthMethod {
	if m.Token == "" || !slices.Contains(m.TokenHosts, strings.ToLower(u.Hostname())) {
		return nil
	}
	return &githttp.BasicAuth{Username: "x-access-token", Password: m.Token}
}

// checkCloneURL accepts https, and plain http only to a loopback host (a
// test server, a local proxy): a token or a repository's contents never
// cross a network in the clear. Credentials in the URL are refused.
func checkCloneURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("clone URL %q: not an absolute URL", raw)
	}
	switch u.Scheme {
	case "https":
		if u.User != nil {
			return nil, errors.New("clone URL carries credentials; refusing it")
		}
		return u, nil
	case "http":
		if u.User != nil {
			return nil, errors.New("clone URL carries credentials; refusing it")
		}
		if isLoopback(u.Hostname()) {
			return u, nil
		}
		return nil, fmt.Errorf("clone URL %s: plain http only to a loopback host", u.Redacted())
	}
	return nil, fmt.Errorf("clone URL %s: scheme %q not supported (https)", u.Redacted(), u.Scheme)
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// cleanErr keeps an error short and free of the URL's query string.
func cleanErr(err error, cloneURL string) error {
	msg := err.Error()
	if u, perr := url.Parse(cloneURL); perr == nil && u.RawQuery != "" {
		msg = strings.ReplaceAll(msg, cloneURL, u.Redacted())
	}
	msg = strings.TrimRight(strings.Join(strings.Fields(msg), " "), ": ")
	if msg == err.Error() {
		return err
	}
	return errors.New(msg)
}

// TokenHosts derives the hosts a GitHub token belongs to from the API base
// URL: the API host itself and, for api.HOST (github.com's API), HOST.
func TokenHosts(apiBase string) []string {
	u, err := url.Parse(apiBase)
	if err != nil || u.Hostname() == "" {
		return nil
	}
	h := strings.ToLower(u.Hostname())
	out := []string{h}
	if rest, ok := strings.CutPrefix(h, "api."); ok {
		out = append(out, rest)
	}
	return out
}
