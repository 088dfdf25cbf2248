package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strings"
	"sync"

	"github.com/atomyx/atomyx-guard/internal/config"
	"github.com/atomyx/atomyx-guard/internal/finding"
	"github.com/atomyx/atomyx-guard/patterns"
	"github.com/atomyx/atomyx-guard/scanner"
)

// A range scan (git --range, the Action on a pull request, a merge queue
// or a push) gates a change. The change must not be able to open its own
// gate, so what allows a key comes from the base side only:
//
//   - the allowlist and policy are the base commit's .atomyx-guard.toml
//     (unless the operator names a file with --config); a change to that
//     file is reported and takes effect once it is on the base;
//   - an inline atomyx-guard:allow marker counts only where the base
//     already has it beside the same key in the same file; one the change
//     adds is reported as "allowed by the change itself" and still fails.

// fileReader reads a file as a commit has it; gitsource.Repo is one.
type fileReader interface {
	FileAt(ctx context.Context, rev, path string, max int64) ([]byte, error)
}

// maxMarkerFile bounds the base file read to confirm a marker: a file too
// large to read is a marker not confirmed (the key fails the gate).
const maxMarkerFile = 16 << 20

// rangeEnds splits "A..B" as gitsource does (an empty side is HEAD).
func rangeEnds(r string) (base, head string, ok bool) {
	a, b, ok := strings.Cut(r, "..")
	if !ok || strings.HasPrefix(b, ".") {
		return "", "", false
	}
	if a == "" {
		a = "HEAD"
	}
	if b == "" {
		b = "HEAD"
	}
	return a, b, true
}

// baseConfig reads the configuration of commit base, and says in warnings
// whether head changes it and what it would add.
func baseConfig(ctx context.Context, repo fileReader, base, head string) (*config.Config, []string, error) {
	baseData, err := repo.FileAt(ctx, base, config.FileName, config.MaxSize)
	var cfg *config.Config
	switch {
	case errors.Is(err, fs.ErrNotExist):
		baseData, cfg = nil, config.Default()
	case err != nil:
		return nil, nil, fmt.Errorf("the base's %s: %w", config.FileName, err)
	default:
		if cfg, err = config.Parse(baseData); err != nil {
			return nil, nil, fmt.Errorf("the base's %s (at %s): %w", config.FileName, base, err)
		}
	}
	headData, herr := repo.FileAt(ctx, head, config.FileName, config.MaxSize)
	if errors.Is(herr, fs.ErrNotExist) {
		headData, herr = nil, nil
	}
	if herr == nil && bytes.Equal(baseData, headData) {
		return cfg, nil, nil
	}
	msg := fmt.Sprintf("This change modifies %s: the scan used the base's (at %s); the change's allowlist and policy take effect only after it is merged",
		config.FileName, shortRev(base))
	if herr == nil && headData != nil {
		if next, err := config.Parse(headData); err == nil {
			if adds := allowAdditions(cfg, next); adds != "" {
				msg += "; not applied here: it adds " + adds
			}
		}
	}
	return cfg, []string{patterns.RedactRuns(msg)}, nil
}

// allowAdditions says what next allows that cfg does not.
func allowAdditions(cfg, next *config.Config) string {
	var parts []string
	var paths []string
	for _, p := range next.AllowPaths {
		if !slices.Contains(cfg.AllowPaths, p) {
			paths = append(paths, fmt.Sprintf("%q", p))
		}
	}
	if len(paths) > 0 {
		parts = append(parts, "allow.paths "+strings.Join(paths, ", "))
	}
	var fps []string
	for _, k := range next.AllowKeys {
		if !slices.ContainsFunc(cfg.AllowKeys, func(o config.AllowedKey) bool { return o.Fingerprint == k.Fingerprint }) {
			fps = append(fps, k.Fingerprint)
		}
	}
	if len(fps) > 0 {
		parts = append(parts, "allow.fingerprints "+strings.Join(fps, ", "))
	}
	return strings.Join(parts, " and ")
}

func shortRev(r string) string {
	if len(r) == 40 || len(r) == 64 {
		return r[:12]
	}
	return r
}

// baseMarkers returns a function that, for a range scan, takes back the
// inline markers the change added itself: a location allowed by a marker
// stays allowed only when the base's file at the same path has the same
// key beside a marker too.
func baseMarkers(repo fileReader, base string) func(context.Context, []finding.Finding) ([]finding.Finding, []string) {
	return func(ctx context.Context, found []finding.Finding) ([]finding.Finding, []string) {
		var (
			warnings []string
			byPath   = map[string]map[string]bool{} // path -> fingerprints with a marker on the base
		)
		marked := func(path string) map[string]bool {
			if m, ok := byPath[path]; ok {
				return m
			}
			m := map[string]bool{}
			byPath[path] = m
			data, err := repo.FileAt(ctx, base, path, maxMarkerFile)
			if err != nil {
				return m
			}
			sink := &markerSink{fps: m}
			(&scanner.Detector{}).ScanBytes(data, finding.Location{Path: path}, sink)
			return m
		}
		out := make([]finding.Finding, len(found))
		for i, f := range found {
			f.Locations = slices.Clone(f.Locations)
			for j := range f.Locations {
				l := &f.Locations[j]
				if !strings.HasPrefix(l.Allowed, "inline ") {
					continue
				}
				if l.Kind == finding.KindBlob && l.Path != "" && marked(l.Path)[f.Fingerprint] {
					continue
				}
				l.Allowed = ""
				where := l.Path
				if where == "" {
					where = "the message of commit " + shortRev(l.Commit)
				} else if l.Line > 0 {
					where = fmt.Sprintf("%s:%d", where, l.Line)
				}
				warnings = append(warnings, patterns.RedactRuns(fmt.Sprintf(
					"%s: key %s is marked %s, allowed by the change itself: it still fails this check; "+
						"a marker counts once it is on the base (after review and merge), or allowlist the key in the base's %s",
					where, f.Redacted, scanner.AllowMarker, config.FileName)))
			}
			out[i] = f
		}
		return out, warnings
	}
}

// markerSink notes the fingerprints the detector found allowed by a
// marker.
type markerSink struct {
	mu  sync.Mutex
	fps map[string]bool
}

func (s *markerSink) Hit(h finding.Hit) {
	if h.Location.Allowed == "" {
		return
	}
	s.mu.Lock()
	s.fps[h.Fingerprint] = true
	s.mu.Unlock()
}

func (s *markerSink) NearMiss(finding.NearMiss) {}

// noMarkers takes back every inline marker: for a change under review
// with no base to compare with.
func noMarkers(_ context.Context, found []finding.Finding) ([]finding.Finding, []string) {
	out := make([]finding.Finding, len(found))
	for i, f := range found {
		f.Locations = slices.Clone(f.Locations)
		for j := range f.Locations {
			if strings.HasPrefix(f.Locations[j].Allowed, "inline ") {
				f.Locations[j].Allowed = ""
			}
		}
		out[i] = f
	}
	return out, nil
}
