package config

import (
	"errors"
	"path"
	"strings"
)

// glob is a compiled path pattern: segments matched one by one with
// path.Match, "**" matching any number of segments (none included).
type glob struct {
	segs []string
	// base marks a pattern without '/', matched against the base name at
	// any depth, as in .gitignore ("*.min.js").
	base bool
}

// compileGlob checks and splits a pattern. Patterns are slash paths from
// the repository root; a leading "/" or "./" is dropped, and a trailing "/"
// means everything under the directory.
func compileGlob(p string) (glob, error) {
	orig := p
	p = strings.TrimPrefix(strings.TrimPrefix(p, "./"), "/")
	if strings.HasSuffix(p, "/") {
		p += "**"
	}
	if p == "" {
		return glob{}, errors.New("empty pattern")
	}
	if strings.Contains(orig, `\`) {
		return glob{}, errors.New(`use "/" in path patterns, not "\"`)
	}
	segs := strings.Split(p, "/")
	for _, s := range segs {
		if s == "" || s == "." || s == ".." {
			return glob{}, errors.New("empty, \".\" or \"..\" path segment")
		}
		if strings.Contains(s, "**") && s != "**" {
			return glob{}, errors.New(`"**" must be a whole path segment ("a/**/b")`)
		}
		if _, err := path.Match(s, ""); err != nil {
			return glob{}, errors.New("malformed pattern (check [ ] ranges)")
		}
	}
	return glob{segs: segs, base: len(segs) == 1 && segs[0] != "**"}, nil
}

// match reports whether a slash path matches.
func (g glob) match(p string) bool { return g.matchSplit(splitPath(p)) }

// splitPath normalises a slash path and splits it into segments; nil for
// an empty path.
func splitPath(p string) []string {
	p = strings.TrimPrefix(strings.TrimPrefix(p, "./"), "/")
	if p == "" {
		return nil
	}
	return strings.Split(p, "/")
}

func (g glob) matchSplit(segs []string) bool {
	if len(segs) == 0 {
		return false
	}
	if g.base {
		segs = segs[len(segs)-1:]
	}
	return matchSegs(g.segs, segs)
}

func matchSegs(pat, segs []string) bool {
	for len(pat) > 0 {
		if pat[0] == "**" {
			// Collapse runs of "**"; then try every split.
			for len(pat) > 0 && pat[0] == "**" {
				pat = pat[1:]
			}
			if len(pat) == 0 {
				return true
			}
			for i := range segs {
				if matchSegs(pat, segs[i:]) {
					return true
				}
			}
			return false
		}
		if len(segs) == 0 {
			return false
		}
		if ok, _ := path.Match(pat[0], segs[0]); !ok {
			return false
		}
		pat, segs = pat[1:], segs[1:]
	}
	return len(segs) == 0
}

// locationPaths splits a location's path for matching: the whole path,
// and for archive members ("outer.zip!inner/file") each part too.
func locationPaths(p string) [][]string {
	out := [][]string{splitPath(p)}
	if strings.Contains(p, "!") {
		for _, part := range strings.Split(p, "!") {
			out = append(out, splitPath(part))
		}
	}
	if rest, ok := inRepo(p); ok {
		out = append(out, locationPaths(rest)...)
	}
	return out
}

// inRepo strips the "OWNER/NAME:" that org scans put before a path
// (docs/org-scans.md), so that a repository's patterns ("testdata/**")
// hold in an org scan too.
func inRepo(p string) (string, bool) {
	i := strings.IndexByte(p, ':')
	if i < 0 {
		return "", false
	}
	owner, name, ok := strings.Cut(p[:i], "/")
	if !ok || owner == "" || name == "" || strings.ContainsAny(name, "/!") || strings.ContainsAny(owner, "!") {
		return "", false
	}
	return p[i+1:], true
}

// matchLocationPath reports whether g matches any of locationPaths(p).
func (g glob) matchLocationPath(p string) bool {
	for _, segs := range locationPaths(p) {
		if g.matchSplit(segs) {
			return true
		}
	}
	return false
}
