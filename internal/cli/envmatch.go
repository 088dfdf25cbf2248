package cli

import (
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/atomyx/atomyx-guard/internal/finding"
)

// maxWorkflowRead bounds what the environment check reads of one file: a
// workflow is a few KiB.
const maxWorkflowRead = 1 << 20

// fileContent reads a dir scan's files again for the environment check of
// workflow files (the detector keeps no content). Archive members and
// unreadable files give nil: their paths still count.
func fileContent(dir string) finding.ContentFunc {
	return func(l finding.Location) []byte {
		if l.Source != finding.SourceFile || strings.Contains(l.Path, "!") {
			return nil
		}
		p := l.Path
		if !filepath.IsAbs(p) && dir != "" {
			p = filepath.Join(dir, p)
		}
		f, err := os.Open(p)
		if err != nil {
			return nil
		}
		defer f.Close()
		b, err := io.ReadAll(io.LimitReader(f, maxWorkflowRead))
		if err != nil {
			return nil
		}
		return b
	}
}

// gitContent reads a git location's blob with the git binary, when there
// is one, for the environment check of workflow files.
func gitContent(ctx context.Context, gitDir string) finding.ContentFunc {
	return func(l finding.Location) []byte {
		if l.Source != finding.SourceGit || l.Blob == "" || strings.Contains(l.Path, "!") {
			return nil
		}
		cmd := exec.CommandContext(ctx, "git", "--git-dir", gitDir, "cat-file", "blob", l.Blob)
		out, err := cmd.Output()
		if err != nil || len(out) > maxWorkflowRead {
			return nil
		}
		return out
	}
}

// mismatched counts the findings with an environment mismatch.
func mismatched(fs []finding.Finding) int {
	n := 0
	for _, f := range fs {
		if len(f.EnvironmentMismatch) > 0 {
			n++
		}
	}
	return n
}
