package serve

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics are the service's Prometheus metrics. Labels are closed sets
// (event kinds, reasons, environments, outcomes): never a key, a
// fingerprint, a repository or a delivery id, so that neither a secret nor
// an unbounded series count can come in through a label.
type Metrics struct {
	reg *prometheus.Registry

	Received  *prometheus.CounterVec // by event
	Rejected  *prometheus.CounterVec // by reason
	Processed *prometheus.CounterVec // by kind, outcome
	Findings  *prometheus.CounterVec // by environment
	Revoked   *prometheus.CounterVec // by environment
	Scan      prometheus.Histogram
	Response  prometheus.Histogram
	// DeliveryToResponse is from acknowledgement to the end of the
	// response: what a leaked key's exposure window is made of.
	DeliveryToResponse prometheus.Histogram
}

// environments is the closed set of environment labels.
func envLabel(env string) string {
	switch env {
	case "production", "staging", "development":
		return env
	}
	return "other"
}

// NewMetrics registers the metrics, with the Go and process collectors,
// on a registry of their own.
func NewMetrics(depth func() int) *Metrics {
	reg := prometheus.NewRegistry()
	m := &Metrics{
		reg: reg,
		Received: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "atomyx_guard_deliveries_received_total",
			Help: "Webhook deliveries whose signature held, by X-GitHub-Event."}, []string{"event"}),
		Rejected: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "atomyx_guard_deliveries_rejected_total",
			Help: "Webhook deliveries refused, by reason."}, []string{"reason"}),
		Processed: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "atomyx_guard_deliveries_processed_total",
			Help: "Queued deliveries processed, by kind and outcome (done, failed, gave_up)."}, []string{"kind", "outcome"}),
		Findings: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "atomyx_guard_findings_total",
			Help: "Keys found in pushed commits (after the allowlist), by environment."}, []string{"environment"}),
		Revoked: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "atomyx_guard_revocations_total",
			Help: "Leaked keys revoked or rotated by the responder, by environment."}, []string{"environment"}),
		Scan: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "atomyx_guard_scan_seconds",
			Help: "Fetch and scan of one repository's batch of deliveries.", Buckets: prometheus.ExponentialBuckets(0.01, 2, 14)}),
		Response: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "atomyx_guard_response_seconds",
			Help: "Verification and response of one batch's findings.", Buckets: prometheus.ExponentialBuckets(0.01, 2, 14)}),
		DeliveryToResponse: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "atomyx_guard_delivery_to_response_seconds",
			Help: "From a delivery's acknowledgement to the end of its processing.", Buckets: prometheus.ExponentialBuckets(0.05, 2, 14)}),
	}
	reg.MustRegister(m.Received, m.Rejected, m.Processed, m.Findings, m.Revoked, m.Scan, m.Response, m.DeliveryToResponse,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "atomyx_guard_queue_depth",
			Help: "Deliveries acknowledged and not yet processed."}, func() float64 { return float64(depth()) }),
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}
