package simkit

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Bucket is the token bucket behind a simulator's 429 answers. The zero value is unlimited; it is safe for
// concurrent use.
type Bucket struct {
	mu  sync.Mutex
	lim *rate.Limiter
}

// Set makes the bucket hold burst tokens, refilled at rps a second; rps <= 0 removes the limit. Each
// simulator picks its vendor's default burst.
func (b *Bucket) Set(rps float64, burst int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if rps <= 0 {
		b.lim = nil
		return
	}
	b.lim = rate.NewLimiter(rate.Limit(rps), max(1, burst))
}

// Take is the outcome of one request's attempt to take a token.
type Take struct {
	// OK: the request may proceed (a token was taken, or there is no limit).
	OK bool
	// Limited: a limit is configured (Burst and Remaining mean something).
	Limited bool
	// Burst is the bucket's size; Remaining the whole tokens left after this request.
	Burst, Remaining int
	// Wait is how long until a token is back, when !OK.
	Wait time.Duration
}

// Take takes one token at now, or says how long until one is back.
func (b *Bucket) Take(now time.Time) Take {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.lim == nil {
		return Take{OK: true}
	}
	t := Take{Limited: true, Burst: b.lim.Burst()}
	if b.lim.AllowN(now, 1) {
		t.OK = true
		t.Remaining = int(b.lim.TokensAt(now))
		return t
	}
	t.Wait = time.Duration((1 - b.lim.TokensAt(now)) / float64(b.lim.Limit()) * float64(time.Second))
	return t
}

// RetryAfterSeconds is a Retry-After value in whole seconds for a wait: rounded up, at least 1, since
// Retry-After: 0 would tell a client to retry at once into the same empty bucket.
func RetryAfterSeconds(wait time.Duration) int {
	return max(1, int((wait+time.Second-1)/time.Second))
}
