package serve

import (
	"bufio"
	"cmp"
	"fmt"
	"io"
	"math"
	"net/http"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Metrics are the service's Prometheus metrics. Labels are closed sets
// (event kinds, reasons, environments, outcomes): never a key, a
// fingerprint, a repository or a delivery id, so that neither a secret nor
// an unbounded series count can come in through a label.
//
// The text exposition is written here rather than by client_golang: that
// library builds its default registry, Go and process collectors and
// protobuf descriptors in package init, which every run of the binary
// paid for (about 1 ms and 100 page faults of the pre-commit hook's
// start), though only `serve` ever exposes a metric.
type Metrics struct {
	Received  *CounterVec // by event
	Rejected  *CounterVec // by reason
	Processed *CounterVec // by kind, outcome
	Findings  *CounterVec // by environment
	Revoked   *CounterVec // by environment
	Scan      *Histogram
	Response  *Histogram
	// DeliveryToResponse is from acknowledgement to the end of the
	// response: what a leaked key's exposure window is made of.
	DeliveryToResponse *Histogram

	depth func() int
}

// environments is the closed set of environment labels.
func envLabel(env string) string {
	switch env {
	case "production", "staging", "development":
		return env
	}
	return "other"
}

// NewMetrics makes the service's metrics; depth is the queue's depth,
// read at each scrape.
func NewMetrics(depth func() int) *Metrics {
	return &Metrics{
		Received: newCounterVec("atomyx_guard_deliveries_received_total",
			"Webhook deliveries whose signature held, by X-GitHub-Event.", "event"),
		Rejected: newCounterVec("atomyx_guard_deliveries_rejected_total",
			"Webhook deliveries refused, by reason.", "reason"),
		Processed: newCounterVec("atomyx_guard_deliveries_processed_total",
			"Queued deliveries processed, by kind and outcome (done, failed, gave_up).", "kind", "outcome"),
		Findings: newCounterVec("atomyx_guard_findings_total",
			"Keys found in pushed commits (after the allowlist), by environment.", "environment"),
		Revoked: newCounterVec("atomyx_guard_revocations_total",
			"Leaked keys revoked or rotated by the responder, by environment.", "environment"),
		Scan: newHistogram("atomyx_guard_scan_seconds",
			"Fetch and scan of one repository's batch of deliveries.", exponentialBuckets(0.01, 2, 14)),
		Response: newHistogram("atomyx_guard_response_seconds",
			"Verification and response of one batch's findings.", exponentialBuckets(0.01, 2, 14)),
		DeliveryToResponse: newHistogram("atomyx_guard_delivery_to_response_seconds",
			"From a delivery's acknowledgement to the end of its processing.", exponentialBuckets(0.05, 2, 14)),
		depth: depth,
	}
}

// Handler serves the metrics in the Prometheus text format (0.0.4),
// families sorted by name, series by label values.
func (m *Metrics) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		bw := bufio.NewWriter(w)
		m.write(bw)
		bw.Flush()
	})
}

// family is one metric family of a scrape.
type family struct {
	name, help, typ string
	samples         []sample
}

// sample is one line: name suffix (_bucket, _sum...), labels, value.
type sample struct {
	suffix string
	labels []string // name, value, name, value...
	value  float64
}

func (m *Metrics) write(w io.Writer) {
	fams := []family{
		m.Received.family(), m.Rejected.family(), m.Processed.family(), m.Findings.family(), m.Revoked.family(),
		m.Scan.family(), m.Response.family(), m.DeliveryToResponse.family(),
	}
	if m.depth != nil {
		fams = append(fams, gauge("atomyx_guard_queue_depth", "Deliveries acknowledged and not yet processed.", float64(m.depth())))
	}
	fams = append(fams, goFamilies()...)
	fams = append(fams, processFamilies()...)
	slices.SortFunc(fams, func(a, b family) int { return cmp.Compare(a.name, b.name) })
	for _, f := range fams {
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s %s\n", f.name, escapeHelp(f.help), f.name, f.typ)
		for _, s := range f.samples {
			io.WriteString(w, f.name+s.suffix)
			if len(s.labels) > 0 {
				io.WriteString(w, "{")
				for i := 0; i < len(s.labels); i += 2 {
					if i > 0 {
						io.WriteString(w, ",")
					}
					io.WriteString(w, s.labels[i]+`="`+escapeLabel(s.labels[i+1])+`"`)
				}
				io.WriteString(w, "}")
			}
			io.WriteString(w, " "+formatFloat(s.value)+"\n")
		}
	}
}

func gauge(name, help string, v float64) family {
	return family{name: name, help: help, typ: "gauge", samples: []sample{{value: v}}}
}

func counter(name, help string, v float64) family {
	return family{name: name, help: help, typ: "counter", samples: []sample{{value: v}}}
}

func formatFloat(v float64) string {
	switch {
	case math.IsInf(v, +1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	case math.IsNaN(v):
		return "NaN"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

var (
	helpEscaper  = strings.NewReplacer(`\`, `\\`, "\n", `\n`)
	labelEscaper = strings.NewReplacer(`\`, `\\`, "\n", `\n`, `"`, `\"`)
)

func escapeHelp(s string) string  { return helpEscaper.Replace(s) }
func escapeLabel(s string) string { return labelEscaper.Replace(s) }

// CounterVec is a counter per combination of label values.
type CounterVec struct {
	name, help string
	labels     []string
	mu         sync.Mutex
	series     map[string]*Counter // label values joined by "\xff"
}

func newCounterVec(name, help string, labels ...string) *CounterVec {
	return &CounterVec{name: name, help: help, labels: labels, series: map[string]*Counter{}}
}

// Counter is one series of a CounterVec.
type Counter struct {
	values []string
	n      atomic.Uint64
}

// Inc adds one.
func (c *Counter) Inc() { c.n.Add(1) }

// WithLabelValues is the series of these label values (in the order of
// the vector's label names), made on first use. It panics on a wrong
// count, as a programming error.
func (v *CounterVec) WithLabelValues(values ...string) *Counter {
	if len(values) != len(v.labels) {
		panic(fmt.Sprintf("metric %s: %d label values for %d labels", v.name, len(values), len(v.labels)))
	}
	k := strings.Join(values, "\xff")
	v.mu.Lock()
	defer v.mu.Unlock()
	c := v.series[k]
	if c == nil {
		c = &Counter{values: slices.Clone(values)}
		v.series[k] = c
	}
	return c
}

func (v *CounterVec) family() family {
	v.mu.Lock()
	keys := make([]string, 0, len(v.series))
	for k := range v.series {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	f := family{name: v.name, help: v.help, typ: "counter"}
	for _, k := range keys {
		c := v.series[k]
		var labels []string
		for i, name := range v.labels {
			labels = append(labels, name, c.values[i])
		}
		f.samples = append(f.samples, sample{labels: labels, value: float64(c.n.Load())})
	}
	v.mu.Unlock()
	return f
}

// Histogram counts observations in cumulative buckets.
type Histogram struct {
	name, help string
	upper      []float64 // bucket upper bounds, ascending; +Inf implied
	mu         sync.Mutex
	counts     []uint64 // per bucket (not cumulative), the last one +Inf
	sum        float64
}

func newHistogram(name, help string, upper []float64) *Histogram {
	return &Histogram{name: name, help: help, upper: upper, counts: make([]uint64, len(upper)+1)}
}

// exponentialBuckets is count bounds from start, each factor times the
// one before.
func exponentialBuckets(start, factor float64, count int) []float64 {
	b := make([]float64, count)
	for i := range b {
		b[i] = start
		start *= factor
	}
	return b
}

// Observe records one value.
func (h *Histogram) Observe(v float64) {
	i, _ := slices.BinarySearch(h.upper, v) // first bound >= v: buckets are le
	h.mu.Lock()
	h.counts[i]++
	h.sum += v
	h.mu.Unlock()
}

func (h *Histogram) family() family {
	h.mu.Lock()
	defer h.mu.Unlock()
	f := family{name: h.name, help: h.help, typ: "histogram"}
	var n uint64
	for i, c := range h.counts {
		n += c
		le := math.Inf(+1)
		if i < len(h.upper) {
			le = h.upper[i]
		}
		f.samples = append(f.samples, sample{suffix: "_bucket", labels: []string{"le", formatFloat(le)}, value: float64(n)})
	}
	f.samples = append(f.samples, sample{suffix: "_sum", value: h.sum}, sample{suffix: "_count", value: float64(n)})
	return f
}

// goFamilies are the Go runtime's metrics, named as client_golang's Go
// collector names them.
func goFamilies() []family {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	threads, _ := runtime.ThreadCreateProfile(nil)
	fams := []family{
		gauge("go_goroutines", "Number of goroutines that currently exist.", float64(runtime.NumGoroutine())),
		gauge("go_threads", "Number of OS threads created.", float64(threads)),
		gauge("go_sched_gomaxprocs_threads", "The current runtime.GOMAXPROCS setting.", float64(runtime.GOMAXPROCS(0))),
		{name: "go_info", help: "Information about the Go environment.", typ: "gauge",
			samples: []sample{{labels: []string{"version", runtime.Version()}, value: 1}}},
		gauge("go_memstats_alloc_bytes", "Number of bytes allocated in heap and currently in use.", float64(ms.Alloc)),
		counter("go_memstats_alloc_bytes_total", "Total number of bytes allocated in heap until now, even if released already.", float64(ms.TotalAlloc)),
		counter("go_memstats_mallocs_total", "Total number of heap objects allocated.", float64(ms.Mallocs)),
		counter("go_memstats_frees_total", "Total number of heap objects frees.", float64(ms.Frees)),
		gauge("go_memstats_sys_bytes", "Number of bytes obtained from system.", float64(ms.Sys)),
		gauge("go_memstats_heap_alloc_bytes", "Number of heap bytes allocated and currently in use.", float64(ms.HeapAlloc)),
		gauge("go_memstats_heap_sys_bytes", "Number of heap bytes obtained from system.", float64(ms.HeapSys)),
		gauge("go_memstats_heap_idle_bytes", "Number of heap bytes waiting to be used.", float64(ms.HeapIdle)),
		gauge("go_memstats_heap_inuse_bytes", "Number of heap bytes that are in use.", float64(ms.HeapInuse)),
		gauge("go_memstats_heap_released_bytes", "Number of heap bytes released to OS.", float64(ms.HeapReleased)),
		gauge("go_memstats_heap_objects", "Number of currently allocated objects.", float64(ms.HeapObjects)),
		gauge("go_memstats_stack_inuse_bytes", "Number of bytes obtained from system for stack allocator in non-CGO environments.", float64(ms.StackInuse)),
		gauge("go_memstats_stack_sys_bytes", "Number of bytes obtained from system for stack allocator.", float64(ms.StackSys)),
		gauge("go_memstats_next_gc_bytes", "Number of heap bytes when next garbage collection will take place.", float64(ms.NextGC)),
		gauge("go_memstats_last_gc_time_seconds", "Number of seconds since 1970 of last garbage collection.", float64(ms.LastGC)/1e9),
	}
	// go_gc_duration_seconds: quantiles of the last (up to 256) pauses.
	n := min(int(ms.NumGC), len(ms.PauseNs))
	pauses := make([]float64, n)
	for i := range pauses {
		pauses[i] = float64(ms.PauseNs[(int(ms.NumGC)-1-i+len(ms.PauseNs))%len(ms.PauseNs)]) / 1e9
	}
	slices.Sort(pauses)
	gc := family{name: "go_gc_duration_seconds", help: "A summary of the wall-time pause (stop-the-world) duration in garbage collection cycles.", typ: "summary"}
	for _, q := range []float64{0, 0.25, 0.5, 0.75, 1} {
		v := math.NaN()
		if n > 0 {
			v = pauses[int(math.Round(q*float64(n-1)))]
		}
		gc.samples = append(gc.samples, sample{labels: []string{"quantile", formatFloat(q)}, value: v})
	}
	gc.samples = append(gc.samples,
		sample{suffix: "_sum", value: time.Duration(ms.PauseTotalNs).Seconds()},
		sample{suffix: "_count", value: float64(ms.NumGC)})
	return append(fams, gc)
}
