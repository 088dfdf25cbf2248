//go:build unix

package filesource_test

import (
	"context"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/atomyx/atomyx-guard/scanner"
	"github.com/atomyx/atomyx-guard/scanner/archive"
	"github.com/atomyx/atomyx-guard/scanner/bundle"
	"github.com/atomyx/atomyx-guard/scanner/document"
	"github.com/atomyx/atomyx-guard/scanner/filesource"
)

// BenchmarkCorpus scans the directory ATOMYX_BENCH_CORPUS (the tree of
// scripts/bench-bundles.sh, say) as `atomyx-guard dir` does, with the
// plain-literal detector and with every decoder: the first is the cost of
// everything around the detector (walk, reads, expanders, hand-offs), the
// second the whole scan. cpu-s/op is user+sys CPU of the process per scan,
// sys-s/op the system part.
func BenchmarkCorpus(b *testing.B) {
	dir := os.Getenv("ATOMYX_BENCH_CORPUS")
	if dir == "" {
		b.Skip("ATOMYX_BENCH_CORPUS names no directory")
	}
	for _, bc := range []struct {
		name   string
		plain  bool
		expand bool
	}{
		{"plain", true, true},
		{"plain-no-expand", true, false},
		{"decoders", false, true},
	} {
		b.Run(bc.name, func(b *testing.B) {
			var bytes int64
			cpu0 := cpuTime()
			for b.Loop() {
				src := &filesource.Source{Roots: []string{dir}}
				e := &scanner.Engine{Detector: &scanner.Detector{Plain: bc.plain}}
				if bc.expand {
					bx := &bundle.Expander{LoadMap: func(_ context.Context, it scanner.Item, ref string) ([]byte, error) {
						return src.ReadRelative(it.Loc.Path, ref, bundle.MaxMapBytes)
					}}
					e.Expanders = []scanner.Expander{&archive.Expander{}, bx, &document.Expander{}}
				}
				var r result
				e.OnSkip = func(s scanner.Skip) { r.skips = append(r.skips, s) }
				st, err := e.Run(context.Background(), src, &r)
				if err != nil {
					b.Fatal(err)
				}
				if len(r.skips) > 0 {
					b.Fatalf("skips: %v", r.skips[0])
				}
				if len(r.hits) != 1 && !bc.plain {
					b.Fatalf("%d hits, want the one planted", len(r.hits))
				}
				bytes = st.Bytes
			}
			b.SetBytes(bytes)
			cpu := cpuTime()
			b.ReportMetric((cpu.user+cpu.sys-cpu0.user-cpu0.sys).Seconds()/float64(b.N), "cpu-s/op")
			b.ReportMetric((cpu.sys-cpu0.sys).Seconds()/float64(b.N), "sys-s/op")
		})
	}
}

type cpuTimes struct{ user, sys time.Duration }

// cpuTime is the user and system time the process has used.
func cpuTime() cpuTimes {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return cpuTimes{}
	}
	return cpuTimes{time.Duration(ru.Utime.Nano()), time.Duration(ru.Stime.Nano())}
}
