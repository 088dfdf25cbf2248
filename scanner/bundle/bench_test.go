package bundle

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/atomyx/atomyx-guard/internal/finding"
	"github.com/atomyx/atomyx-guard/internal/testkit"
	"github.com/atomyx/atomyx-guard/patterns"
	"github.com/atomyx/atomyx-guard/scanner"
)

// bigBundle makes a single-line minified bundle of about size bytes from a
// multi-line original, its map (mappings and sourcesContent), and a key in
// both near the end.
func bigBundle(b testing.TB, size int) (bundle, sourceMap string) {
	key := testkit.NewKey(b, patterns.Production)
	var gen, orig strings.Builder
	var lines [][]seg
	row := []seg{}
	for i := 0; gen.Len() < size; i++ {
		stmt := fmt.Sprintf("var v%d=\"value-%d\";", i, i)
		if gen.Len() > size-200 && key != "" {
			stmt = fmt.Sprintf("var k=\"%s\";", key)
			key = ""
		}
		row = append(row, seg{gen.Len(), 0, i, 0})
		gen.WriteString(stmt)
		orig.WriteString(strings.ReplaceAll(stmt, "=", " = ") + "\n")
	}
	lines = append(lines, row)
	gen.WriteString("\n//# sourceMappingURL=big.js.map\n")
	sourceMap = mapJSON(b, testMap{Sources: []string{"src/big.ts"}, SourcesContent: []*string{strp(orig.String())}, Mappings: encodeMappings(lines)})
	return gen.String(), sourceMap
}

func BenchmarkExpandBundle(b *testing.B) {
	bundle, sm := bigBundle(b, 4<<20)
	ex := &Expander{LoadMap: func(context.Context, scanner.Item, string) ([]byte, error) { return []byte(sm), nil }}
	items := []scanner.Item{
		{Loc: finding.Location{Source: finding.SourceFile, Path: "big.js"}, Data: []byte(bundle), Size: int64(len(bundle))},
		{Loc: finding.Location{Source: finding.SourceFile, Path: "big.js.map"}, Data: []byte(sm), Size: int64(len(sm))},
	}
	b.Run("plain-detector", func(b *testing.B) {
		// The baseline: the same bytes through the Engine without expanders.
		b.SetBytes(int64(len(bundle) + len(sm)))
		for b.Loop() {
			set := finding.NewSet()
			if _, err := (&scanner.Engine{}).Run(context.Background(), sliceSource(items), set); err != nil || set.Len() != 1 {
				b.Fatal(err, set.Len())
			}
		}
	})
	b.Run("expander", func(b *testing.B) { benchExpand(b, ex, items) })
}

func benchExpand(b *testing.B, ex *Expander, items []scanner.Item) {
	b.SetBytes(int64(len(items[0].Data) + len(items[1].Data)))
	for b.Loop() {
		set, skips := scan(b, ex, items...)
		if set.Len() != 1 || len(skips) != 0 {
			b.Fatalf("found %d keys, skips %v", set.Len(), skips)
		}
		for _, l := range set.Findings()[0].Locations {
			if l.Original == nil || l.Original.Path != "src/big.ts" {
				b.Fatalf("unmapped location %+v", l)
			}
		}
	}
}
