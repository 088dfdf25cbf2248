package gitsource

import (
	"testing"

	"github.com/atomyx/atomyx-guard/internal/testkit"
	"github.com/atomyx/atomyx-guard/patterns"
)

// A key already committed stays out of a staged scan, whatever its path
// looks like (ls-tree -z paths with spaces, quotes, newlines and
// non-ASCII), while a key staged at a path of the same kind is found.
func TestStagedComparesHeadByPath(t *testing.T) {
	d := initRepo(t)
	old, fresh := testkit.NewKey(t, patterns.Production), testkit.NewKey(t, patterns.Production)
	odd := []string{"dir with space/a b.env", "q\"uote'.txt", "new\nline.txt", "ünï/cødé.txt"}
	for _, p := range odd {
		write(t, d, p, "K="+old+"\n")
	}
	tgit(t, d, "add", "-A")
	tgit(t, d, "commit", "-q", "-m", "old keys")
	write(t, d, odd[0]+".staged", "K="+fresh+"\n")
	write(t, d, odd[2], "changed\nK="+fresh+"\n")
	tgit(t, d, "add", "-A")
	got := both(t, d, Options{Staged: true})
	if _, ok := got.byFP[patterns.Fingerprint([]byte(old))]; ok || len(got.findings) != 1 {
		t.Fatalf("staged scan: %s", summary(got))
	}
	locs := got.byFP[patterns.Fingerprint([]byte(fresh))].Locations
	if len(locs) != 2 || locs[0].Path != odd[0]+".staged" || locs[1].Path != odd[2] {
		t.Errorf("locations: %+v", locs)
	}
}
