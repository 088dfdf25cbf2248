package responder

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/url"
	"path"
	"strings"

	"github.com/atomyx/atomyx-guard/internal/finding"
	"github.com/atomyx/atomyx-guard/internal/ghapi"
)

type visibility struct {
	private bool
	why     string
}

// exposure decides whether a key was exposed publicly, conservatively: a
// deployed site, a bundle, a file or stdin of unknown origin, or a
// repository whose visibility is unknown all count as public. Only git
// locations in a repository known to be private (configured, or as GitHub
// says) may keep the grace of a private leak.
func (r *Responder) exposure(ctx context.Context, locs []finding.Location) (public bool, why string) {
	if len(locs) == 0 {
		return true, "no location known"
	}
	for _, l := range locs {
		switch l.Source {
		case finding.SourceURL:
			return true, "found on a deployed site " + l.URL
		case finding.SourceGit:
			if v := r.repoVisibility(ctx); !v.private {
				return true, v.why
			}
		default:
			if isBundle(l.Path) {
				return true, "found in a bundle " + l.Path
			}
			return true, fmt.Sprintf("found in %s %s, whose audience is unknown", l.Source, l.Path)
		}
	}
	return false, r.repoVisibility(ctx).why
}

func (r *Responder) repoVisibility(ctx context.Context) visibility {
	repo := r.cfg.Repo
	if v, ok := r.vis[repo]; ok {
		return v
	}
	v := r.lookupVisibility(ctx)
	r.vis[repo] = v
	return v
}

func (r *Responder) lookupVisibility(ctx context.Context) visibility {
	name := r.cfg.Repo
	if name == "" {
		name = "the scanned repository"
	}
	switch r.cfg.Visibility {
	case "private":
		return visibility{true, name + " is private (configured)"}
	case "public":
		return visibility{false, name + " is public (configured)"}
	}
	if r.cfg.Repo == "" || r.cfg.GitHub == nil {
		return visibility{false, "found in git history of a repository whose visibility is unknown"}
	}
	repo, err := ghapi.ParseRepo(r.cfg.Repo)
	if err != nil {
		return visibility{false, "found in " + r.cfg.Repo + ", whose visibility is unknown"}
	}
	v, err := r.cfg.GitHub.RepoVisibility(ctx, repo)
	if err != nil {
		return visibility{false, "found in " + r.cfg.Repo + ", whose visibility GitHub did not tell"}
	}
	if v.Private {
		return visibility{true, r.cfg.Repo + " is private (GitHub)"}
	}
	return visibility{false, "found in the public repository " + r.cfg.Repo}
}

// isBundle reports whether a path is shipped to browsers or clients.
func isBundle(p string) bool {
	p = strings.ToLower(p)
	if i := strings.LastIndex(p, "!"); i >= 0 {
		p = p[i+1:]
	}
	switch path.Ext(p) {
	case ".js", ".mjs", ".cjs", ".map", ".html", ".htm", ".css", ".wasm", ".apk", ".ipa", ".jar", ".vsix", ".crx", ".xpi":
		return true
	}
	for _, d := range []string{"dist/", "build/", "public/", "static/", "out/", ".next/"} {
		if strings.HasPrefix(p, d) || strings.Contains(p, "/"+d) {
			return true
		}
	}
	return false
}

// locationID names a location stably, for the hidden markers that let a
// later run tell which locations an issue already lists.
func locationID(l finding.Location) string {
	var orig string
	if l.Original != nil {
		orig = fmt.Sprintf("%s:%d:%d", l.Original.Path, l.Original.Line, l.Original.Column)
	}
	s := strings.Join([]string{l.Source, l.Kind, l.Path, l.URL, fmt.Sprint(l.Line), fmt.Sprint(l.Column), l.Commit, l.Tag, l.Blob, orig}, "\x00")
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:6])
}

// newLocations returns the locations of found that have is not listed.
func newLocations(have, found []finding.Location) []finding.Location {
	seen := map[string]bool{}
	for _, l := range have {
		seen[locationID(l)] = true
	}
	var out []finding.Location
	for _, l := range found {
		if id := locationID(l); !seen[id] {
			seen[id] = true
			out = append(out, l)
		}
	}
	return out
}

// links returns the web links of a location: the file at the commit and
// the commit, or the URL as given.
func links(server, repo string, l finding.Location) (file, commit string) {
	if l.Source == finding.SourceURL {
		return l.URL, ""
	}
	if l.Source != finding.SourceGit || repo == "" || l.Commit == "" {
		return "", ""
	}
	base := server + "/" + repo
	commit = base + "/commit/" + url.PathEscape(l.Commit)
	if l.Kind == "" || l.Kind == finding.KindBlob {
		p := l.Path
		if i := strings.Index(p, "!"); i >= 0 {
			p = p[:i] // an archive member: link the archive
		}
		if p != "" {
			segs := strings.Split(p, "/")
			for i, s := range segs {
				segs[i] = url.PathEscape(s)
			}
			file = base + "/blob/" + url.PathEscape(l.Commit) + "/" + strings.Join(segs, "/")
			if l.Line > 0 && !strings.Contains(l.Path, "!") {
				file += fmt.Sprintf("#L%d", l.Line)
			}
		}
	}
	return file, commit
}

// evidence is the link sent with a revocation: the first location's.
func evidence(server, repo string, locs []finding.Location) string {
	for _, l := range locs {
		file, commit := links(server, repo, l)
		if commit != "" {
			return commit
		}
		if file != "" {
			return file
		}
	}
	return ""
}
