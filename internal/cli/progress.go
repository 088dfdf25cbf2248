package cli

import (
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"
)

// progress draws one status line on a terminal's stderr while a scan runs.
type progress struct {
	w            io.Writer
	items, bytes atomic.Int64
	total        atomic.Int64 // expected bytes when known, for an ETA
	start        time.Time
	done         chan struct{}
	wg           sync.WaitGroup
}

func startProgress(w io.Writer) *progress {
	p := &progress{w: w, start: time.Now(), done: make(chan struct{})}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		t := time.NewTicker(250 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-p.done:
				fmt.Fprint(p.w, "\r\033[K")
				return
			case <-t.C:
				if time.Since(p.start) > time.Second {
					fmt.Fprint(p.w, "\r\033[K"+p.line())
				}
			}
		}
	}()
	return p
}

func (p *progress) update(items, bytes int64) {
	p.items.Store(items)
	p.bytes.Store(bytes)
}

func (p *progress) line() string {
	el := time.Since(p.start).Seconds()
	b := p.bytes.Load()
	rate := float64(b) / el
	s := fmt.Sprintf("scanning: %d objects, %s, %s/s", p.items.Load(), humanBytes(float64(b)), humanBytes(rate))
	if t := p.total.Load(); t > 0 && rate > 0 && b < t {
		s += fmt.Sprintf(", ETA %s", (time.Duration(float64(t-b)/rate) * time.Second).Round(time.Second))
	}
	return s
}

func (p *progress) stop() {
	close(p.done)
	p.wg.Wait()
}

func humanBytes(f float64) string {
	units := []string{"B", "KB", "MB", "GB", "TB"}
	i := 0
	for f >= 1000 && i < len(units)-1 {
		f /= 1000
		i++
	}
	return fmt.Sprintf("%.1f %s", f, units[i])
}
