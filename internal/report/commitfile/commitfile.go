// Package commitfile picks the file a SARIF result for a commit or tag
// message is shown on. Code scanning displays and links results on files
// only, and no file holds a commit message; the file that commit changed is
// the nearest honest place (its blame leads to the commit), and one that
// still exists at HEAD is one code scanning can open.
package commitfile

import (
	"bufio"
	"bytes"
	"context"
	"os/exec"
	"regexp"
	"sync"

	"github.com/atomyx/atomyx-guard/internal/finding"
)

// hexID is what a commit id must look like before it reaches git's
// command line: report data is not trusted to be an id.
var hexID = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[0-9a-f]{40}([0-9a-f]{24})?$`) })

// Resolver returns report.ToolInfo.MessageFile for the repository at dir:
// for a message finding, a file its commit changed (against its first
// parent; every file for a root commit), preferring one that HEAD still
// has; "" when git is missing, the commit is not there, or it changed
// nothing. Results are cached per commit; it is safe for concurrent use.
func Resolver(ctx context.Context, dir string) func(finding.Location) string {
	r := &resolver{ctx: ctx, dir: dir, cache: map[string]string{}}
	return r.file
}

type resolver struct {
	ctx   context.Context
	dir   string
	once  sync.Once
	head  map[string]bool
	mu    sync.Mutex
	cache map[string]string
}

func (r *resolver) file(l finding.Location) string {
	if !hexID().MatchString(l.Commit) {
		return ""
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if f, ok := r.cache[l.Commit]; ok {
		return f
	}
	r.once.Do(func() { r.head = r.set(r.lines("ls-tree", "-r", "--name-only", "-z", "HEAD")) })
	changed := r.lines("diff-tree", "--no-commit-id", "--name-only", "-r", "-z", "--root", "-m", "--first-parent", l.Commit)
	f := ""
	for _, p := range changed {
		if r.head[p] {
			f = p
			break
		}
	}
	if f == "" && len(changed) > 0 {
		f = changed[0]
	}
	r.cache[l.Commit] = f
	return f
}

func (r *resolver) set(list []string) map[string]bool {
	m := make(map[string]bool, len(list))
	for _, p := range list {
		m[p] = true
	}
	return m
}

// lines runs git and splits its NUL-terminated output; nil on any error.
func (r *resolver) lines(args ...string) []string {
	cmd := exec.CommandContext(r.ctx, "git", append([]string{"-C", r.dir, "-c", "core.quotePath=false"}, args...)...)
	out, err := cmd.Output()
	if err != nil {
		return nil
	}
	var list []string
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 64<<10), 64<<20)
	sc.Split(splitNUL)
	for sc.Scan() {
		if t := sc.Text(); t != "" {
			list = append(list, t)
		}
	}
	return list
}

func splitNUL(data []byte, atEOF bool) (int, []byte, error) {
	if i := bytes.IndexByte(data, 0); i >= 0 {
		return i + 1, data[:i], nil
	}
	if atEOF && len(data) > 0 {
		return len(data), data, nil
	}
	return 0, nil, nil
}
