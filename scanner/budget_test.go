package scanner

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"

	"github.com/atomyx/atomyx-guard/internal/finding"
	"github.com/atomyx/atomyx-guard/patterns"
)

// A decoding budget that runs out is a skip with its reason, never a
// silent miss, and the text after the pathological region is still
// decoded: about 50 KB of escapes nested three ways hid a key written with
// \u005f after them, and the scan said nothing. Now the key is found after
// 50 KB or 500 KB of them, and the regions that ran out are reported.
func TestDecodingBudgetIsASkip(t *testing.T) {
	k := detKey(t, patterns.Production)
	for _, tc := range []struct {
		reps int
		skip bool
	}{{2000, true}, {20000, true}} {
		testDecodingBudget(t, k, tc.reps, tc.skip)
	}
}

func testDecodingBudget(t *testing.T, k string, reps int, wantSkip bool) {
	filler := strings.Repeat(`%2541\x41&#65;\u0025&#37;`, reps)
	data := []byte(filler + "\nconst k = \"" + strings.ReplaceAll(k, "_", `\u005f`) + "\";\n")
	for _, stream := range []bool{false, true} {
		c := &collect{}
		e := &Engine{OnSkip: c.skip}
		it := Item{Loc: finding.Location{Source: finding.SourceFile, Path: "bundle.js"}, Data: data}
		if stream {
			it = Item{Loc: it.Loc, Size: -1, Open: func() (io.ReadCloser, error) {
				return io.NopCloser(bytes.NewReader(data)), nil
			}}
		}
		if _, err := e.Run(context.Background(), itemList{it}, c); err != nil {
			t.Fatal(err)
		}
		if got := c.at(patterns.Fingerprint([]byte(k))); len(got) != 1 {
			t.Errorf("%d bytes, stream=%v: key after the nested escapes found at %v, want once", len(filler), stream, got)
		}
		if !wantSkip {
			if len(c.skips) != 0 {
				t.Errorf("%d bytes, stream=%v: skips %+v", len(filler), stream, c.skips)
			}
			continue
		}
		if len(c.skips) != 1 || c.skips[0].Where != "bundle.js" || !strings.Contains(c.skips[0].Reason, "decoding budget ran out") {
			t.Errorf("%d bytes, stream=%v: skips %+v, want the budget reported", len(filler), stream, c.skips)
		}
	}
}
