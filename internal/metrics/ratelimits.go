package metrics

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/covsync/covsync/connectors/httpx"
)

// rateLimits is covsync_rate_limited_total (counts added directly plus the 429 counters of the HTTP
// clients) and the pacing of each client: 429s by reason, near-limit warnings, requests in flight and the
// adaptive limit, waits for the deployment's shared budget.
type rateLimits struct {
	desc        *prometheus.Desc
	byReason    *prometheus.Desc
	nearLimit   *prometheus.Desc
	inFlight    *prometheus.Desc
	limit       *prometheus.Desc
	budgetWaits *prometheus.Desc
	budgetWait  *prometheus.Desc

	mu       sync.Mutex
	base     map[string]float64         // counted directly (RateLimited)
	counters map[string]*httpx.Counters // one per client name, kept across reloads
}

func newRateLimits() *rateLimits {
	return &rateLimits{
		desc: prometheus.NewDesc("covsync_rate_limited_total", "HTTP 429 answers received per target.", []string{"target"}, nil),
		byReason: prometheus.NewDesc("covsync_rate_limited_by_reason_total",
			"HTTP 429 answers per site client, by the reason the site gave (RateLimit-Reason, X-RateLimit-Resource, or unspecified).",
			[]string{"target", "reason"}, nil),
		nearLimit: prometheus.NewDesc("covsync_rate_limit_near_total",
			"Answers that warned the site's budget is nearly spent (X-RateLimit-NearLimit: true).", []string{"target"}, nil),
		inFlight: prometheus.NewDesc("covsync_http_in_flight", "HTTP requests in flight per site client.", []string{"target"}, nil),
		limit: prometheus.NewDesc("covsync_http_in_flight_limit",
			"The adaptive in-flight limit per site client (rate × latency, bounded by workers.per_target).", []string{"target"}, nil),
		budgetWaits: prometheus.NewDesc("covsync_budget_waits_total",
			"Requests that waited for the site's budget shared by every replica.", []string{"target"}, nil),
		budgetWait: prometheus.NewDesc("covsync_budget_wait_seconds_total",
			"Time requests waited for the site's budget shared by every replica.", []string{"target"}, nil),
		base:     map[string]float64{},
		counters: map[string]*httpx.Counters{},
	}
}

func (r *rateLimits) add(target string, n float64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.base[target] += n
}

func (r *rateLimits) countersOf(client string) *httpx.Counters {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, ok := r.counters[client]
	if !ok {
		c = &httpx.Counters{}
		r.counters[client] = c
	}
	return c
}

func (r *rateLimits) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{r.desc, r.byReason, r.nearLimit, r.inFlight, r.limit, r.budgetWaits, r.budgetWait} {
		ch <- d
	}
}

func (r *rateLimits) Collect(ch chan<- prometheus.Metric) {
	r.mu.Lock()
	defer r.mu.Unlock()
	totals := map[string]float64{}
	for t, n := range r.base {
		totals[t] += n
	}
	for t, c := range r.counters {
		totals[t] += float64(c.TooManyRequests.Load())
		for reason, n := range c.TooManyRequestsByReason() {
			ch <- prometheus.MustNewConstMetric(r.byReason, prometheus.CounterValue, float64(n), t, reason)
		}
		ch <- prometheus.MustNewConstMetric(r.nearLimit, prometheus.CounterValue, float64(c.NearLimit.Load()), t)
		ch <- prometheus.MustNewConstMetric(r.inFlight, prometheus.GaugeValue, float64(c.InFlight.Load()), t)
		ch <- prometheus.MustNewConstMetric(r.limit, prometheus.GaugeValue, float64(c.InFlightLimit.Load()), t)
		ch <- prometheus.MustNewConstMetric(r.budgetWaits, prometheus.CounterValue, float64(c.BudgetWaits.Load()), t)
		ch <- prometheus.MustNewConstMetric(r.budgetWait, prometheus.CounterValue, time.Duration(c.BudgetWaitNanos.Load()).Seconds(), t)
	}
	for t, n := range totals {
		ch <- prometheus.MustNewConstMetric(r.desc, prometheus.CounterValue, n, t)
	}
}
