package metrics

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// rateLimits is covsync_rate_limited_total: counts added directly plus counters read at scrape time.
type rateLimits struct {
	desc *prometheus.Desc

	mu      sync.Mutex
	base    map[string]float64      // counted so far (direct adds, and watched counters since replaced)
	watched map[string]func() int64 // the live counter of each target
}

func newRateLimits() *rateLimits {
	return &rateLimits{
		desc:    prometheus.NewDesc("covsync_rate_limited_total", "HTTP 429 answers received per target.", []string{"target"}, nil),
		base:    map[string]float64{},
		watched: map[string]func() int64{},
	}
}

func (r *rateLimits) add(target string, n float64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.base[target] += n
}

func (r *rateLimits) watch(target string, load func() int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if old, ok := r.watched[target]; ok {
		r.base[target] += float64(old())
	}
	r.watched[target] = load
}

func (r *rateLimits) Describe(ch chan<- *prometheus.Desc) { ch <- r.desc }

func (r *rateLimits) Collect(ch chan<- prometheus.Metric) {
	r.mu.Lock()
	defer r.mu.Unlock()
	totals := map[string]float64{}
	for t, n := range r.base {
		totals[t] += n
	}
	for t, load := range r.watched {
		totals[t] += float64(load())
	}
	for t, n := range totals {
		ch <- prometheus.MustNewConstMetric(r.desc, prometheus.CounterValue, n, t)
	}
}
