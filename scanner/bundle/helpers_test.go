package bundle

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"

	"github.com/atomyx/atomyx-guard/internal/finding"
	"github.com/atomyx/atomyx-guard/internal/testkit"
	"github.com/atomyx/atomyx-guard/patterns"
	"github.com/atomyx/atomyx-guard/scanner"
)

// decoys returns key-shaped text that must not be reported: a bad
// checksum and a key with its prefix in upper case (a glued key is a key:
// key-format.md).
func decoys(t testing.TB) (badChecksum, upper string) {
	k := testkit.NewKey(t, patterns.Production)
	last := k[len(k)-1]
	repl := byte('0')
	if last == '0' {
		repl = '1'
	}
	k2 := testkit.NewKey(t, patterns.Production)
	return k[:len(k)-1] + string(repl), strings.ToUpper(k2[:9]) + k2[9:]
}

type sliceSource []scanner.Item

func (s sliceSource) Items(ctx context.Context, emit func(scanner.Item) error) error {
	for _, it := range s {
		if err := emit(it); err != nil {
			return err
		}
	}
	return nil
}

// scan runs the real Engine with ex over items.
func scan(t testing.TB, ex *Expander, items ...scanner.Item) (*finding.Set, []finding.Skip) {
	t.Helper()
	set := finding.NewSet()
	var (
		mu    sync.Mutex
		skips []finding.Skip
	)
	eng := &scanner.Engine{
		Expanders: []scanner.Expander{ex},
		OnSkip: func(s finding.Skip) {
			mu.Lock()
			skips = append(skips, s)
			mu.Unlock()
		},
	}
	if _, err := eng.Run(context.Background(), sliceSource(items), set); err != nil {
		t.Fatal(err)
	}
	return set, skips
}

func fileItem(path, content string) scanner.Item {
	return scanner.Item{Loc: finding.Location{Source: finding.SourceFile, Path: path}, Data: []byte(content), Size: int64(len(content))}
}

// locationsOf returns the locations of key in set.
func locationsOf(set *finding.Set, key string) []finding.Location {
	fp := patterns.Fingerprint([]byte(key))
	for _, f := range set.Findings() {
		if f.Fingerprint == fp {
			return f.Locations
		}
	}
	return nil
}

// vlqEnc encodes values as Base64 VLQ.
func vlqEnc(vs ...int) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	var b strings.Builder
	for _, v := range vs {
		u := v << 1
		if v < 0 {
			u = -v<<1 | 1
		}
		for {
			d := u & 31
			u >>= 5
			if u > 0 {
				d |= 32
			}
			b.WriteByte(alphabet[d])
			if u == 0 {
				break
			}
		}
	}
	return b.String()
}

// seg is one mapping in absolute, 0-based terms.
type seg struct{ genCol, src, line, col int }

// encodeMappings writes lines of segments as a mappings string.
func encodeMappings(lines [][]seg) string {
	var b strings.Builder
	var ps seg
	for i, l := range lines {
		if i > 0 {
			b.WriteByte(';')
		}
		prevCol := 0
		for j, s := range l {
			if j > 0 {
				b.WriteByte(',')
			}
			b.WriteString(vlqEnc(s.genCol-prevCol, s.src-ps.src, s.line-ps.line, s.col-ps.col))
			prevCol = s.genCol
			ps.src, ps.line, ps.col = s.src, s.line, s.col
		}
	}
	return b.String()
}

type testMap struct {
	Version        int       `json:"version"`
	File           string    `json:"file,omitempty"`
	SourceRoot     string    `json:"sourceRoot,omitempty"`
	Sources        []string  `json:"sources"`
	SourcesContent []*string `json:"sourcesContent,omitempty"`
	Names          []string  `json:"names"`
	Mappings       string    `json:"mappings"`
}

func mapJSON(t testing.TB, m testMap) string {
	t.Helper()
	m.Version = 3
	if m.Names == nil {
		m.Names = []string{}
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func strp(s string) *string { return &s }
