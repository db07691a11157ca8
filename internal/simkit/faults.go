package simkit

import "sync"

// Fault is one injected misbehaviour. What a status fault's answer looks like (headers, error body) is the
// simulator's; Body and ContentType, when set, replace it (a proxy's HTML page rather than the vendor's
// JSON).
type Fault struct {
	Status      int    // answer with this status
	Drop        bool   // close the connection without an answer
	ContentType string // with Body: answer this instead of the vendor's error shape
	Body        string
}

// Faults is a queue of faults, consumed one per request that takes one. The zero value is empty; it is safe
// for concurrent use.
type Faults struct {
	mu sync.Mutex
	q  []run
}

type run struct {
	f Fault
	n int
}

// Add queues n requests answered with f after the faults already queued.
func (q *Faults) Add(n int, f Fault) {
	if n <= 0 {
		return
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	q.q = append(q.q, run{f, n})
}

// Set replaces the queue: the next n requests are answered with f, then none.
func (q *Faults) Set(n int, f Fault) {
	q.mu.Lock()
	q.q = nil
	q.mu.Unlock()
	q.Add(n, f)
}

// Next takes the next fault, if any.
func (q *Faults) Next() (Fault, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.q) == 0 {
		return Fault{}, false
	}
	f := q.q[0].f
	if q.q[0].n--; q.q[0].n == 0 {
		q.q = q.q[1:]
	}
	return f, true
}
