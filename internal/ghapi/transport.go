package ghapi

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/atomyx/atomyx-guard/internal/backoff"
)

// RateLimitedError is returned when GitHub keeps limiting a call beyond the
// retries, or asks for a wait longer than MaxWait.
type RateLimitedError struct {
	Status int
	Wait   time.Duration // what GitHub asked for last
	Reason string
}

func (e *RateLimitedError) Error() string {
	return fmt.Sprintf("GitHub %s (status %d), asked to wait %s", e.Reason, e.Status, e.Wait.Round(time.Second))
}

// transport applies GitHub's manners below go-github, so that go-github
// never records a rate-limited response (it would refuse later calls until
// the reset on its own clock) and so that a retry replays the same request.
type transport struct {
	inner      http.RoundTripper
	spacing    time.Duration
	maxRetries int
	maxWait    time.Duration
	sleep      backoff.SleepFunc

	mu      sync.Mutex // serialises mutating calls
	lastMut time.Time
}

func newTransport(inner http.RoundTripper, cfg Config) *transport {
	t := &transport{inner: inner, spacing: cfg.MutationSpacing, maxRetries: cfg.MaxRetries, maxWait: cfg.MaxWait, sleep: cfg.Sleep}
	if t.spacing == 0 {
		t.spacing = DefaultMutationSpacing
	}
	if t.spacing < 0 {
		t.spacing = 0
	}
	if t.maxRetries <= 0 {
		t.maxRetries = DefaultMaxRetries
	}
	if t.maxWait <= 0 {
		t.maxWait = DefaultMaxWait
	}
	if t.sleep == nil {
		t.sleep = backoff.Sleep
	}
	return t
}

func mutating(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return false
	}
	return true
}

// idempotent methods may be retried after a 5xx or a dropped connection:
// a POST (create an issue, a comment) may have happened.
func idempotent(method string) bool {
	return method != http.MethodPost && method != http.MethodPatch
}

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	if mutating(req.Method) {
		t.mu.Lock()
		defer t.mu.Unlock()
	}
	for attempt := 0; ; attempt++ {
		if mutating(req.Method) && t.spacing > 0 && !t.lastMut.IsZero() {
			if err := t.sleep(ctx, t.spacing-time.Since(t.lastMut)); err != nil {
				return nil, err
			}
		}
		r := req
		if attempt > 0 {
			r = req.Clone(ctx)
			if req.GetBody != nil {
				b, err := req.GetBody()
				if err != nil {
					return nil, err
				}
				r.Body = b
			}
		}
		resp, err := t.inner.RoundTrip(r)
		if mutating(req.Method) {
			t.lastMut = time.Now()
		}
		if err != nil {
			if ctx.Err() != nil || !idempotent(req.Method) || attempt >= t.maxRetries || (req.Body != nil && req.GetBody == nil) {
				return nil, err
			}
			if err := t.sleep(ctx, retryDelay.Delay(attempt)); err != nil {
				return nil, err
			}
			continue
		}
		wait, reason, retry := t.judge(resp, req.Method, attempt)
		if !retry {
			if resp.StatusCode < 300 && resp.Header.Get("X-RateLimit-Remaining") == "0" {
				// The last call of the window. go-github would refuse
				// every later call until the reset without asking; hide
				// the reset so that the next call asks, gets the 403 and
				// waits here, bounded like any other rate limit.
				resp.Header.Del("X-RateLimit-Reset")
			}
			return resp, nil
		}
		if attempt >= t.maxRetries || wait > t.maxWait || (req.Body != nil && req.GetBody == nil) {
			if reason == "server error" {
				return resp, nil // go-github reports the status
			}
			drain(resp)
			return nil, &RateLimitedError{Status: resp.StatusCode, Wait: wait, Reason: reason}
		}
		drain(resp)
		if err := t.sleep(ctx, wait); err != nil {
			return nil, err
		}
	}
}

func drain(resp *http.Response) {
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	resp.Body.Close()
}

// retryDelay is the wait before a retry GitHub gave no time for: 0.5s,
// 1s, 2s, ... capped at 30s, with jitter.
var retryDelay = backoff.Policy{Base: 500 * time.Millisecond, Max: 30 * time.Second}

// judge decides whether resp asks for a retry and after how long.
//
//   - 429: a rate limit (go-github v60 would return a plain ErrorResponse);
//     wait Retry-After, or the reset, or back off.
//   - 403 with X-RateLimit-Remaining: 0: the primary limit; wait until
//     X-RateLimit-Reset (epoch seconds).
//   - 403 with Retry-After, or whose body names the secondary rate limit:
//     wait Retry-After, or a minute when GitHub does not say.
//   - 5xx on an idempotent method: back off.
func (t *transport) judge(resp *http.Response, method string, attempt int) (time.Duration, string, bool) {
	h := resp.Header
	switch {
	case resp.StatusCode == http.StatusTooManyRequests:
		if d, ok := retryAfter(h); ok {
			return d, "rate limit", true
		}
		if d, ok := resetIn(h); ok {
			return d, "rate limit", true
		}
		return retryDelay.Delay(attempt), "rate limit", true
	case resp.StatusCode == http.StatusForbidden:
		if h.Get("X-RateLimit-Remaining") == "0" {
			if d, ok := resetIn(h); ok {
				return d, "primary rate limit", true
			}
			return time.Minute, "primary rate limit", true
		}
		if d, ok := retryAfter(h); ok {
			return d, "secondary rate limit", true
		}
		if bodyMentions(resp, "secondary rate limit") {
			return time.Minute, "secondary rate limit", true
		}
	case resp.StatusCode >= 500 && idempotent(method):
		return retryDelay.Delay(attempt), "server error", true
	}
	return 0, "", false
}

func retryAfter(h http.Header) (time.Duration, bool) {
	return backoff.ParseRetryAfter(h.Get("Retry-After"), time.Now())
}

func resetIn(h http.Header) (time.Duration, bool) {
	v := h.Get("X-RateLimit-Reset")
	if v == "" {
		return 0, false
	}
	s, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, false
	}
	// One second of slack: the reset is whole seconds on GitHub's clock.
	return max(time.Until(time.Unix(s, 0))+time.Second, 0), true
}

// bodyMentions reads a small body, restores it, and looks for s.
func bodyMentions(resp *http.Response, s string) bool {
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(b))
	return err == nil && bytes.Contains(bytes.ToLower(b), []byte(s))
}
