package simkit

import (
	"net/url"
	"sync"
)

// Log records a simulator's requests in arrival order. R is the simulator's own Request type. The zero value
// is an empty log; it is safe for concurrent use.
type Log[R any] struct {
	mu   sync.Mutex
	reqs []R
}

// Add appends r and returns its index for Update.
func (l *Log[R]) Add(r R) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.reqs = append(l.reqs, r)
	return len(l.reqs) - 1
}

// Update changes the request at index i (from Add), such as its status once answered. It does nothing when
// the log was reset since.
func (l *Log[R]) Update(i int, change func(*R)) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if i < len(l.reqs) {
		change(&l.reqs[i])
	}
}

// All returns a copy of the recorded requests, oldest first.
func (l *Log[R]) All() []R {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]R(nil), l.reqs...)
}

// Reset forgets the recorded requests.
func (l *Log[R]) Reset() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.reqs = nil
}

// Count returns how many recorded requests match.
func (l *Log[R]) Count(match func(R) bool) int {
	n := 0
	for _, r := range l.All() {
		if match(r) {
			n++
		}
	}
	return n
}

// Request is what every simulator records of a request. A simulator's own Request type embeds it and adds
// what its vendor needs (arrival time, authenticated user…).
type Request struct {
	Method string
	Path   string
	Query  url.Values
	Body   []byte
	Status int // what the simulator answered; 0: the connection was dropped or the client went away
}
