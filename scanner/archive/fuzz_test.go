package archive_test

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/atomyx/atomyx-guard/internal/finding"
	"github.com/atomyx/atomyx-guard/scanner"
	"github.com/atomyx/atomyx-guard/scanner/archive"
)

// FuzzExpand feeds any bytes, under any name, to the archive expander
// through the Engine, as a buffer and as a stream: no panic (the Engine
// would turn one into a skip, so a skip saying "failed" fails the test), no
// hang past the limits, no temporary file left, and nothing that looks like
// a whole key in a label.
func FuzzExpand(f *testing.F) {
	k := "atmx_prd_0123456789ABCDEFGHIJKLMNOPQRSTUV1wkvFj" // a published test vector
	line := []byte("key=" + k + "\n")
	tarData := makeTar(f, file{"a.txt", line})
	zipData := makeZip(f, file{"a.txt", line}, file{"b/c.gz", gz(f, line)})
	for _, seed := range []struct {
		name string
		data []byte
	}{
		{"a.zip", zipData},
		{"a.zip", zipData[:len(zipData)/2]},
		{"a.tar", tarData},
		{"a.tgz", gz(f, tarData)},
		{"a.gz", gz(f, gz(f, line))},
		{"a.js.br", br(f, line)},
		{"a.zst", zst(f, tarData)},
		{"a.jar", line},
		{"x", makeZip(f, file{"in.tgz", gz(f, tarData)})},
	} {
		f.Add(seed.name, seed.data)
	}
	if _, err := lookBzip2(); err == nil {
		f.Add("a.bz2", bz2(f, line))
	}
	f.Fuzz(func(t *testing.T, name string, data []byte) {
		tmp := t.TempDir()
		for _, stream := range []bool{false, true} {
			var skips []scanner.Skip
			res := &result{}
			e := &scanner.Engine{
				Workers:   1,
				Detector:  &scanner.Detector{Window: 64 << 10},
				Expanders: []scanner.Expander{&archive.Expander{MemLimit: 64 << 10, TempDir: tmp}},
				Limits:    scanner.Limits{MaxDepth: 3, MaxTotalBytes: 256 << 10, MaxTime: 5 * time.Second},
				OnSkip:    func(s scanner.Skip) { skips = append(skips, s) },
			}
			it := scanner.Item{Loc: finding.Location{Source: "file", Path: name}, Data: data, Size: int64(len(data))}
			if stream {
				it.Data, it.Size = nil, -1
				it.Open = func() (io.ReadCloser, error) { return io.NopCloser(onlyReader{bytes.NewReader(data)}), nil }
			}
			if _, err := e.Run(context.Background(), items{it}, res); err != nil {
				t.Fatalf("run: %v", err)
			}
			for _, s := range skips {
				if strings.Contains(s.Reason, "failed:") || strings.Contains(s.Reason, "time limit") {
					t.Fatalf("skip %q: %q", s.Where, s.Reason)
				}
			}
			for _, h := range res.hits {
				if strings.Contains(h.Location.Path, k) {
					t.Fatalf("whole key in a path")
				}
			}
		}
		if left, _ := filepathGlob(tmp); len(left) != 0 {
			t.Fatalf("temporary files left: %v", left)
		}
	})
}
