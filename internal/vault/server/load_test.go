package server

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/atomyx/atomyx-guard/internal/vault"
)

// loadFaults are the faults of the load test: 5% 5xx, 10% 429, 2% drops.
var loadFaults = Faults{ServerError: 0.05, RateLimit: 0.1, Drop: 0.02, RetryAfter: 0, Seed: 42}

const loadN = 10_000

// loadSet makes loadN distinct fingerprints, half issued (every tenth of
// those revoked), half never issued, shuffled; want is each one's status.
func loadSet(t testing.TB, v *testVault) (fps []string, want map[string]string) {
	want = bulkIssue(t, v.srv, loadN/2, 10)
	for range loadN / 2 {
		want[randomFingerprint(t)] = vault.StatusUnknown
	}
	for fp := range want {
		fps = append(fps, fp)
	}
	rand.New(rand.NewPCG(1, 2)).Shuffle(len(fps), func(i, j int) { fps[i], fps[j] = fps[j], fps[i] })
	return fps, want
}

func TestLoadVerifyWithFaults(t *testing.T) {
	v := startVault(t, "", Options{Faults: loadFaults})
	fps, want := loadSet(t, v)
	c := v.client(t, v.Admin, func(c *vault.Config) { c.MaxRetries = 8 })
	res, err := c.Verify(ctx, fps)
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != loadN {
		t.Fatalf("%d results for %d fingerprints", len(res), loadN)
	}
	for fp, st := range want {
		got, ok := res[fp]
		if !ok || got.Fingerprint != fp || got.Status != st {
			t.Fatalf("result for %s = %+v (present %v), want %s", fp, got, ok, st)
		}
		if st != vault.StatusUnknown && got.KeyID == "" {
			t.Fatalf("issued key %s without key id", fp)
		}
	}
	st := c.Stats()
	fc := v.srv.FaultCounts()
	batches := int64(loadN / vault.MaxVerifyBatch)
	t.Logf("calls %d, retries %d, faults %+v", st.Calls, st.Retries, fc)
	if st.Calls-st.Retries != batches {
		t.Errorf("%d first attempts, want %d batches", st.Calls-st.Retries, batches)
	}
	// 17% of calls fail: about 120 calls expected; 150 is a generous bound.
	if st.Calls > 150 || st.Retries == 0 {
		t.Errorf("%d calls, %d retries: want retries, and at most 150 calls", st.Calls, st.Retries)
	}
	if injected := int64(fc.Dropped + fc.RateLimited + fc.ServerErrors); injected != st.Retries {
		t.Errorf("server injected %d faults, client retried %d times", injected, st.Retries)
	}

	// A second Verify of the same set is answered from the cache.
	res2, err := c.Verify(ctx, fps[:500])
	if err != nil || len(res2) != 500 || c.Stats().Calls != st.Calls {
		t.Errorf("cached verify: %d results, %v, calls %d -> %d", len(res2), err, st.Calls, c.Stats().Calls)
	}
}

// BenchmarkVerify verifies 10,000 distinct fingerprints against the local
// Vault over loopback, with and without faults, with a fresh client (and
// so an empty cache) each round.
func BenchmarkVerify(b *testing.B) {
	for _, bc := range []struct {
		name   string
		faults Faults
	}{{"clean", Faults{}}, {"faults", loadFaults}} {
		b.Run(bc.name, func(b *testing.B) {
			v := startVault(b, "", Options{Faults: bc.faults})
			fps, _ := loadSet(b, v)
			var calls int64
			start := time.Now()
			b.ResetTimer()
			for b.Loop() {
				c := v.client(b, v.Admin, func(c *vault.Config) { c.MaxRetries = 8 })
				res, err := c.Verify(ctx, fps)
				if err != nil || len(res) != loadN {
					b.Fatalf("%d results, %v", len(res), err)
				}
				calls += c.Stats().Calls
			}
			elapsed := time.Since(start)
			b.ReportMetric(float64(b.N*loadN)/elapsed.Seconds(), "verifications/s")
			b.ReportMetric(float64(calls)/float64(b.N), "calls/op")
		})
	}
}
