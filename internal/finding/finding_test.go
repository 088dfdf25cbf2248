package finding

import (
	"fmt"
	"slices"
	"sync"
	"testing"
)

func loc(path string, line int) Location {
	return Location{Source: SourceFile, Path: path, Line: line}
}

func paths(ls []Location) []string {
	var out []string
	for _, l := range ls {
		out = append(out, fmt.Sprintf("%s:%s:%d", l.Source, l.Path+l.URL, l.Line))
	}
	return out
}

func TestSet(t *testing.T) {
	tests := []struct {
		name string
		hits []Hit
		// want is, per finding in order, its fingerprint and its locations.
		want map[string][]string
		fps  []string
	}{
		{
			name: "empty",
			want: map[string][]string{},
		},
		{
			name: "one key twice at one place is one location",
			hits: []Hit{
				{Fingerprint: "sha256:b", Location: loc("a.txt", 1)},
				{Fingerprint: "sha256:b", Location: loc("a.txt", 1)},
			},
			fps:  []string{"sha256:b"},
			want: map[string][]string{"sha256:b": {"file:a.txt:1"}},
		},
		{
			name: "one key at two places is one finding, locations sorted",
			hits: []Hit{
				{Fingerprint: "sha256:b", Location: loc("z.txt", 1)},
				{Fingerprint: "sha256:b", Location: loc("a.txt", 9)},
				{Fingerprint: "sha256:b", Location: loc("a.txt", 2)},
			},
			fps:  []string{"sha256:b"},
			want: map[string][]string{"sha256:b": {"file:a.txt:2", "file:a.txt:9", "file:z.txt:1"}},
		},
		{
			name: "two keys at one place are two findings, by fingerprint",
			hits: []Hit{
				{Fingerprint: "sha256:c", Location: loc("a.txt", 1)},
				{Fingerprint: "sha256:a", Location: loc("a.txt", 1)},
			},
			fps:  []string{"sha256:a", "sha256:c"},
			want: map[string][]string{"sha256:a": {"file:a.txt:1"}, "sha256:c": {"file:a.txt:1"}},
		},
		{
			name: "one path in two repositories is two locations",
			hits: []Hit{
				{Fingerprint: "sha256:a", Location: Location{Source: SourceGit, Repo: "acme/web", Path: "a.env"}},
				{Fingerprint: "sha256:a", Location: Location{Source: SourceGit, Repo: "acme/api", Path: "a.env"}},
				{Fingerprint: "sha256:a", Location: Location{Source: SourceGit, Repo: "acme/api", Path: "a.env"}},
			},
			fps:  []string{"sha256:a"},
			want: map[string][]string{"sha256:a": {"git:a.env:0", "git:a.env:0"}},
		},
		{
			name: "a different source position is another location",
			hits: []Hit{
				{Fingerprint: "sha256:a", Location: Location{Source: SourceURL, URL: "u", Line: 1, Original: &Original{Path: "x.ts"}}},
				{Fingerprint: "sha256:a", Location: Location{Source: SourceURL, URL: "u", Line: 1, Original: &Original{Path: "y.ts"}}},
			},
			fps:  []string{"sha256:a"},
			want: map[string][]string{"sha256:a": {"url:u:1", "url:u:1"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := NewSet()
			for _, h := range tt.hits {
				s.Add(h)
			}
			got := s.Findings()
			if s.Len() != len(tt.want) || len(got) != len(tt.want) {
				t.Fatalf("Len %d, %d findings, want %d", s.Len(), len(got), len(tt.want))
			}
			for i, f := range got {
				if f.Fingerprint != tt.fps[i] {
					t.Errorf("finding %d is %s, want %s", i, f.Fingerprint, tt.fps[i])
				}
				if f.Status != Unverified {
					t.Errorf("%s: status %q, want unverified until a Vault says otherwise", f.Fingerprint, f.Status)
				}
				if p := paths(f.Locations); !slices.Equal(p, tt.want[f.Fingerprint]) {
					t.Errorf("%s: locations %v, want %v", f.Fingerprint, p, tt.want[f.Fingerprint])
				}
			}
		})
	}
}

// TestSetConcurrent adds from many goroutines, as the engine's workers do;
// go test -race checks the locking.
func TestSetConcurrent(t *testing.T) {
	s := NewSet()
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := range 100 {
				s.Add(Hit{Fingerprint: fmt.Sprintf("sha256:%d", i%10), Location: loc("f", w*1000+i)})
				s.AddNearMiss(NearMiss{Redacted: "atmx_prd_…", Location: loc("n", w*1000+i)})
			}
		})
	}
	wg.Wait()
	if s.Len() != 10 {
		t.Errorf("Len %d, want 10", s.Len())
	}
	n := 0
	for _, f := range s.Findings() {
		n += len(f.Locations)
	}
	if n != 800 {
		t.Errorf("%d locations, want 800", n)
	}
	nm := s.NearMisses()
	if len(nm) != 800 || !slices.IsSortedFunc(nm, func(a, b NearMiss) int { return CompareLocations(a.Location, b.Location) }) {
		t.Errorf("%d near misses, sorted %v", len(nm), slices.IsSortedFunc(nm, func(a, b NearMiss) int { return CompareLocations(a.Location, b.Location) }))
	}
}

func TestFindingsAreCopies(t *testing.T) {
	s := NewSet()
	s.Add(Hit{Fingerprint: "sha256:a", Location: loc("b", 1)})
	s.Add(Hit{Fingerprint: "sha256:a", Location: loc("a", 1)})
	got := s.Findings()
	got[0].Locations[0].Path = "changed"
	got[0].Status = Active
	again := s.Findings()
	if again[0].Locations[0].Path != "a" || again[0].Status != Unverified {
		t.Errorf("a caller's change reached the set: %+v", again[0])
	}
}

func TestMerge(t *testing.T) {
	f := func(st Status, reason string, ls ...Location) Finding {
		return Finding{Fingerprint: "sha256:a", Redacted: "atmx_prd_abcd…", Environment: "production", Status: st, StatusReason: reason, Locations: ls}
	}
	tests := []struct {
		name       string
		lists      [][]Finding
		wantStatus Status
		wantReason string
		wantLocs   []string
	}{
		{
			name:       "a verification wins over an earlier unverified report",
			lists:      [][]Finding{{f(Unverified, "vault down", loc("a", 1))}, {f(Active, "", loc("b", 1))}},
			wantStatus: Active,
			wantLocs:   []string{"file:a:1", "file:b:1"},
		},
		{
			name:       "a later unverified report does not undo a verification",
			lists:      [][]Finding{{f(Active, "", loc("a", 1))}, {f(Unverified, "vault down", loc("b", 1))}},
			wantStatus: Active,
			wantLocs:   []string{"file:a:1", "file:b:1"},
		},
		{
			name:       "the later of two verifications wins",
			lists:      [][]Finding{{f(Active, "", loc("a", 1))}, {f(Revoked, "", loc("a", 1))}},
			wantStatus: Revoked,
			wantLocs:   []string{"file:a:1"},
		},
		{
			name:       "two unverified reports: the later reason",
			lists:      [][]Finding{{f(Unverified, "first", loc("a", 1))}, {f(Unverified, "second", loc("a", 2))}},
			wantStatus: Unverified,
			wantReason: "second",
			wantLocs:   []string{"file:a:1", "file:a:2"},
		},
		{
			name:       "within one list too",
			lists:      [][]Finding{{f(Expired, "", loc("a", 1)), f(Unverified, "x", loc("a", 1))}},
			wantStatus: Expired,
			wantLocs:   []string{"file:a:1"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Merge(tt.lists...)
			if len(got) != 1 {
				t.Fatalf("%d findings, want 1", len(got))
			}
			g := got[0]
			if g.Status != tt.wantStatus || g.StatusReason != tt.wantReason {
				t.Errorf("status %q (%q), want %q (%q)", g.Status, g.StatusReason, tt.wantStatus, tt.wantReason)
			}
			if p := paths(g.Locations); !slices.Equal(p, tt.wantLocs) {
				t.Errorf("locations %v, want %v", p, tt.wantLocs)
			}
			if g.Redacted != "atmx_prd_abcd…" || g.Environment != "production" {
				t.Errorf("metadata lost: %+v", g)
			}
		})
	}
	t.Run("keys stay apart, by fingerprint", func(t *testing.T) {
		a := f(Active, "", loc("a", 1))
		b := a
		b.Fingerprint = "sha256:0"
		got := Merge([]Finding{a}, []Finding{b})
		if len(got) != 2 || got[0].Fingerprint != "sha256:0" || got[1].Fingerprint != "sha256:a" {
			t.Errorf("got %+v", got)
		}
	})
}

func TestCompareLocations(t *testing.T) {
	// Each location sorts before the next: source, kind, repository, path,
	// URL, date, commit, tag, line, column, in that order of weight.
	ordered := []Location{
		{Source: SourceFile, Path: "z", Line: 9},
		{Source: SourceGit, Kind: KindBlob, Path: "a", Date: "2026-01-02T00:00:00Z", Line: 9},
		{Source: SourceGit, Kind: KindBlob, Path: "b", Date: "2026-01-01T00:00:00Z", Line: 1},
		{Source: SourceGit, Kind: KindBlob, Path: "b", Date: "2026-01-02T00:00:00Z", Commit: "1", Line: 9},
		{Source: SourceGit, Kind: KindBlob, Path: "b", Date: "2026-01-02T00:00:00Z", Commit: "2", Line: 1},
		{Source: SourceGit, Kind: KindBlob, Path: "b", Date: "2026-01-02T00:00:00Z", Commit: "2", Line: 2, Column: 1},
		{Source: SourceGit, Kind: KindBlob, Path: "b", Date: "2026-01-02T00:00:00Z", Commit: "2", Line: 2, Column: 5},
		{Source: SourceGit, Kind: KindBlob, Repo: "acme/api", Path: "z"},
		{Source: SourceGit, Kind: KindBlob, Repo: "acme/web", Path: "a"},
		{Source: SourceGit, Kind: KindCommitMessage, Commit: "0"},
		{Source: SourceGit, Kind: KindTagMessage, Tag: "v1"},
		{Source: SourceGit, Kind: KindTagMessage, Tag: "v2"},
		{Source: SourceURL, URL: "https://a.test/"},
		{Source: SourceURL, URL: "https://b.test/"},
	}
	for i := range ordered {
		for j := range ordered {
			got := CompareLocations(ordered[i], ordered[j])
			want := 0
			if i < j {
				want = -1
			} else if i > j {
				want = 1
			}
			if got != want {
				t.Errorf("Compare(%d, %d) = %d, want %d:\n  %+v\n  %+v", i, j, got, want, ordered[i], ordered[j])
			}
		}
	}
	shuffled := slices.Clone(ordered)
	slices.Reverse(shuffled)
	shuffled[0], shuffled[5] = shuffled[5], shuffled[0]
	SortLocations(shuffled)
	if !slices.EqualFunc(shuffled, ordered, func(a, b Location) bool { return CompareLocations(a, b) == 0 }) {
		t.Errorf("SortLocations: %v", paths(shuffled))
	}
}
