package gitsource

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/atomyx/atomyx-guard/internal/finding"
	"github.com/atomyx/atomyx-guard/internal/testkit"
	"github.com/atomyx/atomyx-guard/patterns"
)

// A staged blob is read from the work-tree file it was staged from only
// when that file still hashes to it: an edit after git add, a FIFO or a
// link out of the work tree leaves the object store to answer. Each case
// deletes or keeps the loose object, so which of the two was read shows.
func TestStagedBlobFromWorkTree(t *testing.T) {
	tests := []struct {
		name string
		// after runs after git add, on the work tree.
		after func(t *testing.T, d, file, staged, other string)
		// dropObject deletes the staged blob's loose object.
		dropObject bool
		wantStaged bool // the staged key is found
		wantSkip   bool // the blob is reported unreadable
	}{
		{name: "unchanged file, object gone", dropObject: true, wantStaged: true,
			after: func(*testing.T, string, string, string, string) {}},
		{name: "edited after staging", wantStaged: true,
			after: func(t *testing.T, d, file, _, other string) { write(t, d, file, "K="+other+"\n# edited\n") }},
		{name: "edited after staging, same size", wantStaged: true,
			after: func(t *testing.T, d, file, _, other string) {
				write(t, d, file, "K="+other+"\n") // keys of one environment have one length
			}},
		{name: "edited after staging, object gone", dropObject: true, wantSkip: true,
			after: func(t *testing.T, d, file, _, other string) { write(t, d, file, "K="+other+"\n") }},
		{name: "FIFO at the path", wantStaged: true,
			after: func(t *testing.T, d, file, _, _ string) {
				p := filepath.Join(d, file)
				if err := os.Remove(p); err != nil {
					t.Fatal(err)
				}
				if err := syscall.Mkfifo(p, 0o644); err != nil {
					t.Skip("no FIFOs here:", err)
				}
			}},
		{name: "link out of the work tree, object gone", dropObject: true, wantSkip: true,
			after: func(t *testing.T, d, file, _, _ string) {
				// The same content, outside: not read from there.
				outside := filepath.Join(t.TempDir(), "copy")
				b, err := os.ReadFile(filepath.Join(d, file))
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(outside, b, 0o644); err != nil {
					t.Fatal(err)
				}
				os.Remove(filepath.Join(d, file))
				if err := os.Symlink(outside, filepath.Join(d, file)); err != nil {
					t.Fatal(err)
				}
			}},
	}
	for _, tt := range tests {
		for _, n := range []int{1, parallelBlobs + 2} { // one reader, two
			t.Run(fmt.Sprintf("%s/%d files", tt.name, n), func(t *testing.T) {
				d := initRepo(t)
				write(t, d, "README", "base\n")
				tgit(t, d, "add", "-A")
				tgit(t, d, "commit", "-q", "-m", "base")
				staged, other := testkit.NewKey(t, patterns.Production), testkit.NewKey(t, patterns.Production)
				const file = "conf/app.env"
				write(t, d, file, "K="+staged+"\n")
				for i := 1; i < n; i++ {
					write(t, d, fmt.Sprintf("more/f%02d.txt", i), fmt.Sprintf("file %d\n", i))
				}
				tgit(t, d, "add", "-A")
				if tt.dropObject {
					id := strings.TrimSpace(tgit(t, d, "rev-parse", ":"+file))
					if err := os.Remove(filepath.Join(d, ".git", "objects", id[:2], id[2:])); err != nil {
						t.Fatal(err)
					}
				}
				tt.after(t, d, file, staged, other)
				got, err := scanErr(d, Options{Staged: true})
				if err != nil && !errors.Is(err, ErrNothingReadable) {
					t.Fatal(err)
				}
				_, found := got.byFP[patterns.Fingerprint([]byte(staged))]
				if found != tt.wantStaged {
					t.Errorf("staged key found: %v, want %v\n%s", found, tt.wantStaged, summary(got))
				}
				if _, ok := got.byFP[patterns.Fingerprint([]byte(other))]; ok {
					t.Errorf("the unstaged edit was scanned\n%s", summary(got))
				}
				// Nothing readable at all is the loudest skip.
				if skipped := len(got.res.Skipped) > 0 || err != nil; skipped != tt.wantSkip {
					t.Errorf("skipped: %v, want %v\n%s", skipped, tt.wantSkip, summary(got))
				}
			})
		}
	}
}

// scanErr is scanRepo that returns the scan's error.
func scanErr(path string, opts Options) (scanned, error) {
	r, err := Open(context.Background(), path)
	if err != nil {
		return scanned{}, err
	}
	defer r.Close()
	set := finding.NewSet()
	res, err := r.Scan(context.Background(), newEngine(), opts, setSink{set})
	s := scanned{res: res, findings: set.Findings(), byFP: map[string]finding.Finding{}}
	for _, f := range s.findings {
		s.byFP[f.Fingerprint] = f
	}
	return s, err
}
