package finding

import (
	"cmp"
	"slices"
	"sync"
)

// Status is what the Vault says of a key, or "unverified" when nobody asked.
type Status string

const (
	Unverified Status = "unverified"
	Active     Status = "active"
	Revoked    Status = "revoked"
	Expired    Status = "expired"
	Unknown    Status = "unknown" // never issued
)

// Location kinds.
const (
	KindBlob          = "blob"
	KindCommitMessage = "commit-message"
	KindTagMessage    = "tag-message"
	// KindRef is a key in a ref's name (a branch or tag named with a key);
	// Path holds the ref's name, masked, and Commit what it points to.
	KindRef = "ref"
)

// Location sources.
const (
	SourceGit   = "git"
	SourceFile  = "file"
	SourceStdin = "stdin"
	SourceURL   = "url"
)

// Location is one place a key was seen. Fields that do not apply stay empty
// and are omitted from JSON.
type Location struct {
	Source string `json:"source"`
	Kind   string `json:"kind,omitempty"`
	// Repo is the repository, OWNER/NAME, of a location found by an org
	// scan; empty otherwise (a scan of one repository does not say it).
	Repo string `json:"repo,omitempty"`
	// Path is a file path, a git path, or for archive members "outer!inner",
	// within Repo when there is one.
	Path   string `json:"path,omitempty"`
	URL    string `json:"url,omitempty"`
	Line   int    `json:"line,omitempty"`
	Column int    `json:"column,omitempty"`
	Commit string `json:"commit,omitempty"`
	// Tag names the tag object for tag messages.
	Tag    string `json:"tag,omitempty"`
	Author string `json:"author,omitempty"`
	Date   string `json:"date,omitempty"` // RFC 3339
	// Blob is the git blob id holding the key, for blob locations.
	Blob string `json:"blob,omitempty"`
	// Decoded lists the encodings the key was decoded through, outermost
	// first ("base64", "percent", ...). Empty for plain text.
	Decoded []string `json:"decoded,omitempty"`
	// Original is where a source map says the text came from.
	Original *Original `json:"original,omitempty"`
	// Unreachable marks a git object that no ref, reflog or stash reaches.
	Unreachable bool `json:"unreachable,omitempty"`
	// Allowed is set when an allowlist matched; allowed locations are kept
	// out of the findings unless asked for.
	Allowed string `json:"allowed,omitempty"`
}

// RepoPath is the path as people read it across repositories:
// "OWNER/NAME:path" when Repo is set (the repository and the path
// within it), else Path.
func (l Location) RepoPath() string {
	if l.Repo == "" {
		return l.Path
	}
	return l.Repo + ":" + l.Path
}

// Original is a source position recovered from a source map.
type Original struct {
	Path   string `json:"path"`
	Line   int    `json:"line,omitempty"`
	Column int    `json:"column,omitempty"`
}

// Owner is a key's owner as the Vault reports it.
type Owner struct {
	Org     string `json:"org,omitempty"`
	Team    string `json:"team,omitempty"`
	Contact string `json:"contact,omitempty"`
}

// Finding is one key, by fingerprint, with all its locations.
type Finding struct {
	Fingerprint string `json:"fingerprint"`
	Redacted    string `json:"redacted"`
	Environment string `json:"environment"`
	Status      Status `json:"status"`
	// StatusReason says why a finding is unverified when verification was
	// asked for and failed.
	StatusReason string   `json:"status_reason,omitempty"`
	KeyID        string   `json:"key_id,omitempty"`
	Owner        *Owner   `json:"owner,omitempty"`
	Products     []string `json:"products,omitempty"`
	CreatedAt    string   `json:"created_at,omitempty"`
	LastUsedAt   string   `json:"last_used_at,omitempty"`
	// OwnCredential marks the key this run is itself configured with
	// (ATOMYX_API_KEY, compared by fingerprint): reported, never revoked or
	// reissued automatically, since the run would cut off its own access.
	OwnCredential bool       `json:"own_credential,omitempty"`
	Locations     []Location `json:"locations"`
	// EnvironmentMismatch lists the places that belong to another
	// environment than the key's (envmatch.go).
	EnvironmentMismatch []EnvMismatch `json:"environment_mismatch,omitempty"`
}

// Hit is what a detector reports for one occurrence of a key: everything a
// Finding needs, and no key.
type Hit struct {
	Fingerprint string
	Redacted    string
	Environment string
	Location    Location
}

// NearMiss is a key-shaped candidate whose checksum does not hold: a typo, a
// truncation or a made-up example. Never a finding; listed apart on request.
type NearMiss struct {
	Redacted string   `json:"redacted"`
	Location Location `json:"location"`
}

// Set gathers hits into one Finding per fingerprint. It is safe for
// concurrent use; Findings returns a deterministic order.
type Set struct {
	mu   sync.Mutex
	byFP map[string]*Finding
	seen map[locKey]bool
	near []NearMiss
}

type locKey struct {
	fp                          string
	source, kind, repo, path    string
	url                         string
	line, col                   int
	commit, tag, blob, original string
}

// NewSet returns an empty Set.
func NewSet() *Set {
	return &Set{byFP: map[string]*Finding{}, seen: map[locKey]bool{}}
}

// Add records a hit; a repeated location of the same key is dropped.
func (s *Set) Add(h Hit) {
	l := h.Location
	k := locKey{h.Fingerprint, l.Source, l.Kind, l.Repo, l.Path, l.URL, l.Line, l.Column, l.Commit, l.Tag, l.Blob, ""}
	if l.Original != nil {
		k.original = l.Original.Path
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.seen[k] {
		return
	}
	s.seen[k] = true
	f := s.byFP[h.Fingerprint]
	if f == nil {
		f = &Finding{Fingerprint: h.Fingerprint, Redacted: h.Redacted, Environment: h.Environment, Status: Unverified}
		s.byFP[h.Fingerprint] = f
	}
	f.Locations = append(f.Locations, l)
}

// AddNearMiss records a candidate whose checksum failed.
func (s *Set) AddNearMiss(n NearMiss) {
	s.mu.Lock()
	s.near = append(s.near, n)
	s.mu.Unlock()
}

// Len returns the number of distinct keys.
func (s *Set) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.byFP)
}

// Findings returns the findings sorted by fingerprint, each with its
// locations sorted, so that reports are stable from run to run.
func (s *Set) Findings() []Finding {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Finding, 0, len(s.byFP))
	for _, f := range s.byFP {
		c := *f
		c.Locations = slices.Clone(f.Locations)
		SortLocations(c.Locations)
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b Finding) int { return cmp.Compare(a.Fingerprint, b.Fingerprint) })
	return out
}

// NearMisses returns the near misses in a stable order.
func (s *Set) NearMisses() []NearMiss {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := slices.Clone(s.near)
	slices.SortFunc(out, func(a, b NearMiss) int { return CompareLocations(a.Location, b.Location) })
	return out
}

// SortLocations orders locations by source, kind, repository, path,
// commit date, line.
func SortLocations(ls []Location) {
	slices.SortFunc(ls, CompareLocations)
}

// CompareLocations is the stable order of locations.
func CompareLocations(a, b Location) int {
	return cmp.Or(
		cmp.Compare(a.Source, b.Source),
		cmp.Compare(a.Kind, b.Kind),
		cmp.Compare(a.Repo, b.Repo),
		cmp.Compare(a.Path, b.Path),
		cmp.Compare(a.URL, b.URL),
		cmp.Compare(a.Date, b.Date),
		cmp.Compare(a.Commit, b.Commit),
		cmp.Compare(a.Tag, b.Tag),
		cmp.Compare(a.Line, b.Line),
		cmp.Compare(a.Column, b.Column),
	)
}

// Merge combines findings of several reports (shards) into one list, one
// finding per fingerprint, locations deduplicated. Where two reports
// disagree on status, the most recent verification wins as given by order:
// later arguments override earlier ones unless they are unverified.
func Merge(lists ...[]Finding) []Finding {
	s := NewSet()
	meta := map[string]Finding{}
	for _, list := range lists {
		for _, f := range list {
			for _, l := range f.Locations {
				s.Add(Hit{Fingerprint: f.Fingerprint, Redacted: f.Redacted, Environment: f.Environment, Location: l})
			}
			if m, ok := meta[f.Fingerprint]; !ok || f.Status != Unverified || m.Status == Unverified {
				meta[f.Fingerprint] = f
			}
		}
	}
	out := s.Findings()
	for i := range out {
		m := meta[out[i].Fingerprint]
		locs := out[i].Locations
		out[i] = m
		out[i].Locations = locs
	}
	return out
}

// Skip is something a scan could not read, and why. Reports list skips so
// that nothing is left out silently.
type Skip struct {
	Where  string `json:"where"`
	Reason string `json:"reason"`
}

// Hit records a hit; with NearMiss it makes a Set a scanner sink.
func (s *Set) Hit(h Hit) { s.Add(h) }

// NearMiss records a near miss.
func (s *Set) NearMiss(n NearMiss) { s.AddNearMiss(n) }
