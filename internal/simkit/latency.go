package simkit

import (
	"context"
	"sync"
	"time"
)

// Latency is an injected delay before every answer. The zero value adds none; it is safe for concurrent
// use.
type Latency struct {
	mu sync.Mutex
	d  time.Duration
}

// Set makes every later answer wait d (0: none).
func (l *Latency) Set(d time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.d = d
}

// Get returns the delay.
func (l *Latency) Get() time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.d
}

// Wait waits out the delay; it returns false when ctx ends first (the client went away).
func (l *Latency) Wait(ctx context.Context) bool {
	d := l.Get()
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
