package httpx

import (
	"context"
	"net/http"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// adaptiveLimiter is the per-target token bucket: AIMD around the configured rate, plus a pause that holds
// every request of the client while a server-given Retry-After runs.
type adaptiveLimiter struct {
	mu         sync.Mutex
	lim        *rate.Limiter
	base       rate.Limit
	floor      rate.Limit
	lastHalve  time.Time
	lastChange time.Time
	pauseUntil time.Time
	now        func() time.Time
}

const (
	halveEvery   = time.Second     // concurrent 429s within this window are one signal
	recoverEvery = 2 * time.Second // the rate grows by base/10 at most this often
)

func newAdaptiveLimiter(rps float64) *adaptiveLimiter {
	base := rate.Limit(rps)
	return &adaptiveLimiter{lim: rate.NewLimiter(base, 1), base: base, floor: base / 32, now: time.Now}
}

// wait blocks until the pause is over and a token is free, or ctx ends.
func (l *adaptiveLimiter) wait(ctx context.Context) error {
	l.mu.Lock()
	d := l.pauseUntil.Sub(l.now())
	l.mu.Unlock()
	if d > 0 {
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
	return l.lim.Wait(ctx)
}

func (l *adaptiveLimiter) tooManyRequests(pause time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if now.Sub(l.lastHalve) >= halveEvery {
		l.lim.SetLimitAt(now, max(l.lim.Limit()/2, l.floor))
		l.lastHalve, l.lastChange = now, now
	}
	if until := now.Add(pause); until.After(l.pauseUntil) {
		l.pauseUntil = until
	}
}

func (l *adaptiveLimiter) success() {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	cur := l.lim.Limit()
	if cur >= l.base || now.Sub(l.lastChange) < recoverEvery {
		return
	}
	l.lim.SetLimitAt(now, min(cur+l.base/10, l.base))
	l.lastChange = now
}

func (l *adaptiveLimiter) limit() float64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return float64(l.lim.Limit())
}

// Rate returns the current requests-per-second of a client made by New (it drops after 429s and recovers
// slowly), and false for any other client.
func Rate(c *http.Client) (float64, bool) {
	t, ok := c.Transport.(*entryTransport)
	if !ok || t.limiter == nil {
		return 0, false
	}
	return t.limiter.limit(), true
}
