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
func (g glob) match(p string) bool {
	p = strings.TrimPrefix(strings.TrimPrefix(p, "./"), "/")
	if p == "" {
		return false
	}
	if g.base {
		p = path.Base(p)
	}
	return matchSegs(g.segs, strings.Split(p, "/"))
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

// matchLocationPath matches a location's path against g: the whole path,
// and for archive members ("outer.zip!inner/file") each part.
func (g glob) matchLocationPath(p string) bool {
	if g.match(p) {
		return true
	}
	if !strings.Contains(p, "!") {
		return false
	}
	for _, part := range strings.Split(p, "!") {
		if g.match(part) {
			return true
		}
	}
	return false
}
