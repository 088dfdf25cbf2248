package gitsource

import (
	"github.com/go-git/go-git/v5/plumbing"
)

// excludeCommits turns Options.Exclude into the commits a walk stops at:
// each id peeled through annotated tags to its commit. Ids that are not in
// the repository any more (a force push, a gc) or that name no commit are
// dropped, not errors: an incremental scan whose earlier tips are gone
// scans everything it cannot prove was seen.
func (r *Repo) excludeCommits(ids []string) []plumbing.Hash {
	var out []plumbing.Hash
	seen := map[plumbing.Hash]bool{}
	for _, id := range ids {
		h, ok := parseHex(id)
		if !ok {
			continue
		}
		for depth := 0; depth < 32 && !h.IsZero(); depth++ {
			obj, err := r.storage.EncodedObject(plumbing.AnyObject, h)
			if err != nil {
				break
			}
			if obj.Type() == plumbing.TagObject {
				t, err := tagTarget(obj)
				if err != nil {
					break
				}
				h = t
				continue
			}
			if obj.Type() == plumbing.CommitObject && !seen[h] {
				seen[h] = true
				out = append(out, h)
			}
			break
		}
	}
	return out
}
