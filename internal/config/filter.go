package config

import (
	"slices"

	"github.com/atomyx/atomyx-guard/internal/finding"
)

// Filter splits findings into those to report and those allowed. A key
// allowed by fingerprint is allowed everywhere. Otherwise each location is
// allowed by an inline marker (its Allowed field, set by the detector) or a
// path glob; a finding whose every location is allowed is allowed, and the
// others lose their allowed locations. Allowed locations carry the reason
// in their Allowed field. The input is not modified.
func (c *Config) Filter(findings []finding.Finding) (kept, allowed []finding.Finding) {
	for _, f := range findings {
		locs := slices.Clone(f.Locations)
		if reason, ok := c.allowFP[f.Fingerprint]; ok {
			for i := range locs {
				locs[i].Allowed = "fingerprint in config: " + reason
			}
			f.Locations = locs
			allowed = append(allowed, f)
			continue
		}
		var keep []finding.Location
		for i := range locs {
			if locs[i].Allowed == "" {
				if g := c.pathAllowing(locs[i].RepoPath()); g != "" {
					locs[i].Allowed = "path in config: " + g
				}
			}
			if locs[i].Allowed == "" {
				keep = append(keep, locs[i])
			}
		}
		if len(keep) == 0 && len(locs) > 0 {
			f.Locations = locs
			allowed = append(allowed, f)
			continue
		}
		f.Locations = keep
		if f.Locations == nil {
			f.Locations = []finding.Location{}
		}
		kept = append(kept, f)
	}
	return kept, allowed
}

// pathAllowing returns the first pattern matching p, or "".
func (c *Config) pathAllowing(p string) string {
	if p == "" {
		return ""
	}
	paths := locationPaths(p) // split once, not per pattern
	for i, g := range c.globs {
		for _, segs := range paths {
			if g.matchSplit(segs) {
				return c.AllowPaths[i]
			}
		}
	}
	return ""
}

// AllowsPath reports whether a path is allowed by a glob, so that sources
// can skip reading it at all.
func (c *Config) AllowsPath(p string) bool { return c.pathAllowing(p) != "" }
