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
	items, bytes atomic.Int64
	total        atomic.Int64 // expected bytes when known, for an ETA
	start        time.Time
	stop         func()
}

func startProgress(w io.Writer) *progress {
	p := &progress{start: time.Now()}
	p.stop = statusLine(w, func() string {
		if time.Since(p.start) <= time.Second {
			return "" // a quick scan draws nothing
		}
		return p.line()
	})
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

// statusLine redraws line() on w four times a second until stopped, then
// clears it; an empty line() leaves the terminal alone. Every status line
// of the CLI (a scan's objects, an org scan's repositories) is drawn here.
func statusLine(w io.Writer, line func() string) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(250 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				fmt.Fprint(w, "\r\033[K")
				return
			case <-t.C:
				if s := line(); s != "" {
					fmt.Fprint(w, "\r\033[K"+s)
				}
			}
		}
	}()
	return func() { close(done); wg.Wait() }
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
