// Package backoff is how this program waits before retrying a remote
// service (the Atomyx Vault, GitHub): exponential delays with jitter, the
// Retry-After header, and a sleep that a context ends and that tests
// replace. Both clients retry differently (what is worth a retry is theirs
// to judge) but wait the same way, so the waiting lives here once.
package backoff

import (
	"context"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// SleepFunc waits d or until ctx is done, returning ctx's error then.
// Clients take one so that tests wait no real time.
type SleepFunc func(ctx context.Context, d time.Duration) error

// Sleep is the real SleepFunc. A d of zero or less returns at once (with
// ctx's error, if any).
func Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Policy is exponential backoff with jitter: the wait before retry n+1 is
// Base doubled n times, at most Max, drawn from [d/2, d] so that clients
// failing together do not retry together.
type Policy struct {
	Base, Max time.Duration
}

// Delay is the wait before retry n+1 (n counts from 0).
func (p Policy) Delay(n int) time.Duration {
	d := p.Base
	for i := 0; i < n && d < p.Max; i++ {
		d *= 2
	}
	d = min(d, p.Max)
	if d <= 0 {
		return 0
	}
	return d/2 + rand.N(d/2+1)
}

// ParseRetryAfter reads a Retry-After value: delay seconds or an HTTP
// date, relative to now. ok is false for anything else.
func ParseRetryAfter(v string, now time.Time) (d time.Duration, ok bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if n, err := strconv.ParseUint(v, 10, 32); err == nil {
		return time.Duration(n) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}
