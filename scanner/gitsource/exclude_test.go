package gitsource

import (
	"context"
	"strings"
	"testing"

	"github.com/atomyx/atomyx-guard/internal/finding"
	"github.com/atomyx/atomyx-guard/internal/testkit"
	"github.com/atomyx/atomyx-guard/patterns"
)

// TestExclude checks the incremental scan: with the tips of an earlier
// scan excluded, only the commits and blobs that came after are read.
func TestExclude(t *testing.T) {
	d := initRepo(t)
	k1, k2, k3, k4 := testkit.NewKey(t, patterns.Production), testkit.NewKey(t, patterns.Production), testkit.NewKey(t, patterns.Production), testkit.NewKey(t, patterns.Production)
	tip1 := commit(t, d, "one", "a.txt", k1+"\n")
	tgit(t, d, "checkout", "-q", "-b", "side")
	tip2 := commit(t, d, "two", "b.txt", k2+"\n")
	tgit(t, d, "tag", "-a", "-m", "release", "v1", tip2)
	tgit(t, d, "checkout", "-q", "main")
	// After the "earlier scan" of tip1 and v1: two new commits on main,
	// one new branch from side.
	commit(t, d, "three", "c.txt", k3+"\n", "d.txt", "no key here\n")
	commit(t, d, "four "+k4, "e.txt", "plain\n")
	tgit(t, d, "branch", "other", tip2)
	tagID := tgit(t, d, "rev-parse", "v1")

	missing := strings.Repeat("ab", 20)
	for _, tc := range []struct {
		name           string
		exclude        []string
		commits, blobs int64
		want, notWant  []string
	}{
		{"tips of the earlier scan", []string{tip1, tagID}, 2, 3, []string{k3, k4}, []string{k1, k2}},
		{"a commit twice and a missing id", []string{tip1, tip1, missing, tip2}, 2, 3, []string{k3, k4}, []string{k1, k2}},
		{"only missing or malformed ids: everything", []string{missing, "HEAD", ""}, 4, 5, []string{k1, k2, k3, k4}, nil},
		{"everything seen", []string{tip2, tgit(t, d, "rev-parse", "main")}, 0, 0, nil, []string{k1, k2, k3, k4}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := both(t, d, Options{Exclude: tc.exclude})
			if got.res.Commits != tc.commits || got.res.Blobs != tc.blobs {
				t.Errorf("read %d commits, %d blobs; want %d, %d\n%s", got.res.Commits, got.res.Blobs, tc.commits, tc.blobs, summary(got))
			}
			for _, k := range tc.want {
				if _, ok := got.byFP[patterns.Fingerprint([]byte(k))]; !ok {
					t.Errorf("missing %s\n%s", patterns.Redact([]byte(k)), summary(got))
				}
			}
			for _, k := range tc.notWant {
				if _, ok := got.byFP[patterns.Fingerprint([]byte(k))]; ok {
					t.Errorf("%s was in excluded history", patterns.Redact([]byte(k)))
				}
			}
			if len(got.res.Skipped) > 0 {
				t.Errorf("skips: %v", got.res.Skipped)
			}
		})
	}
}

func TestExcludeWithStaged(t *testing.T) {
	d := initRepo(t)
	tip := commit(t, d, "one", "a.txt", "x\n")
	r, err := Open(context.Background(), d)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Scan(context.Background(), newEngine(), Options{Staged: true, Exclude: []string{tip}}, setSink{finding.NewSet()}); err == nil {
		t.Error("staged with exclude accepted")
	}
}
