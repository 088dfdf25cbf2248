package scanner

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/atomyx/atomyx-guard/internal/finding"
	"github.com/atomyx/atomyx-guard/internal/testkit"
	"github.com/atomyx/atomyx-guard/patterns"
)

type lockedHits struct {
	mu   sync.Mutex
	hits []finding.Hit
}

func (l *lockedHits) Hit(h finding.Hit) {
	l.mu.Lock()
	l.hits = append(l.hits, h)
	l.mu.Unlock()
}
func (l *lockedHits) NearMiss(finding.NearMiss) {}

// Small items go to workers in batches; every item is still scanned once,
// with its own location, and released once.
func TestEngineBatchesSmallItems(t *testing.T) {
	k := testkit.NewKey(t, patterns.Production)
	var released atomic.Int64
	var items itemList
	want := map[string]bool{}
	for i := range 1000 {
		body := strings.Repeat("filler ", i%50)
		path := fmt.Sprintf("f%04d", i)
		if i%97 == 0 {
			body += k
			want[path] = true
		}
		items = append(items, Item{Loc: finding.Location{Path: path}, Data: []byte(body), Release: func() { released.Add(1) }})
	}
	// One large item among them is dispatched alone.
	items = append(items, Item{Loc: finding.Location{Path: "big"}, Data: []byte(strings.Repeat("x", batchBytes) + " " + k), Release: func() { released.Add(1) }})
	want["big"] = true
	// Files not yet opened, of unknown size (batched) and known to be
	// large (alone), as a directory walk gives them.
	for i, size := range []int{-1, -1, batchBytes, -1, 3 << 20} {
		body := strings.Repeat("filler ", 100) + k
		if size > 0 {
			body = strings.Repeat("y", size) + " " + k
		}
		path := fmt.Sprintf("opened%d", i)
		want[path] = true
		items = append(items, Item{Loc: finding.Location{Path: path}, Size: int64(size),
			Open:    func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader(body)), nil },
			Release: func() { released.Add(1) }})
	}

	var sink lockedHits
	e := &Engine{Workers: 2}
	st, err := e.Run(context.Background(), items, &sink)
	if err != nil {
		t.Fatal(err)
	}
	if st.Items != int64(len(items)) || released.Load() != int64(len(items)) {
		t.Fatalf("scanned %d, released %d, want %d each", st.Items, released.Load(), len(items))
	}
	got := map[string]bool{}
	for _, h := range sink.hits {
		if got[h.Location.Path] {
			t.Errorf("%s reported twice", h.Location.Path)
		}
		got[h.Location.Path] = true
	}
	if len(got) != len(want) {
		t.Fatalf("hits in %d items, want %d", len(got), len(want))
	}
	for p := range want {
		if !got[p] {
			t.Errorf("no hit in %s", p)
		}
	}
}

// An Engine holds settings only: runs, one after the other or at once,
// each count their own items, and a copy of an Engine is a plain copy.
func TestEngineRunsCountApart(t *testing.T) {
	items := itemList{
		{Loc: finding.Location{Path: "a"}, Data: []byte("one")},
		{Loc: finding.Location{Path: "b"}, Data: []byte("two!")},
	}
	e := &Engine{Workers: 2}
	for i := range 2 {
		st, err := e.Run(context.Background(), items, &lockedHits{})
		if err != nil {
			t.Fatal(err)
		}
		if st.Items != 2 || st.Bytes != 7 {
			t.Errorf("run %d: %d items, %d bytes; want 2 and 7 (this run's alone)", i+1, st.Items, st.Bytes)
		}
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			if st, err := e.Run(context.Background(), items, &lockedHits{}); err != nil || st.Items != 2 {
				t.Errorf("concurrent run: %+v, %v", st, err)
			}
		})
	}
	wg.Wait()
}

// batchWeight batches what is small or of unknown size, and sends alone
// what is known to be large.
func TestBatchWeight(t *testing.T) {
	open := func() (io.ReadCloser, error) { return nil, nil }
	for _, c := range []struct {
		name   string
		it     Item
		weight int
		small  bool
	}{
		{"small in memory", Item{Data: make([]byte, 100)}, 100, true},
		{"large in memory", Item{Data: make([]byte, batchBytes)}, batchBytes, false},
		{"unopened, size unknown", Item{Open: open, Size: -1}, unopenedBytes, true},
		{"unopened, tiny", Item{Open: open, Size: 10}, unopenedBytes, true},
		{"unopened, small", Item{Open: open, Size: 40 << 10}, 40 << 10, true},
		{"unopened, large", Item{Open: open, Size: batchBytes / 4}, batchBytes / 4, false},
		{"unopened, huge", Item{Open: open, Size: 1 << 40}, 1 << 40, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			w, small := batchWeight(c.it)
			if w != c.weight || small != c.small {
				t.Errorf("batchWeight = %d, %v; want %d, %v", w, small, c.weight, c.small)
			}
		})
	}
}

// A batch of files of unknown size is shared by the workers: one slow
// file (a large one) does not hold the rest of its batch behind it. Here
// the first file's Open waits until every other file has been scanned,
// which happens only if another worker takes them.
func TestEngineBatchNotHeldBySlowItem(t *testing.T) {
	const n = 12
	var scanned atomic.Int64
	rest := make(chan struct{})
	var items itemList
	for i := range n {
		open := func() (io.ReadCloser, error) {
			if scanned.Add(1) == n-1 && i != 0 {
				close(rest)
			}
			return io.NopCloser(strings.NewReader("text")), nil
		}
		if i == 0 {
			open = func() (io.ReadCloser, error) {
				select {
				case <-rest:
				case <-time.After(time.Minute):
					t.Error("the rest of the batch waited behind its first file")
				}
				return io.NopCloser(strings.NewReader("text")), nil
			}
		}
		items = append(items, Item{Loc: finding.Location{Path: fmt.Sprint(i)}, Size: -1, Open: open})
	}
	st, err := (&Engine{Workers: 2}).Run(context.Background(), items, &lockedHits{})
	if err != nil || st.Items != n {
		t.Fatalf("%d items scanned, %v; want %d", st.Items, err, n)
	}
}

// When a worker fails, the items of its batch that nobody has taken are
// released, each once, and none is scanned after.
func TestSharedBatchReleasesRest(t *testing.T) {
	var released [5]atomic.Int32
	b := &sharedBatch{}
	for i := range released {
		b.items = append(b.items, Item{Release: func() { released[i].Add(1) }})
	}
	var took []int
	err := b.run(func(it Item) error {
		took = append(took, len(took))
		if len(took) == 2 {
			return context.Canceled
		}
		return nil
	})
	if err != context.Canceled || len(took) != 2 {
		t.Fatalf("run: %v after %d items; want context.Canceled after 2", err, len(took))
	}
	for i := range released {
		want := int32(0)
		if i >= 2 {
			want = 1
		}
		if got := released[i].Load(); got != want {
			t.Errorf("item %d released %d times, want %d", i, got, want)
		}
	}
	if err := b.run(func(Item) error { t.Error("an item scanned after the failure"); return nil }); err != nil {
		t.Error(err)
	}
}
