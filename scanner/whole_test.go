package scanner

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/atomyx/atomyx-guard/internal/finding"
)

// sizedFile is an opened file as a source hands it over: readable at
// offsets, with the size its stat said, which may no longer be true.
type sizedFile struct {
	*bytes.Reader
	size int64
}

func (f sizedFile) Size() int64  { return f.size }
func (f sizedFile) Close() error { return nil }

// Files and streams of known size are read whole before they are scanned;
// what they hold is scanned all the same when a size was unknown until opened,
// when it grew or shrank since its stat, and when it is too large to be
// read whole: a key at its very end is found once, with the file's bytes
// counted, and nothing is skipped.
func TestFilesReadWhole(t *testing.T) {
	k := key(t)
	for _, n := range []int{100, smallItem + 10, wholeItem + 1000} {
		data := []byte(strings.Repeat("x", n-len(k)-2) + "\n" + k + "\n")
		for _, tc := range []struct {
			name  string
			given int64 // Item.Size
			stat  int64 // Size() of the opened file
		}{
			{"size known", int64(n), int64(n)},
			{"size learned on opening", -1, int64(n)},
			{"grew since stat", int64(n / 2), int64(n / 2)},
			{"shrank since stat", int64(n + 100), int64(n + 100)},
		} {
			t.Run(fmt.Sprintf("%d bytes, %s", n, tc.name), func(t *testing.T) {
				for _, v := range []struct {
					path, want string
					ex         []Expander
				}{
					{"f.txt", "f.txt", nil},
					{"f.txt", "f.txt", []Expander{&splitter{}}},
					{"f.split", "f.split!part1", []Expander{&splitter{}}},
				} {
					for _, file := range []bool{true, false} {
						it := Item{Loc: finding.Location{Source: finding.SourceFile, Path: v.path}, Size: tc.given,
							Open: func() (io.ReadCloser, error) {
								if !file { // a stream: a git blob
									return io.NopCloser(bytes.NewReader(data)), nil
								}
								return sizedFile{bytes.NewReader(data), tc.stat}, nil
							}}
						c, st := runEngine(t, &Engine{Detector: &Detector{Plain: true}, Expanders: v.ex}, it)
						if got := c.at(fpOf(k)); len(got) != 1 || got[0] != v.want {
							t.Errorf("%s, %d expanders: key at %v, want once in %s", v.path, len(v.ex), got, v.want)
						}
						// An expander that may read at offsets counts the size
						// the stat said when it exceeds what was read.
						if st.Bytes < int64(n) || len(c.skips) != 0 {
							t.Errorf("%s, %d expanders: %d bytes, skips %v; want %d, none", v.path, len(v.ex), st.Bytes, c.skips, n)
						}
					}
				}
			})
		}
	}
}
