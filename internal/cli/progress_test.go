package cli

import (
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/atomyx/atomyx-guard/internal/testkit"
)

func TestStatusLine(t *testing.T) {
	const clear = "\r\033[K"
	var (
		out   testkit.Buffer
		calls atomic.Int64
		text  atomic.Value
	)
	text.Store("")
	stop := statusLine(&out, func() string { calls.Add(1); return text.Load().(string) })
	for calls.Load() < 2 {
		time.Sleep(10 * time.Millisecond)
	}
	if got := out.String(); got != "" {
		t.Errorf("an empty line drew %q", got)
	}
	text.Store("scanning: 3 objects")
	for !strings.Contains(out.String(), "scanning: 3 objects") {
		time.Sleep(10 * time.Millisecond)
	}
	stop()
	if got := out.String(); !strings.HasPrefix(got, clear+"scanning: 3 objects") || !strings.HasSuffix(got, clear) {
		t.Errorf("status line output %q: want redraws, then a clear", got)
	}
}
