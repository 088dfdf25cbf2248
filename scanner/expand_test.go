package scanner

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/atomyx/atomyx-guard/internal/finding"
	"github.com/atomyx/atomyx-guard/patterns"
)

// collect is a Sink and skip log for tests.
type collect struct {
	mu    sync.Mutex
	hits  []finding.Hit
	skips []Skip
}

func (c *collect) Hit(h finding.Hit)         { c.mu.Lock(); c.hits = append(c.hits, h); c.mu.Unlock() }
func (c *collect) NearMiss(finding.NearMiss) {}
func (c *collect) skip(s Skip)               { c.mu.Lock(); c.skips = append(c.skips, s); c.mu.Unlock() }

func (c *collect) at(fp string) []string {
	var out []string
	for _, h := range c.hits {
		if h.Fingerprint == fp {
			out = append(out, h.Location.Path)
		}
	}
	slices.Sort(out)
	return out
}

func (c *collect) skipped(substr string) bool {
	for _, s := range c.skips {
		if strings.Contains(s.Reason, substr) {
			return true
		}
	}
	return false
}

type itemList []Item

func (l itemList) Items(ctx context.Context, emit func(Item) error) error {
	for _, it := range l {
		if err := emit(it); err != nil {
			return err
		}
	}
	return nil
}

// splitter expands "*.split" items: parts separated by "\n--\n", emitted
// as part1, part2, ... in memory or as streams.
type splitter struct {
	scanText bool
	stream   bool
	// readOnly stops reading after this many bytes when > 0.
	readOnly int
	// fail makes part n fail to open.
	fail int
	// panics, blocks: misbehave.
	panics, blocks bool
}

func (s *splitter) Match(it Item, head []byte) (bool, bool) {
	return strings.HasSuffix(it.Loc.Path, ".split") || bytes.HasPrefix(head, []byte("SPLIT\n")), s.scanText
}

func (s *splitter) Expand(ctx context.Context, it Item, r io.Reader, emit func(Item) error) error {
	if s.panics {
		panic("splitter: hostile input")
	}
	if s.blocks {
		<-ctx.Done()
		return ctx.Err()
	}
	if s.readOnly > 0 {
		r = io.LimitReader(r, int64(s.readOnly))
	}
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	data = bytes.TrimPrefix(data, []byte("SPLIT\n"))
	for i, part := range bytes.Split(data, []byte("\n--\n")) {
		in := Item{Loc: InnerLocation(it.Loc, fmt.Sprintf("part%d", i+1)), Data: part, Size: int64(len(part))}
		if s.stream || i+1 == s.fail {
			p := part
			in.Data = nil
			in.Open = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(p)), nil }
			if i+1 == s.fail {
				in.Open = func() (io.ReadCloser, error) { return nil, errors.New("cannot open part") }
			}
		}
		if err := emit(in); err != nil {
			return err
		}
	}
	return nil
}

func key(t testing.TB) string {
	t.Helper()
	k, err := patterns.Generate(patterns.Staging)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func fpOf(k string) string { return patterns.Fingerprint([]byte(k)) }

func runEngine(t *testing.T, e *Engine, its ...Item) (*collect, Stats) {
	t.Helper()
	c := &collect{}
	e.OnSkip = c.skip
	st, err := e.Run(context.Background(), itemList(its), c)
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	return c, st
}

func memItem(path string, data []byte) Item {
	return Item{Loc: finding.Location{Source: finding.SourceFile, Path: path}, Data: data, Size: int64(len(data))}
}

func streamItem(path string, data []byte) Item {
	return Item{Loc: finding.Location{Source: finding.SourceFile, Path: path}, Size: -1,
		Open: func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }}
}

func TestExpansion(t *testing.T) {
	k1, k2, k3 := key(t), key(t), key(t)
	content := []byte("a = " + k1 + "\n--\nb = " + k2 + "\n--\n" + strings.Repeat("filler\n", 1000) + "c = " + k3 + "\n")
	tests := []struct {
		name   string
		ex     *splitter
		path   string
		want   map[string][]string
		skip   string
		skips  int
		inners int64
	}{
		{"parts in memory", &splitter{}, "x.split", map[string][]string{
			fpOf(k1): {"x.split!part1"}, fpOf(k2): {"x.split!part2"}, fpOf(k3): {"x.split!part3"}}, "", 0, 3},
		{"parts as streams", &splitter{stream: true}, "x.split", map[string][]string{
			fpOf(k1): {"x.split!part1"}, fpOf(k2): {"x.split!part2"}, fpOf(k3): {"x.split!part3"}}, "", 0, 3},
		{"text scanned too", &splitter{scanText: true}, "x.split", map[string][]string{
			fpOf(k1): {"x.split", "x.split!part1"}, fpOf(k2): {"x.split", "x.split!part2"},
			fpOf(k3): {"x.split", "x.split!part3"}}, "", 0, 3},
		{"text scanned whole when the expander stops early", &splitter{scanText: true, readOnly: 60}, "x.split",
			map[string][]string{fpOf(k1): {"x.split", "x.split!part1"}, fpOf(k2): {"x.split"}, fpOf(k3): {"x.split"}}, "", 0, 2},
		{"a part that fails is skipped, the others scanned", &splitter{fail: 2}, "x.split", map[string][]string{
			fpOf(k1): {"x.split!part1"}, fpOf(k3): {"x.split!part3"}}, "cannot open part", 1, 3},
		{"a panicking expander is a skip", &splitter{panics: true}, "x.split", map[string][]string{}, "failed", 1, 0},
		{"no path: inner paths start with !", &splitter{}, "", map[string][]string{
			fpOf(k1): {"!part1"}, fpOf(k2): {"!part2"}, fpOf(k3): {"!part3"}}, "", 0, 3},
		{"not matched: plain text", &splitter{}, "x.txt", map[string][]string{
			fpOf(k1): {"x.txt"}, fpOf(k2): {"x.txt"}, fpOf(k3): {"x.txt"}}, "", 0, 0},
	}
	for _, tt := range tests {
		for _, stream := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/stream=%v", tt.name, stream), func(t *testing.T) {
				it := memItem(tt.path, content)
				if stream {
					it = streamItem(tt.path, content)
				}
				if tt.path == "" {
					it.Loc.Source = finding.SourceStdin
					it.Data = append([]byte("SPLIT\n"), content...)
					if stream {
						data := it.Data
						it.Data = nil
						it.Open = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }
					}
				}
				size := int64(len(content))
				if tt.path == "" {
					size += int64(len("SPLIT\n"))
				}
				c, st := runEngine(t, &Engine{Expanders: []Expander{tt.ex}}, it)
				if st.Bytes != size && !tt.ex.panics {
					t.Errorf("stats: %d bytes read, want %d", st.Bytes, size)
				}
				for fp, want := range tt.want {
					if got := c.at(fp); !slices.Equal(got, want) {
						t.Errorf("key %d found at %q, want %q", slices.Index([]string{fpOf(k1), fpOf(k2), fpOf(k3)}, fp)+1, got, want)
					}
				}
				if len(c.hits) != countLocs(tt.want) {
					t.Errorf("%d hits, want %d", len(c.hits), countLocs(tt.want))
				}
				if len(c.skips) != tt.skips || (tt.skip != "" && !c.skipped(tt.skip)) {
					t.Errorf("skips %v, want %d with %q", c.skips, tt.skips, tt.skip)
				}
				if st.Items != 1 || st.Inner != tt.inners {
					t.Errorf("stats %+v, want 1 item, %d inner", st, tt.inners)
				}
			})
		}
	}
}

func countLocs(m map[string][]string) int {
	n := 0
	for _, v := range m {
		n += len(v)
	}
	return n
}

func TestExpansionLimits(t *testing.T) {
	k := key(t)
	// A splitter whose part 2 is 4 MiB out of an item of 4 MiB: ratio 1,
	// so only the total limit can stop it.
	big := append([]byte(k+"\n--\n"), bytes.Repeat([]byte("z"), 4<<20)...)
	big = append(big, []byte("\n"+k+"\n--\n"+k)...)
	t.Run("total", func(t *testing.T) {
		c, _ := runEngine(t, &Engine{Expanders: []Expander{&splitter{stream: true}},
			Limits: Limits{MaxTotalBytes: 2 << 20}}, memItem("x.split", big))
		if got := c.at(fpOf(k)); !slices.Equal(got, []string{"x.split!part1"}) {
			t.Errorf("found at %v", got)
		}
		if len(c.skips) != 1 || !c.skipped("expansion limit: more than 2.0 MiB") {
			t.Errorf("skips %v", c.skips)
		}
	})
	t.Run("time", func(t *testing.T) {
		c, _ := runEngine(t, &Engine{Expanders: []Expander{&splitter{blocks: true}},
			Limits: Limits{MaxTime: 20 * time.Millisecond}}, memItem("x.split", big), memItem("plain.txt", []byte(k)))
		if !c.skipped("time limit") || len(c.skips) != 1 {
			t.Errorf("skips %v", c.skips)
		}
		if got := c.at(fpOf(k)); !slices.Equal(got, []string{"plain.txt"}) {
			t.Errorf("the other item was not scanned: %v", got)
		}
	})
	t.Run("ratio floor", func(t *testing.T) {
		// 512 KiB out of a few bytes: far over the ratio, under the floor.
		ex := &growing{n: 512 << 10}
		c, _ := runEngine(t, &Engine{Expanders: []Expander{ex}}, memItem("x.grow", []byte("tiny")))
		if len(c.skips) != 0 {
			t.Errorf("skips %v", c.skips)
		}
		ex.n = 4 << 20
		c, _ = runEngine(t, &Engine{Expanders: []Expander{ex}}, memItem("x.grow", []byte("tiny")))
		if !c.skipped("zip bomb") {
			t.Errorf("skips %v", c.skips)
		}
	})
}

// growing emits one inner stream of n zero bytes whatever its input.
type growing struct{ n int64 }

func (g *growing) Match(it Item, head []byte) (bool, bool) {
	return strings.HasSuffix(it.Loc.Path, ".grow"), false
}
func (g *growing) Expand(ctx context.Context, it Item, r io.Reader, emit func(Item) error) error {
	io.Copy(io.Discard, r)
	return emit(Item{Loc: InnerLocation(it.Loc, "zeros"), Size: -1, Open: func() (io.ReadCloser, error) {
		return io.NopCloser(io.LimitReader(zeroReader{}, g.n)), nil
	}})
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) { clear(p); return len(p), nil }

func TestSkipReasonItem(t *testing.T) {
	it := Item{Loc: finding.Location{Source: finding.SourceFile, Path: "fifo"}, SkipReason: "named pipe: not a regular file"}
	c, st := runEngine(t, &Engine{}, it)
	if len(c.skips) != 1 || c.skips[0].Where != "fifo" || c.skips[0].Reason != it.SkipReason {
		t.Errorf("skips %v", c.skips)
	}
	if st.Items != 0 || st.Skips != 1 {
		t.Errorf("stats %+v", st)
	}
}

func TestLabel(t *testing.T) {
	k := key(t)
	tests := []struct{ in, want string }{
		{"src/app.js", "src/app.js"},
		{"../../etc/passwd", "../../etc/passwd"},
		{"a\x1b[31mred\x07.txt", "a\uFFFD[31mred\uFFFD.txt"},
		{"bad\xffutf8", "bad\uFFFDutf8"},
		{"rtl\u202Etxt.exe", "rtl\uFFFDtxt.exe"},
		{"ünïcödé/名前.txt", "ünïcödé/名前.txt"},
		{k + ".txt", patterns.Redact([]byte(k)) + ".txt"},
		{"x" + k + "y", "x" + patterns.Redact([]byte(k+"y"))},
		{"atmx_short", "atmx_short"},
		{"dir/" + strings.ReplaceAll(k, "_", "%5F") + ".txt", "dir/" + patterns.Redact([]byte(k)) + ".txt"},
		{strings.ReplaceAll(k, "_", "&#95;"), patterns.Redact([]byte(k))},
	}
	for _, tt := range tests {
		if got := Label(tt.in); got != tt.want {
			t.Errorf("Label(%q) = %q, want %q", patterns.RedactRuns(tt.in), got, tt.want)
		}
	}
	outer := finding.Location{Source: "git", Path: "a.zip", Line: 3, Column: 4, Blob: "abc", Decoded: []string{"base64"}}
	got := InnerLocation(outer, "b.txt")
	want := finding.Location{Source: "git", Path: "a.zip!b.txt", Blob: "abc"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("InnerLocation = %+v, want %+v", got, want)
	}
}

// FuzzLabel: whatever a hostile archive names its members, the label is
// valid UTF-8, has no control characters, and holds no key-length run
// after the key prefix.
func FuzzLabel(f *testing.F) {
	f.Add("src/app.js")
	f.Add("a\x1b[2J\xff" + "atmx_prd_0123456789ABCDEFGHIJKLMNOPQRSTUV1wkvFj.txt")
	f.Add("atmx_atmx_prd_" + strings.Repeat("A", 40))
	f.Fuzz(func(t *testing.T, name string) {
		got := Label(name)
		if !utf8.ValidString(got) {
			t.Fatalf("invalid UTF-8: %q", got)
		}
		for _, r := range got {
			if unicode.IsControl(r) {
				t.Fatalf("control character in %q", got)
			}
		}
		for s := got; ; {
			i := strings.Index(s, patterns.Prefix)
			if i < 0 {
				break
			}
			run := 0
			for j := i + len(patterns.Prefix); j < len(s) && (s[j] == '_' || patterns.IsBase62(s[j])); j++ {
				run++
			}
			if len(patterns.Prefix)+run > patterns.RedactedLen {
				t.Fatalf("unredacted run in %q", got)
			}
			s = s[i+1:]
		}
	})
}
