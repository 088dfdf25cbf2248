package serve_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/atomyx/atomyx-guard/internal/org/orgtest"
	"github.com/atomyx/atomyx-guard/patterns"
)

// TestBenchServe is the serve benchmark (scripts/bench-serve.sh runs it;
// skipped unless ATOMYX_BENCH_SERVE=1). The real binary serves on
// loopback, against the local Vault, the fake GitHub and a smart-HTTP git
// server; signed push deliveries for BENCH_REPOS repositories go out at
// BENCH_RATE per second for BENCH_DURATION, and a BENCH_LEAK fraction of
// them push a commit holding a new live key. It reports the latency from
// sending a delivery to the Vault answering its key's revocation (timed
// in front of the Vault), the throughput, and the service's memory over
// time; it fails if a delivery is lost or processed twice, or a key is
// revoked twice or not at all. Wall times are reported, never asserted.
//
// Pushes are prepared before the clock starts: each repository's commits
// are written with git fast-import and left unreferenced, and a push moves
// the served branch to the next one (a ref file written atomically), so
// that the load generator costs next to nothing while the service works.
func TestBenchServe(t *testing.T) {
	if os.Getenv("ATOMYX_BENCH_SERVE") != "1" {
		t.Skip("a benchmark: run scripts/bench-serve.sh")
	}
	repos := envInt(t, "BENCH_REPOS", 50)
	rate := envFloat(t, "BENCH_RATE", 10)
	leak := envFloat(t, "BENCH_LEAK", 0.1)
	workers := envInt(t, "BENCH_WORKERS", 2)
	dur, err := time.ParseDuration(envOr("BENCH_DURATION", "2m"))
	if err != nil {
		t.Fatal(err)
	}
	total := int(math.Round(rate * dur.Seconds()))
	perRepo := (total + repos - 1) / repos

	var (
		mu      sync.Mutex
		revoked = map[string][]time.Time{} // key id → each revocation answered
		calls   = map[string]int{}         // key id → revoke calls answered 200, already revoked or not
	)
	revokePath := regexp.MustCompile(`^/v1/keys/([^/]+)/revoke$`)
	w := newWorld(t, worldOptions{VaultMiddleware: func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
			rec := &statusRecorder{ResponseWriter: rw, status: 200}
			next.ServeHTTP(rec, r)
			if m := revokePath.FindStringSubmatch(r.URL.Path); m != nil && r.Method == http.MethodPost && rec.status == 200 {
				var rr struct {
					AlreadyRevoked bool `json:"already_revoked"`
				}
				_ = json.Unmarshal(rec.body.Bytes(), &rr)
				mu.Lock()
				calls[m[1]]++
				if !rr.AlreadyRevoked { // the one call that changed the key
					revoked[m[1]] = append(revoked[m[1]], time.Now())
				}
				mu.Unlock()
			}
		})
	}})
	bin := buildBinary(t)
	w.closeServer() // the subprocess owns the cache

	// Prepare every push: per repository a chain of commits, a fraction
	// of them holding a new live key.
	type push struct {
		repo          string
		before, after string
		keyID         string
	}
	pushes := make([][]push, repos)
	leaks := 0
	prep := time.Now()
	for r := range repos {
		full := fmt.Sprintf("acme/r%03d", r)
		owner, name, _ := strings.Cut(full, "/")
		w.GH.AddRepo(owner, name, false)
		wk := w.Git.NewRepo(t, full)
		base := wk.Commit("initial", ".atomyx-guard.toml", revokePolicy, "README.md", "bench\n")
		var stream bytes.Buffer
		var ids []string
		for i := range perRepo {
			content := fmt.Sprintf("n=%d\n", i)
			id := ""
			if n := float64(r + i*repos); math.Floor(leak*(n+1)) > math.Floor(leak*n) { // spread evenly over the run
				ik := w.liveKey(patterns.Production)
				content = "ATOMYX_API_KEY=" + ik.Key.Reveal() + "\n"
				id = ik.KeyID
				leaks++
			}
			ids = append(ids, id)
			from := base
			if i > 0 {
				from = fmt.Sprintf(":%d", i)
			}
			fmt.Fprintf(&stream, "commit refs/bench/tmp\nmark :%d\ncommitter B <b@example.invalid> %d +0000\ndata 4\npush\nfrom %s\nM 100644 inline config/app.env\ndata %d\n%s\n",
				i+1, 1700000000+i, from, len(content), content)
		}
		marks := filepath.Join(t.TempDir(), "marks")
		bare := w.Git.Bare(full)
		cmd := exec.Command("git", "--git-dir", bare, "fast-import", "--quiet", "--export-marks="+marks)
		cmd.Stdin = &stream
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("fast-import: %v\n%s", err, patterns.Scrub(string(out)))
		}
		orgtest.Git(t, bare, "update-ref", "-d", "refs/bench/tmp") // the commits stay unreferenced
		b, err := os.ReadFile(marks)
		if err != nil {
			t.Fatal(err)
		}
		shas := map[int]string{}
		for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			var n int
			var sha string
			if _, err := fmt.Sscanf(line, ":%d %s", &n, &sha); err == nil {
				shas[n] = sha
			}
		}
		before := base
		for i := range perRepo {
			pushes[r] = append(pushes[r], push{repo: full, before: before, after: shas[i+1], keyID: ids[i]})
			before = shas[i+1]
		}
	}
	t.Logf("prepared %d pushes (%d with a live key) over %d repositories in %s", total, leaks, repos, time.Since(prep).Round(time.Millisecond))

	secretFile := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secretFile, w.Secret, 0o600); err != nil {
		t.Fatal(err)
	}
	args := append([]string{"--workers", strconv.Itoa(workers), "--queue-per-repo", "10000", "--queue-max", "100000"},
		strings.Fields(os.Getenv("BENCH_SERVE_ARGS"))...)
	t.Logf("serve %s", strings.Join(args, " "))
	cmd, url := startServe(t, bin, w, secretFile, args...)
	w.URL = url
	pid := cmd.Process.Pid

	// Warm up: every repository scanned whole once, as a reconcile would,
	// so that pushes are scanned from the state's tips.
	for r := range repos {
		w.deliver("repository", map[string]any{"action": "created", "repository": w.repoJSON(fmt.Sprintf("acme/r%03d", r), false)})
	}
	waitMetric(t, url, "atomyx_guard_queue_depth", func(v float64) bool { return v == 0 }, 10*time.Minute)

	// The load: one push every 1/rate, round robin over the repositories.
	var samples []benchSample
	sent := map[string]time.Time{} // key id → delivery sent
	sampleEvery := 10 * time.Second
	start := time.Now()
	nextSample := start
	statuses := map[int]int{}
	var wg sync.WaitGroup
	var smu sync.Mutex
	for i := range total {
		at := start.Add(time.Duration(float64(i) / rate * float64(time.Second)))
		if now := time.Now(); now.Before(at) {
			time.Sleep(at.Sub(now))
		}
		p := pushes[i%repos][i/repos]
		if err := moveRef(w.Git.Bare(p.repo), "refs/heads/main", p.after); err != nil {
			t.Fatal(err)
		}
		body, _ := json.Marshal(w.push(p.repo, "refs/heads/main", p.before, p.after))
		if p.keyID != "" {
			sent[p.keyID] = time.Now()
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			code, _, _ := w.send("push", newID(), body, "")
			smu.Lock()
			statuses[code]++
			smu.Unlock()
		}()
		if time.Now().After(nextSample) {
			samples = append(samples, takeSample(t, url, pid, time.Since(start), func() int { mu.Lock(); defer mu.Unlock(); return len(revoked) }))
			nextSample = nextSample.Add(sampleEvery)
		}
	}
	wg.Wait()
	sendEnd := time.Since(start)
	waitMetric(t, url, "atomyx_guard_queue_depth", func(v float64) bool { return v == 0 }, 10*time.Minute)
	drained := time.Since(start)
	samples = append(samples, takeSample(t, url, pid, drained, func() int { mu.Lock(); defer mu.Unlock(); return len(revoked) }))

	// Latencies, and what was lost or doubled.
	mu.Lock()
	var lat []time.Duration
	missing, twice, extraCalls := 0, 0, 0
	for _, n := range calls {
		extraCalls += n - 1
	}
	issues := map[string]int{}
	for r := range repos {
		for _, is := range w.GH.Issues(fmt.Sprintf("acme/r%03d", r)) {
			for id := range sent {
				if strings.Contains(is.Body, id) {
					issues[id]++
				}
			}
		}
	}
	badIssues := 0
	for id := range sent {
		if issues[id] != 1 {
			badIssues++
		}
	}
	for id, t0 := range sent {
		ts := revoked[id]
		switch {
		case len(ts) == 0:
			missing++
			continue
		case len(ts) > 1:
			twice++
		}
		lat = append(lat, ts[0].Sub(t0))
	}
	mu.Unlock()
	slices.Sort(lat)
	m := scrapeMetrics(t, url)
	pushed := m[`atomyx_guard_deliveries_processed_total{kind="push",outcome="done"}`]
	received := m[`atomyx_guard_deliveries_received_total{event="push"}`]
	t.Logf("sent %d push deliveries in %s (%.1f/s; answers %v); queue drained %s after the first",
		total, sendEnd.Round(time.Millisecond), float64(total)/sendEnd.Seconds(), statuses, drained.Round(time.Millisecond))
	t.Logf("push deliveries received %v, processed %v (failed %v, gave up %v); %d leaked keys, %d revoked, %d not revoked, %d revoked twice, %d without exactly one issue; %d extra revoke calls answered already_revoked",
		received, pushed, m[`atomyx_guard_deliveries_processed_total{kind="push",outcome="failed"}`],
		m[`atomyx_guard_deliveries_processed_total{kind="push",outcome="gave_up"}`], len(sent), len(lat), missing, twice, badIssues, extraCalls)
	if len(lat) > 0 {
		t.Logf("delivery → revocation: p50 %s, p90 %s, p99 %s, max %s",
			pct(lat, 0.50), pct(lat, 0.90), pct(lat, 0.99), lat[len(lat)-1].Round(time.Millisecond))
	}
	t.Logf("throughput: %.2f pushes/s processed (push deliveries processed / time to drain)", pushed/drained.Seconds())
	t.Logf("%8s %10s %10s %6s %8s %8s", "at", "rss_MiB", "heap_MiB", "depth", "revoked", "received")
	for _, s := range samples {
		t.Logf("%8s %10.1f %10.1f %6.0f %8d %8.0f", s.at.Round(time.Second), float64(s.rss)/(1<<20), s.heap/(1<<20), s.depth, s.revoked, s.received)
	}
	if statuses[http.StatusAccepted] != total {
		t.Errorf("answers %v, want %d × 202", statuses, total)
	}
	if received != float64(total) || pushed != float64(total) {
		t.Errorf("received %v and processed %v push deliveries, want %d each (lost or doubled)", received, pushed, total)
	}
	if missing > 0 || twice > 0 || badIssues > 0 {
		t.Errorf("%d leaked keys not revoked, %d revoked twice, %d without exactly one issue", missing, twice, badIssues)
	}
}

// moveRef points a served bare repository's ref at id, as a push does
// (write then rename, so upload-pack never reads half a file).
func moveRef(bare, ref, id string) error {
	p := filepath.Join(bare, filepath.FromSlash(ref))
	tmp := p + ".bench"
	if err := os.WriteFile(tmp, []byte(id+"\n"), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, p)
}

type statusRecorder struct {
	http.ResponseWriter
	status int
	body   bytes.Buffer
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.body.Len() < 4096 {
		s.body.Write(b)
	}
	return s.ResponseWriter.Write(b)
}

func (s *statusRecorder) WriteHeader(code int) { s.status = code; s.ResponseWriter.WriteHeader(code) }

var metricLine = regexp.MustCompile(`(?m)^([a-z_]+(?:\{[^}]*\})?) ([0-9.e+-]+)$`)

// scrapeMetrics reads the service's /metrics into name{labels} → value.
func scrapeMetrics(t testing.TB, url string) map[string]float64 {
	out := map[string]float64{}
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		t.Logf("metrics: %v", err)
		return out
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, m := range metricLine.FindAllStringSubmatch(string(b), -1) {
		v, err := strconv.ParseFloat(m[2], 64)
		if err == nil {
			out[m[1]] = v
		}
	}
	return out
}

func waitMetric(t testing.TB, url, name string, ok func(float64) bool, limit time.Duration) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		if v, found := scrapeMetrics(t, url)[name]; found && ok(v) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting on %s", name)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// benchSample is the service's state at one moment of the benchmark.
type benchSample struct {
	at       time.Duration
	rss      int64
	heap     float64
	depth    float64
	revoked  int
	received float64
}

func takeSample(t testing.TB, url string, pid int, at time.Duration, revoked func() int) (s benchSample) {
	m := scrapeMetrics(t, url)
	s.at, s.heap, s.depth, s.revoked = at, m["go_memstats_heap_inuse_bytes"], m["atomyx_guard_queue_depth"], revoked()
	s.received = m[`atomyx_guard_deliveries_received_total{event="push"}`]
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid)); err == nil {
		if m := regexp.MustCompile(`VmRSS:\s+(\d+) kB`).FindSubmatch(b); m != nil {
			kb, _ := strconv.ParseInt(string(m[1]), 10, 64)
			s.rss = kb << 10
		}
	}
	return s
}

func pct(d []time.Duration, p float64) time.Duration {
	i := int(math.Ceil(p*float64(len(d)))) - 1
	return d[max(0, min(i, len(d)-1))].Round(time.Millisecond)
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func envInt(t testing.TB, name string, def int) int {
	n, err := strconv.Atoi(envOr(name, strconv.Itoa(def)))
	if err != nil || n < 1 {
		t.Fatalf("%s: want a positive integer", name)
	}
	return n
}

func envFloat(t testing.TB, name string, def float64) float64 {
	f, err := strconv.ParseFloat(envOr(name, strconv.FormatFloat(def, 'g', -1, 64)), 64)
	if err != nil || f < 0 {
		t.Fatalf("%s: want a non-negative number", name)
	}
	return f
}
