package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/atomyx/atomyx-guard/internal/config"
)

// A repository whose .atomyx-guard.toml is a link to the scanner's own
// stdout used to hang the scan forever; it is refused with exit 2 and a
// reason that names the file.
func TestRepositoryConfigLinkRefused(t *testing.T) {
	repo := newGitRepo(t)
	repo.write("README", "hi\n")
	repo.commit("init")
	if err := os.Symlink("/proc/self/fd/1", filepath.Join(repo.dir, config.FileName)); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"git", repo.dir}, {"dir", repo.dir}} {
		r := runCLI(t, nil, args...)
		if r.code != ExitError || !strings.Contains(r.errOut, config.FileName) || !strings.Contains(r.errOut, "refused") {
			t.Errorf("%s: exit %d, stderr %q; want 2 and the file refused", args[0], r.code, r.errOut)
		}
	}
}
