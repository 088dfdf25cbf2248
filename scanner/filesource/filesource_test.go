package filesource_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/atomyx/atomyx-guard/internal/finding"
	"github.com/atomyx/atomyx-guard/internal/testkit"
	"github.com/atomyx/atomyx-guard/patterns"
	"github.com/atomyx/atomyx-guard/scanner"
	"github.com/atomyx/atomyx-guard/scanner/archive"
	"github.com/atomyx/atomyx-guard/scanner/filesource"
)

type result struct {
	mu    sync.Mutex
	hits  []finding.Hit
	skips []scanner.Skip
}

func (r *result) Hit(h finding.Hit)         { r.mu.Lock(); r.hits = append(r.hits, h); r.mu.Unlock() }
func (r *result) NearMiss(finding.NearMiss) {}

// found lists "path" for every hit, sorted.
func (r *result) found() []string {
	var out []string
	for _, h := range r.hits {
		out = append(out, h.Location.Path)
	}
	slices.Sort(out)
	return out
}

func (r *result) reasons() []string {
	var out []string
	for _, s := range r.skips {
		out = append(out, s.Where+": "+s.Reason)
	}
	slices.Sort(out)
	return out
}

func run(t testing.TB, src scanner.Source) (*result, scanner.Stats) {
	t.Helper()
	res := &result{}
	e := &scanner.Engine{
		Workers:   2,
		Expanders: []scanner.Expander{&archive.Expander{}},
		OnSkip:    func(s scanner.Skip) { res.skips = append(res.skips, s) },
	}
	st, err := e.Run(context.Background(), src, res)
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	return res, st
}

func write(t testing.TB, name string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(name, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func symlink(t testing.TB, target, name string) {
	t.Helper()
	if err := os.Symlink(target, name); err != nil {
		t.Fatal(err)
	}
}

func mkfifo(t testing.TB, name string) {
	t.Helper()
	if err := syscall.Mkfifo(name, 0o644); err != nil {
		t.Skipf("no FIFOs here: %v", err)
	}
}

func tgz(t testing.TB, name string, data []byte) []byte {
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	tw := tar.NewWriter(zw)
	tw.WriteHeader(&tar.Header{Name: name, Size: int64(len(data)), Mode: 0o644, Typeflag: tar.TypeReg})
	tw.Write(data)
	tw.Close()
	zw.Close()
	return b.Bytes()
}

// tree makes a directory with a key in each of: a plain file, an ignored
// file, a file under .git (not scanned), a tgz, and some hostile entries.
func tree(t *testing.T) (string, string) {
	dir := t.TempDir()
	k := testkit.NewKey(t, patterns.Development)
	line := []byte("API_KEY=" + k + "\n")
	write(t, filepath.Join(dir, "src", "app.env"), line)
	write(t, filepath.Join(dir, ".gitignore"), []byte("node_modules/\n*.env\n"))
	write(t, filepath.Join(dir, "node_modules", "pkg", "index.js"), line)
	write(t, filepath.Join(dir, ".git", "config"), line)
	write(t, filepath.Join(dir, "dist", "pkg.tgz"), tgz(t, "package/x.js", line))
	write(t, filepath.Join(dir, "empty"), nil)
	symlink(t, ".", filepath.Join(dir, "src", "loop"))           // a loop
	symlink(t, "../src", filepath.Join(dir, "dist", "src-link")) // a second way in
	symlink(t, "app.env", filepath.Join(dir, "src", "alias.env"))
	symlink(t, "nowhere", filepath.Join(dir, "broken"))
	mkfifo(t, filepath.Join(dir, "pipe"))
	symlink(t, "pipe", filepath.Join(dir, "pipe-link"))
	return dir, k
}

func TestDir(t *testing.T) {
	dir, _ := tree(t)
	pipeSkips := []string{"pipe-link: named pipe: not a regular file, not read", "pipe: named pipe: not a regular file, not read"}
	tests := []struct {
		name   string
		src    *filesource.Source
		found  []string
		skips  []string
		stats  filesource.Stats
		inside bool // run from inside dir with relative roots
	}{
		{
			name:  "one root: paths relative to it",
			src:   &filesource.Source{Roots: []string{dir}},
			found: []string{"dist/pkg.tgz!package/x.js", "node_modules/pkg/index.js", "src/alias.env", "src/app.env"},
			skips: pipeSkips,
			stats: filesource.Stats{Files: 6, Dirs: 5, GitDirs: 1, LinkedDirs: 2, BrokenLinks: 1, Special: 2},
		},
		{
			// dist/src-link comes first in lexical order: src is then a
			// revisit, as is src/loop.
			name:  "following symlinks enters each directory once",
			src:   &filesource.Source{Roots: []string{dir}, FollowSymlinks: true},
			found: []string{"dist/pkg.tgz!package/x.js", "dist/src-link/alias.env", "dist/src-link/app.env", "node_modules/pkg/index.js"},
			skips: pipeSkips,
			stats: filesource.Stats{Files: 6, Dirs: 5, GitDirs: 1, Revisits: 2, BrokenLinks: 1, Special: 2},
		},
		{
			name:   "several roots: paths joined to each root as given",
			src:    &filesource.Source{Roots: []string{"src", "dist/pkg.tgz", "node_modules"}},
			inside: true,
			found:  []string{"dist/pkg.tgz!package/x.js", "node_modules/pkg/index.js", "src/alias.env", "src/app.env"},
			stats:  filesource.Stats{Files: 4, Dirs: 3, LinkedDirs: 1},
		},
		{
			name:   "a symlinked root is followed",
			src:    &filesource.Source{Roots: []string{"dist/src-link"}},
			inside: true,
			found:  []string{"alias.env", "app.env"},
			stats:  filesource.Stats{Files: 2, Dirs: 1, LinkedDirs: 1},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.inside {
				t.Chdir(dir)
			}
			res, st := run(t, tt.src)
			if got := res.found(); !slices.Equal(got, tt.found) {
				t.Errorf("found at %q, want %q", got, tt.found)
			}
			if got := res.reasons(); !slices.Equal(got, tt.skips) {
				t.Errorf("skips %q, want %q", got, tt.skips)
			}
			if got := tt.src.Stats(); got != tt.stats {
				t.Errorf("walk stats %+v, want %+v", got, tt.stats)
			}
			if st.Items != tt.stats.Files {
				t.Errorf("engine scanned %d items, want %d", st.Items, tt.stats.Files)
			}
			for _, h := range res.hits {
				if h.Location.Source != finding.SourceFile {
					t.Errorf("source %q", h.Location.Source)
				}
			}
		})
	}
}

func TestMissingRoot(t *testing.T) {
	src := &filesource.Source{Roots: []string{filepath.Join(t.TempDir(), "nope")}}
	_, err := (&scanner.Engine{}).Run(context.Background(), src, &result{})
	if err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("err = %v", err)
	}
}

// A file that turns into a FIFO between the listing and the scan is refused
// without blocking.
func TestFileBecomesFIFO(t *testing.T) {
	dir := t.TempDir()
	name := filepath.Join(dir, "f")
	write(t, name, []byte("x"))
	src := &filesource.Source{Roots: []string{dir}}
	var its []scanner.Item
	src.Items(context.Background(), func(it scanner.Item) error { its = append(its, it); return nil })
	if len(its) != 1 {
		t.Fatalf("items %d", len(its))
	}
	os.Remove(name)
	mkfifo(t, name)
	rc, err := its[0].Open()
	if err == nil {
		rc.Close()
		t.Fatal("opened a FIFO")
	}
	if !strings.Contains(err.Error(), "named pipe") {
		t.Errorf("err = %v", err)
	}
}

func TestFileNameWithKey(t *testing.T) {
	dir := t.TempDir()
	k := testkit.NewKey(t, patterns.Development)
	write(t, filepath.Join(dir, k+".txt"), []byte(k))
	res, _ := run(t, &filesource.Source{Roots: []string{dir}})
	want := []string{patterns.Redact([]byte(k)) + ".txt"}
	if got := res.found(); !slices.Equal(got, want) {
		t.Errorf("found at %q, want %q", got, want)
	}
}

func TestStdin(t *testing.T) {
	k := testkit.NewKey(t, patterns.Development)
	line := []byte("x=" + k + "\n")
	tests := []struct {
		name string
		data []byte
		want []string
	}{
		{"", line, []string{""}},
		{"bundle.js", line, []string{"bundle.js"}},
		{"", tgz(t, "package/a.js", line), []string{"!package/a.js"}},
		{"pkg.tgz", tgz(t, "package/a.js", line), []string{"pkg.tgz!package/a.js"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, _ := run(t, &filesource.Stdin{R: bytes.NewReader(tt.data), Name: tt.name})
			if got := res.found(); !slices.Equal(got, tt.want) {
				t.Errorf("found at %q, want %q", got, tt.want)
			}
			for _, h := range res.hits {
				if h.Location.Source != finding.SourceStdin {
					t.Errorf("source %q", h.Location.Source)
				}
			}
		})
	}
}

// A large file is scanned in memory bounded by the detector's window, and a
// key at its very end is found.
func TestLargeFileConstantMemory(t *testing.T) {
	dir := t.TempDir()
	name := filepath.Join(dir, "big.log")
	k := testkit.NewKey(t, patterns.Development)
	f, err := os.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	const size = 64 << 20
	if err := f.Truncate(size); err != nil { // sparse: zeros for free
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte("\n"+k+"\n"), size); err != nil {
		t.Fatal(err)
	}
	f.Close()

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	res, st := run(t, &filesource.Source{Roots: []string{name}})
	runtime.ReadMemStats(&after)
	if len(res.hits) != 1 || res.hits[0].Location.Line != 2 {
		t.Fatalf("hits %+v", res.hits)
	}
	if st.Bytes < size {
		t.Errorf("read %d bytes", st.Bytes)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 16<<20 {
		t.Errorf("scanning %d MiB allocated %d MiB: not constant memory", size>>20, alloc>>20)
	}
}

// BenchmarkDir scans a tree of plain text and minified JavaScript.
func BenchmarkDir(b *testing.B) {
	dir := b.TempDir()
	var total int64
	text := []byte(strings.Repeat("The quick brown fox jumps over the lazy dog; nothing to see here.\n", 1000))
	js := []byte(strings.Repeat(`var a=function(t){return t&&t.__esModule?t:{default:t}};Object.defineProperty(e,"__esModule",{value:!0});`, 10000))
	for i := range 200 {
		write(b, filepath.Join(dir, "docs", fmt.Sprintf("d%03d.txt", i)), text)
		total += int64(len(text))
	}
	for i := range 20 {
		write(b, filepath.Join(dir, "dist", fmt.Sprintf("chunk%02d.min.js", i)), js)
		total += int64(len(js))
	}
	b.SetBytes(total)
	b.ReportAllocs()
	for b.Loop() {
		e := &scanner.Engine{Expanders: []scanner.Expander{&archive.Expander{}}}
		if _, err := e.Run(context.Background(), &filesource.Source{Roots: []string{dir}}, &result{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLargeStream reports the memory for a 256 MiB stream: B/op is
// about the detector's window whatever the size.
func BenchmarkLargeStream(b *testing.B) {
	const size = 256 << 20
	b.SetBytes(size)
	b.ReportAllocs()
	for b.Loop() {
		e := &scanner.Engine{Expanders: []scanner.Expander{&archive.Expander{}}}
		src := &filesource.Stdin{R: io.LimitReader(textReader{}, size), Name: "big.log"}
		if _, err := e.Run(context.Background(), src, &result{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLargeTgzMember: a 256 MiB member of a tgz streams through
// gzip, tar and the detector in constant memory.
func BenchmarkLargeTgzMember(b *testing.B) {
	const size = 256 << 20
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	tw := tar.NewWriter(zw)
	tw.WriteHeader(&tar.Header{Name: "big.log", Size: size, Mode: 0o644, Typeflag: tar.TypeReg})
	io.Copy(tw, io.LimitReader(textReader{}, size))
	tw.Close()
	zw.Close()
	data := buf.Bytes()
	b.SetBytes(size)
	b.ReportAllocs()
	for b.Loop() {
		e := &scanner.Engine{Expanders: []scanner.Expander{&archive.Expander{}}, Limits: scanner.Limits{MaxRatio: -1}}
		res := &result{}
		e.OnSkip = func(s scanner.Skip) { res.skips = append(res.skips, s) }
		if _, err := e.Run(context.Background(), &filesource.Stdin{R: bytes.NewReader(data), Name: "x.tgz"}, res); err != nil {
			b.Fatal(err)
		}
		if len(res.skips) > 0 {
			b.Fatal(res.skips)
		}
	}
}

// textReader is an endless stream of log-like text without keys.
type textReader struct{}

var logLine = []byte("2026-11-26T00:00:00Z INFO request served path=/api/v1/jobs status=200 atmx_ is not a key\n")

func (textReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		n += copy(p[n:], logLine)
	}
	return n, nil
}

func TestReadRelative(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "site", "js", "app.js"), []byte("x"))
	write(t, filepath.Join(dir, "site", "js", "app.js.map"), []byte("map"))
	write(t, filepath.Join(dir, "site", "maps", "other.map"), []byte("other"))
	write(t, filepath.Join(dir, "secret.txt"), []byte("outside"))
	mkfifo(t, filepath.Join(dir, "site", "js", "pipe.map"))
	site := filepath.Join(dir, "site")
	tests := []struct {
		name       string
		roots      []string
		label, ref string
		want       string // "" for an error wrapping fs.ErrNotExist
	}{
		{"beside", []string{site}, "js/app.js", "app.js.map", "map"},
		{"up and over", []string{site}, "js/app.js", "../maps/other.map", "other"},
		{"out of the root", []string{site}, "js/app.js", "../../secret.txt", ""},
		{"absolute", []string{site}, "js/app.js", filepath.Join(dir, "secret.txt"), ""},
		{"a FIFO", []string{site}, "js/app.js", "pipe.map", ""},
		{"inside an archive", []string{site}, "js/a.zip!app.js", "app.js.map", ""},
		{"several roots", []string{site, dir}, filepath.ToSlash(site) + "/js/app.js", "app.js.map", "map"},
		{"file root", []string{filepath.Join(site, "js", "app.js")}, filepath.ToSlash(filepath.Join(site, "js", "app.js")), "app.js.map", "map"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := &filesource.Source{Roots: tt.roots}
			got, err := src.ReadRelative(tt.label, tt.ref, 1<<20)
			if tt.want == "" {
				if !errors.Is(err, fs.ErrNotExist) {
					t.Errorf("got %q, %v; want ErrNotExist", got, err)
				}
				return
			}
			if err != nil || string(got) != tt.want {
				t.Errorf("got %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}
