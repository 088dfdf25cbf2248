package gitsource

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/atomyx/atomyx-guard/internal/finding"
	"github.com/atomyx/atomyx-guard/internal/testkit"
	"github.com/atomyx/atomyx-guard/patterns"
	"github.com/atomyx/atomyx-guard/scanner"
)

// benchRepo builds a repository from the Go distribution's net/http
// sources: one import, then revisions that each modify 40 files, with one
// key planted. scripts/bench-git.sh measures a large one.
func benchRepo(b *testing.B) string {
	b.Helper()
	d := initRepo(b)
	goroot, err := exec.Command("go", "env", "GOROOT").Output()
	if err != nil {
		b.Skipf("go env GOROOT: %v", err)
	}
	src := filepath.Join(strings.TrimSpace(string(goroot)), "src", "net", "http")
	var files []string
	err = filepath.WalkDir(src, func(p string, de os.DirEntry, err error) error {
		if err != nil || de.IsDir() || filepath.Ext(p) != ".go" {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		body, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		write(b, d, rel, string(body))
		files = append(files, rel)
		return nil
	})
	if err != nil || len(files) == 0 {
		b.Skipf("no Go sources to build from: %v", err)
	}
	commit(b, d, "import")
	for i := range 30 {
		for j := range 40 {
			p := filepath.Join(d, files[(i*40+j)%len(files)])
			f, err := os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0)
			if err != nil {
				b.Fatal(err)
			}
			f.WriteString("// revision " + strconv.Itoa(i) + "\n")
			f.Close()
		}
		if i == 15 {
			write(b, d, "deploy.env", "KEY="+testkit.NewKey(b, patterns.Production)+"\n")
		}
		commit(b, d, "revision "+strconv.Itoa(i))
	}
	tgit(b, d, "repack", "-adq")
	return d
}

type countSink struct{}

func (countSink) Hit(finding.Hit)           {}
func (countSink) NearMiss(finding.NearMiss) {}

func BenchmarkScan(b *testing.B) {
	d := benchRepo(b)
	for _, tt := range []struct {
		name string
		opts Options
	}{{"git", Options{}}, {"go-git", Options{NoGitBinary: true}}} {
		b.Run(tt.name, func(b *testing.B) {
			r, err := Open(context.Background(), d)
			if err != nil {
				b.Fatal(err)
			}
			var res Result
			for b.Loop() {
				eng := &scanner.Engine{Detector: &scanner.Detector{}}
				if res, err = r.Scan(context.Background(), eng, tt.opts, countSink{}); err != nil {
					b.Fatal(err)
				}
			}
			b.SetBytes(res.Bytes)
		})
	}
}
