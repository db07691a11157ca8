package httpx

import (
	"context"
	"math"
	"sync"
	"time"
)

// DefaultMaxInFlight bounds the adaptive in-flight limit when Options.MaxInFlight is not set; it is
// workers.per_target's default.
const DefaultMaxInFlight = 64

// Tuning of the in-flight limit (docs/architecture.md, "Pace to the site").
const (
	// assumedLatency sizes the limit before the site has answered once.
	assumedLatency = 100 * time.Millisecond
	// headroom and spare are how far above rate × latency the limit sits, so that the token bucket, not
	// the limit, is what paces a site whose latency wobbles (a fast site's latency wobbles by its whole
	// size).
	headroom = 1.5
	spare    = 2
	// fastWeight and slowWeight are the weights of a new sample in the short-term and baseline latency
	// averages (exponentially weighted moving averages over about 5 and 100 answers).
	fastWeight, slowWeight = 0.2, 0.01
	// climbing is how far above its baseline the short-term latency must be to count as a site slowing down
	// under load: the limit is then sized on the baseline, so the site gets fewer requests a second, not
	// more in flight.
	climbing = 2.0
)

// inflight is the adaptive limit on one client's requests in flight (one per site or organization).
// Little's law sizes it: a site answering in L seconds at R requests a second has R × L requests in flight,
// so the limit is ceil(R × L × headroom) + spare, between 1 and max. R is the client's current rate (which
// drops after 429s and near-limit warnings) and L the short-term average latency, unless that latency is
// climbing well above its baseline: then the baseline sizes the limit, which lowers the request rate
// while the site is slowing down, until the baseline has caught up with a latency that stays.
type inflight struct {
	mu      sync.Mutex
	max     int
	limit   int
	n       int
	waiters []chan struct{}
	fast    float64 // seconds
	slow    float64 // seconds
	samples int64
	rate    func() float64
	// report publishes n and limit (the Counters' gauges).
	report func(n, limit int)
}

func newInflight(max int, rate func() float64, report func(n, limit int)) *inflight {
	if max <= 0 {
		max = DefaultMaxInFlight
	}
	if report == nil {
		report = func(int, int) {}
	}
	f := &inflight{max: max, rate: rate, report: report}
	f.limit = f.size(assumedLatency.Seconds())
	report(0, f.limit)
	return f
}

// size is the limit for latency lat (seconds) at the current rate.
func (f *inflight) size(lat float64) int {
	want := math.Ceil(f.rate()*lat*headroom) + spare
	if want > float64(f.max) || math.IsNaN(want) {
		return f.max
	}
	return max(1, int(want))
}

// acquire blocks until a request may go out (fewer than limit in flight, first come first served) or ctx
// ends.
func (f *inflight) acquire(ctx context.Context) error {
	f.mu.Lock()
	if f.n < f.limit && len(f.waiters) == 0 {
		f.n++
		f.report(f.n, f.limit)
		f.mu.Unlock()
		return nil
	}
	ch := make(chan struct{})
	f.waiters = append(f.waiters, ch)
	f.mu.Unlock()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		f.mu.Lock()
		defer f.mu.Unlock()
		for i, w := range f.waiters {
			if w == ch {
				f.waiters = append(f.waiters[:i], f.waiters[i+1:]...)
				return ctx.Err()
			}
		}
		// Granted while giving up: hand the slot on.
		f.n--
		f.grant()
		return ctx.Err()
	}
}

// release ends one request in flight.
func (f *inflight) release() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.n--
	f.grant()
}

// grant lets waiters in while there is room; f.mu is held.
func (f *inflight) grant() {
	for len(f.waiters) > 0 && f.n < f.limit {
		ch := f.waiters[0]
		f.waiters = f.waiters[1:]
		f.n++
		close(ch)
	}
	f.report(f.n, f.limit)
}

// observe takes the latency of one answer (time to its headers) and resizes the limit.
func (f *inflight) observe(d time.Duration) {
	s := d.Seconds()
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.samples == 0 {
		f.fast, f.slow = s, s
	} else {
		f.fast += fastWeight * (s - f.fast)
		f.slow += slowWeight * (s - f.slow)
	}
	f.samples++
	f.resize()
}

// resize recomputes the limit from the averages and the current rate; f.mu is held.
func (f *inflight) resize() {
	lat := f.fast
	if f.samples == 0 {
		lat = assumedLatency.Seconds()
	} else if f.fast > climbing*f.slow {
		lat = f.slow
	}
	f.limit = f.size(lat)
	f.grant()
}

// rateChanged resizes the limit after the client's rate changed (a 429 halved it, it recovered).
func (f *inflight) rateChanged() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.resize()
}

// state returns the requests in flight and the limit.
func (f *inflight) state() (n, limit int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.n, f.limit
}
