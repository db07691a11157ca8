package metrics

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/covsync/covsync/connectors/httpx"
)

// rateLimits is covsync_rate_limited_total: counts added directly plus the 429 counters of the HTTP clients.
type rateLimits struct {
	desc *prometheus.Desc

	mu       sync.Mutex
	base     map[string]float64         // counted directly (RateLimited)
	counters map[string]*httpx.Counters // one per client name, kept across reloads
}

func newRateLimits() *rateLimits {
	return &rateLimits{
		desc:     prometheus.NewDesc("covsync_rate_limited_total", "HTTP 429 answers received per target.", []string{"target"}, nil),
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

func (r *rateLimits) Describe(ch chan<- *prometheus.Desc) { ch <- r.desc }

func (r *rateLimits) Collect(ch chan<- prometheus.Metric) {
	r.mu.Lock()
	defer r.mu.Unlock()
	totals := map[string]float64{}
	for t, n := range r.base {
		totals[t] += n
	}
	for t, c := range r.counters {
		totals[t] += float64(c.TooManyRequests.Load())
	}
	for t, n := range totals {
		ch <- prometheus.MustNewConstMetric(r.desc, prometheus.CounterValue, n, t)
	}
}
