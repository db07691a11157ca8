package metrics

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/covsync/covsync/connectors/httpx"
)

// Item outcomes as the items counter labels them.
const (
	OutcomePushed    = "pushed"
	OutcomeUnchanged = "unchanged"
	OutcomeFailed    = "failed"
	OutcomeSkipped   = "skipped"
)

// Metrics is the daemon's set of metrics. The zero value is not usable: call New.
type Metrics struct {
	reg         *prometheus.Registry
	items       *prometheus.CounterVec
	pushLatency *prometheus.HistogramVec
	throttled   *rateLimits
	cycleDur    *prometheus.HistogramVec
	cycles      *prometheus.CounterVec
	lastSuccess *prometheus.GaugeVec
	failingNow  *prometheus.GaugeVec
	drift       *prometheus.CounterVec
	lastRecon   *prometheus.GaugeVec
}

// New registers every metric, plus the Go and process collectors, in a new registry.
func New() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		items: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "covsync_items_total",
			Help: "Items handled per target, by outcome (pushed, unchanged, failed, skipped).",
		}, []string{"target", "outcome"}),
		pushLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "covsync_push_duration_seconds",
			Help: "Time to push one item to its target, retries included.",
			// From a fast loopback push to a push that waited out a Retry-After.
			Buckets: []float64{0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60},
		}, []string{"target"}),
		throttled: newRateLimits(),
		cycleDur: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "covsync_cycle_duration_seconds",
			Help:    "Duration of one (project, target) cycle.",
			Buckets: []float64{0.1, 0.5, 1, 5, 15, 30, 60, 120, 300, 600, 1800},
		}, []string{"target", "kind"}),
		cycles: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "covsync_cycles_total",
			Help: "Cycles run per target, by result (ok: ran to the end; error: could not run).",
		}, []string{"target", "kind", "result"}),
		lastSuccess: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "covsync_last_successful_cycle_timestamp_seconds",
			Help: "Unix time at which the last cycle of the target ran to the end.",
		}, []string{"target"}),
		failingNow: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "covsync_items_failing",
			Help: "Items of the target whose last push failed, as of its last cycle.",
		}, []string{"target"}),
		drift: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "covsync_drift_items_total",
			Help: "Items reconcile cycles found changed at the target since covsync wrote them (or gone), and pushed again.",
		}, []string{"target"}),
		lastRecon: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "covsync_last_reconcile_timestamp_seconds",
			Help: "Unix time at which the last reconcile cycle of the target ran to the end.",
		}, []string{"target"}),
	}
	m.reg.MustRegister(m.items, m.pushLatency, m.throttled, m.cycleDur, m.cycles, m.lastSuccess, m.failingNow, m.drift, m.lastRecon,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Handler serves the registry in the Prometheus exposition format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// Registry is the registry itself (tests gather from it).
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// ItemDone counts one item's outcome; d is the push's duration (ignored for unchanged and skipped items,
// which were never pushed).
func (m *Metrics) ItemDone(target, outcome string, d time.Duration) {
	m.items.WithLabelValues(target, outcome).Inc()
	if outcome == OutcomePushed || outcome == OutcomeFailed {
		m.pushLatency.WithLabelValues(target).Observe(d.Seconds())
	}
}

// Reconciled records a reconcile cycle of target that found drifted items; ok says it ran to the end.
func (m *Metrics) Reconciled(target string, drifted int, ok bool) {
	m.drift.WithLabelValues(target).Add(float64(drifted))
	if ok {
		m.lastRecon.WithLabelValues(target).SetToCurrentTime()
	}
}

// RateLimited counts one 429 from target.
func (m *Metrics) RateLimited(target string) { m.throttled.add(target, 1) }

// HTTPCounters returns the counters of the HTTP client named client ("jira:acme"), whose 429s are exported
// as that name's covsync_rate_limited_total. A name gets the same counters for the daemon's lifetime: the
// clients a SIGHUP builds share them with the old ones, whose in-flight cycles keep counting (a counter per
// client lost the old client's 429s from the reload on, and one per reload would grow without bound).
func (m *Metrics) HTTPCounters(client string) *httpx.Counters { return m.throttled.countersOf(client) }

// CycleDone records one cycle of target: its duration, how many of its items are failing now, and, when it
// ran to the end (err nil), the time of its last success.
func (m *Metrics) CycleDone(target, kind string, d time.Duration, failing int, err error) {
	m.cycleDur.WithLabelValues(target, kind).Observe(d.Seconds())
	if err != nil {
		m.cycles.WithLabelValues(target, kind, "error").Inc()
		return
	}
	m.cycles.WithLabelValues(target, kind, "ok").Inc()
	m.failingNow.WithLabelValues(target).Set(float64(failing))
	m.lastSuccess.WithLabelValues(target).SetToCurrentTime()
}
