package httpx

import (
	"context"
	"net/http"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// adaptiveLimiter is the per-target token bucket: AIMD around the configured rate, plus a pause that holds
// every request of the client while a server-given Retry-After runs, and pauses of single issues (a Jira
// per-issue write limit holds one issue back, not the site).
type adaptiveLimiter struct {
	mu         sync.Mutex
	lim        *rate.Limiter
	base       rate.Limit
	floor      rate.Limit
	lastHalve  time.Time
	lastEase   time.Time
	lastChange time.Time
	pauseUntil time.Time
	issues     map[string]time.Time // issue path → no request before
	now        func() time.Time
	// changed is called (without mu) after the rate changed; the in-flight limit follows the rate.
	changed func()
}

const (
	halveEvery   = time.Second     // concurrent 429s within this window are one signal
	easeEvery    = time.Second     // near-limit warnings within this window are one signal
	recoverEvery = 2 * time.Second // the rate grows by base/10 at most this often
	// nearLimitFactor is what a near-limit warning (X-RateLimit-NearLimit: true) multiplies the rate by:
	// a gentler step than a 429's halving, taken before any 429.
	nearLimitFactor = 0.8
)

func newAdaptiveLimiter(rps float64) *adaptiveLimiter {
	base := rate.Limit(rps)
	return &adaptiveLimiter{lim: rate.NewLimiter(base, 1), base: base, floor: base / 32, now: time.Now,
		issues: map[string]time.Time{}, changed: func() {}}
}

// wait blocks until the client's pause and the pause of issue (when not empty) are over and a token is
// free, or ctx ends. With shared set (a budget shared by every replica paces the site at the configured
// rate) the client's own bucket is skipped while it runs at that rate: two buckets of one rate in a row
// lose the tokens of the second whenever the first is late; it paces again once a 429 or a near-limit
// warning has slowed the client. paced says whether a token of the own bucket was taken: when it was not
// and the shared budget then says it did not pace either (ErrNotPaced), the caller takes one (take).
func (l *adaptiveLimiter) wait(ctx context.Context, issue string, shared bool) (paced bool, err error) {
	if err := l.paused(ctx, issue); err != nil {
		return false, err
	}
	l.mu.Lock()
	slowed := l.lim.Limit() < l.base
	l.mu.Unlock()
	if shared && !slowed {
		return false, nil
	}
	return true, l.lim.Wait(ctx)
}

// paused blocks until the client's pause and the pause of issue (when not empty) are over, or ctx ends. It
// takes no token: the transport waits here before it takes a place in flight, so a request its issue's pause
// already holds back does not hold a place meanwhile. (A pause that begins after the request took its place
// is waited out in wait, in the place.)
func (l *adaptiveLimiter) paused(ctx context.Context, issue string) error {
	for {
		l.mu.Lock()
		now := l.now()
		until := l.pauseUntil
		if issue != "" {
			if u, ok := l.issues[issue]; ok {
				if !u.After(now) {
					delete(l.issues, issue)
				} else if u.After(until) {
					until = u
				}
			}
		}
		l.mu.Unlock()
		d := until.Sub(now)
		if d <= 0 {
			return nil
		}
		if err := Sleep(ctx, d); err != nil {
			return err
		}
	}
}

// take waits for a token of the own bucket only (no pause is checked again): the pacing of a request the
// shared budget let go unpaced.
func (l *adaptiveLimiter) take(ctx context.Context) error { return l.lim.Wait(ctx) }

// Sleep waits d, or until ctx ends (its error then). Pacers of the connectors and the shared budget wait
// with it.
func Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// tooManyRequests is a 429 for the whole site: the rate halves (once per halveEvery) and every request
// waits pause.
func (l *adaptiveLimiter) tooManyRequests(pause time.Duration) {
	l.mu.Lock()
	now := l.now()
	halved := false
	if now.Sub(l.lastHalve) >= halveEvery {
		l.lim.SetLimitAt(now, max(l.lim.Limit()/2, l.floor))
		l.lastHalve, l.lastChange = now, now
		halved = true
	}
	l.pauseLocked(now, pause)
	l.mu.Unlock()
	if halved {
		l.changed()
	}
}

// pause holds every request of the client for d (a Retry-After on an answer that is not a 429).
func (l *adaptiveLimiter) pause(d time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.pauseLocked(l.now(), d)
}

func (l *adaptiveLimiter) pauseLocked(now time.Time, d time.Duration) {
	if until := now.Add(d); until.After(l.pauseUntil) {
		l.pauseUntil = until
	}
}

// pauseIssue holds the requests to one issue for d; the rest of the site goes on at its rate. Pauses that
// are over are forgotten here too, not only when their issue is asked for again (most never are).
func (l *adaptiveLimiter) pauseIssue(issue string, d time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	for k, u := range l.issues {
		if !u.After(now) {
			delete(l.issues, k)
		}
	}
	if until := now.Add(d); until.After(l.issues[issue]) {
		l.issues[issue] = until
	}
}

// nearLimit is a warning that the site's budget is nearly spent: the rate eases by nearLimitFactor (once
// per easeEvery), before any 429.
func (l *adaptiveLimiter) nearLimit() {
	l.mu.Lock()
	now := l.now()
	eased := false
	if now.Sub(l.lastEase) >= easeEvery {
		l.lim.SetLimitAt(now, max(l.lim.Limit()*nearLimitFactor, l.floor))
		l.lastEase, l.lastChange = now, now
		eased = true
	}
	l.mu.Unlock()
	if eased {
		l.changed()
	}
}

func (l *adaptiveLimiter) success() {
	l.mu.Lock()
	now := l.now()
	cur := l.lim.Limit()
	if cur >= l.base || now.Sub(l.lastChange) < recoverEvery {
		l.mu.Unlock()
		return
	}
	l.lim.SetLimitAt(now, min(cur+l.base/10, l.base))
	l.lastChange = now
	l.mu.Unlock()
	l.changed()
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

// InFlight returns the requests in flight and the adaptive in-flight limit of a client made by New, and
// false for any other client.
func InFlight(c *http.Client) (n, limit int, ok bool) {
	t, ok := c.Transport.(*entryTransport)
	if !ok || t.inflight == nil {
		return 0, 0, false
	}
	n, limit = t.inflight.state()
	return n, limit, true
}
