package serve

import (
	"bytes"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"runtime"
	"testing"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// The hand-written exposition is what Prometheus' own text parser reads
// back: cumulative le buckets with +Inf equal to the count, the sum,
// counters per label set with escaped values, the queue depth, and the Go
// and process families.
func TestMetricsExposition(t *testing.T) {
	depth := 3
	m := NewMetrics(func() int { return depth })
	for _, v := range []float64{0.005, 0.01, 0.015, 100} { // 0.01 is in le="0.01"
		m.Scan.Observe(v)
	}
	m.Processed.WithLabelValues("push", "done").Inc()
	m.Processed.WithLabelValues("push", "done").Inc()
	m.Processed.WithLabelValues("push", "failed").Inc()
	m.Received.WithLabelValues("odd \"quoted\" \\ event\n").Inc()

	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if ct := rec.Header().Get("Content-Type"); ct != "text/plain; version=0.0.4; charset=utf-8" {
		t.Errorf("Content-Type %q", ct)
	}
	body, _ := io.ReadAll(rec.Body)
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("parse: %v\n%s", err, body)
	}

	h := fams["atomyx_guard_scan_seconds"].GetMetric()[0].GetHistogram()
	want := map[float64]uint64{0.01: 2, 0.02: 3, 81.92: 3, math.Inf(+1): 4}
	for _, b := range h.GetBucket() {
		if n, ok := want[b.GetUpperBound()]; ok && b.GetCumulativeCount() != n {
			t.Errorf("bucket le=%g: %d, want %d", b.GetUpperBound(), b.GetCumulativeCount(), n)
		}
	}
	if len(h.GetBucket()) != 15 || h.GetSampleCount() != 4 || math.Abs(h.GetSampleSum()-100.03) > 1e-9 {
		t.Errorf("histogram: %d buckets, count %d, sum %g; want 14 and +Inf, 4, 100.03", len(h.GetBucket()), h.GetSampleCount(), h.GetSampleSum())
	}
	if n := len(fams["atomyx_guard_response_seconds"].GetMetric()[0].GetHistogram().GetBucket()); n != 15 {
		t.Errorf("empty histogram: %d buckets", n)
	}

	got := map[string]float64{}
	for _, s := range fams["atomyx_guard_deliveries_processed_total"].GetMetric() {
		got[s.GetLabel()[0].GetValue()+"/"+s.GetLabel()[1].GetValue()] = s.GetCounter().GetValue()
	}
	if len(got) != 2 || got["push/done"] != 2 || got["push/failed"] != 1 {
		t.Errorf("processed: %v", got)
	}
	if l := fams["atomyx_guard_deliveries_received_total"].GetMetric()[0].GetLabel()[0]; l.GetName() != "event" || l.GetValue() != "odd \"quoted\" \\ event\n" {
		t.Errorf("escaped label read back as %s=%q", l.GetName(), l.GetValue())
	}
	if v := fams["atomyx_guard_queue_depth"].GetMetric()[0].GetGauge().GetValue(); v != 3 {
		t.Errorf("queue depth %g", v)
	}
	if v := fams["go_goroutines"].GetMetric()[0].GetGauge().GetValue(); v < 1 {
		t.Errorf("go_goroutines %g", v)
	}
	if _, ok := fams["go_gc_duration_seconds"]; !ok {
		t.Error("no go_gc_duration_seconds")
	}
	if runtime.GOOS == "linux" {
		if _, ok := fams["process_cpu_seconds_total"]; !ok {
			t.Error("no process_cpu_seconds_total")
		}
		for _, name := range []string{"process_resident_memory_bytes", "process_virtual_memory_bytes", "process_open_fds", "process_max_fds", "process_start_time_seconds"} {
			if f, ok := fams[name]; !ok || f.GetMetric()[0].GetGauge().GetValue()+f.GetMetric()[0].GetCounter().GetValue() <= 0 {
				t.Errorf("%s missing or not positive", name)
			}
		}
	}
}
