package server

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/atomyx/atomyx-guard/internal/vault"
)

// faulter draws the faults of Faults from one seeded source, so that a
// sequential client sees the same sequence every run.
type faulter struct {
	latency                time.Duration
	drop, limit, fail      float64
	retryAfter             string
	loseReissue            bool
	mu                     sync.Mutex
	rng                    *rand.Rand
	dropped, limited, fell int
}

func newFaulter(f Faults) (*faulter, error) {
	for _, p := range []float64{f.Drop, f.RateLimit, f.ServerError} {
		if p < 0 || p > 1 {
			return nil, fmt.Errorf("fault probability %v is not in [0, 1]", p)
		}
	}
	if f.Drop+f.RateLimit+f.ServerError > 1 {
		return nil, errors.New("fault probabilities add up to more than 1")
	}
	if f.Latency < 0 || f.RetryAfter < 0 {
		return nil, errors.New("negative fault latency or Retry-After")
	}
	secs := (f.RetryAfter + time.Second - 1) / time.Second
	return &faulter{
		latency: f.Latency, drop: f.Drop, limit: f.RateLimit, fail: f.ServerError,
		retryAfter:  strconv.FormatInt(int64(secs), 10),
		loseReissue: f.LoseReissueResponse,
		rng:         rand.New(rand.NewPCG(f.Seed, f.Seed^0x9e3779b97f4a7c15)),
	}, nil
}

type fault int

const (
	faultNone fault = iota
	faultDrop
	faultLimit
	faultFail
)

// draw decides one request's fate with one draw.
func (f *faulter) draw() fault {
	if f.drop == 0 && f.limit == 0 && f.fail == 0 {
		return faultNone
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	u := f.rng.Float64()
	switch {
	case u < f.drop:
		f.dropped++
		return faultDrop
	case u < f.drop+f.limit:
		f.limited++
		return faultLimit
	case u < f.drop+f.limit+f.fail:
		f.fell++
		return faultFail
	}
	return faultNone
}

// FaultCounts says how many faults were injected so far.
type FaultCounts struct{ Dropped, RateLimited, ServerErrors int }

// FaultCounts returns the faults injected so far.
func (s *Server) FaultCounts() FaultCounts {
	s.faults.mu.Lock()
	defer s.faults.mu.Unlock()
	return FaultCounts{Dropped: s.faults.dropped, RateLimited: s.faults.limited, ServerErrors: s.faults.fell}
}

// withFaults applies latency and the drawn fault before next sees the
// request, so that a faulted request changes nothing.
func (s *Server) withFaults(next http.Handler) http.Handler {
	f := s.faults
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if f.latency > 0 {
			t := time.NewTimer(f.latency)
			select {
			case <-t.C:
			case <-r.Context().Done():
				t.Stop()
				return
			}
		}
		switch f.draw() {
		case faultDrop:
			dropConnection(w)
			return
		case faultLimit:
			w.Header().Set("Retry-After", f.retryAfter)
			writeError(w, http.StatusTooManyRequests, vault.CodeRateLimited, "too many calls; retry after "+f.retryAfter+"s", "")
			return
		case faultFail:
			writeError(w, http.StatusServiceUnavailable, vault.CodeUnavailable, "the Vault is unavailable (injected fault)", "")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// dropConnection closes the connection without a response.
func dropConnection(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		// HTTP/2 or a recorder: abort the response instead.
		panic(http.ErrAbortHandler)
	}
	conn.Close()
}
