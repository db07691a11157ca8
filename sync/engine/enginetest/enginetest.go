// Package enginetest holds a real engine.Target over an in-memory store, and report builders, for tests of
// the engine and of what runs it (the resync command, the daemon's job worker): the engine's cycle is
// exercised end to end against real PostgreSQL without an outside system.
package enginetest

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/covsync/covsync/sync/push"
	"github.com/covsync/covsync/sync/report"
)

// Target is a real engine.Target over an in-memory store: it plans one item per story (key, a hash of the
// story, a summary like a connector's) and Push writes the item into its store. Hooks inject the behaviour
// of an outside system (errors, skips, slowness, a cancellation arriving mid-cycle). Set the hooks between
// cycles, never during one.
type Target struct {
	name, kind string

	mu          sync.Mutex
	store       map[string][32]byte // what the "outside system" holds: key → hash of the payload written
	pushes      []string            // every acknowledged push, in order
	attempts    map[string]int      // every Push call per key
	inFlight    int
	maxInFlight int
	reads       int // Drift calls

	// Before runs at the start of Push, outside the lock; a non-nil verdict is returned as is and nothing is
	// written.
	Before func(ctx context.Context, it push.Item) *Verdict
	// After runs once an item was written, outside the lock.
	After func(it push.Item)
}

// NewTarget returns an empty target named name ("jira:acme/SHOP") of kind ("jira").
func NewTarget(name, kind string) *Target {
	return &Target{name: name, kind: kind, store: map[string][32]byte{}, attempts: map[string]int{}}
}

// Name is the target's name.
func (m *Target) Name() string { return m.name }

// Kind is the target's kind.
func (m *Target) Kind() string { return m.kind }

// Plan plans one item per story of p.
func (m *Target) Plan(_ context.Context, p *report.Project) ([]push.Item, error) {
	items := make([]push.Item, 0, len(p.Stories))
	for _, s := range p.Stories {
		h, err := push.HashJSON(s)
		if err != nil {
			return nil, err
		}
		sum := "no coverage"
		if s.CoveragePercent != nil {
			sum = fmt.Sprintf("coverage %.1f%%", *s.CoveragePercent)
		}
		items = append(items, push.Item{Key: s.Key, Hash: h, Payload: s, Summary: sum})
	}
	return items, nil
}

// Verdict is what a hook makes Push return instead of writing.
type Verdict struct {
	Result push.Result
	Err    error
}

// Push writes it into the store unless a hook decides otherwise or ctx is done.
func (m *Target) Push(ctx context.Context, it push.Item) (push.Result, error) {
	m.mu.Lock()
	m.attempts[it.Key]++
	m.inFlight++
	m.maxInFlight = max(m.maxInFlight, m.inFlight)
	m.mu.Unlock()
	defer func() {
		m.mu.Lock()
		m.inFlight--
		m.mu.Unlock()
	}()
	if m.Before != nil {
		if v := m.Before(ctx, it); v != nil {
			return v.Result, v.Err
		}
	}
	if err := ctx.Err(); err != nil {
		return push.Result{}, err
	}
	m.mu.Lock()
	_, had := m.store[it.Key]
	noChange := had && m.store[it.Key] == it.Hash
	m.store[it.Key] = it.Hash
	m.pushes = append(m.pushes, it.Key)
	m.mu.Unlock()
	if m.After != nil {
		m.After(it)
	}
	return push.Result{NoChange: noChange}, nil
}

// TakePushes returns the keys acknowledged since the last call, sorted, and forgets them.
func (m *Target) TakePushes() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := m.pushes
	m.pushes = nil
	sort.Strings(out)
	return out
}

// Stored returns what the target holds: key → hash of the payload last written.
func (m *Target) Stored() map[string][32]byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make(map[string][32]byte, len(m.store))
	for k, v := range m.store {
		out[k] = v
	}
	return out
}

// Attempted returns how many distinct items Push was called for.
func (m *Target) Attempted() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.attempts)
}

// MaxInFlight returns the most Push calls that ran at once.
func (m *Target) MaxInFlight() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.maxInFlight
}

// Project returns a report of project "shop" with n stories SHOP-1 … SHOP-n, each with coverage.
func Project(n int) *report.Project {
	p := &report.Project{ID: "shop", Name: "Shop", DataAsOf: time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)}
	for i := 1; i <= n; i++ {
		cov, tot := 100+i%50, 200
		p.Stories = append(p.Stories, report.Story{
			Key:             fmt.Sprintf("SHOP-%d", i),
			CoveragePercent: report.CoveragePercent(cov, tot),
			CoveredMethods:  &cov, TotalMethods: &tot,
			Tests:  report.TestCounts{Passed: 3, Failed: i % 2},
			Status: map[bool]string{true: report.StatusFailed, false: report.StatusPassed}[i%2 == 1],
		})
	}
	return p
}

// WithCoverage returns a copy of p with story key's covered methods set to covered.
func WithCoverage(p *report.Project, key string, covered int) *report.Project {
	q := *p
	q.Stories = append([]report.Story(nil), p.Stories...)
	for i := range q.Stories {
		if q.Stories[i].Key == key {
			c := covered
			q.Stories[i].CoveredMethods = &c
			q.Stories[i].CoveragePercent = report.CoveragePercent(c, *q.Stories[i].TotalMethods)
		}
	}
	return &q
}

// On returns a Before hook that answers vs[key] for the keys vs has and lets the others be written.
func On(vs map[string]*Verdict) func(context.Context, push.Item) *Verdict {
	return func(_ context.Context, it push.Item) *Verdict { return vs[it.Key] }
}

// WithKey returns a copy of p with the i-th story (1-based) renamed to key.
func WithKey(p *report.Project, i int, key string) *report.Project {
	q := *p
	q.Stories = append([]report.Story(nil), p.Stories...)
	q.Stories[i-1].Key = key
	return &q
}

// Drift implements engine.Reader: an item is drifted when the store holds another hash for it, or nothing.
// Each call counts as one read (Reads).
func (m *Target) Drift(_ context.Context, items []push.Item) (push.Drift, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.reads++
	out := push.Drift{}
	for _, it := range items {
		h, ok := m.store[it.Key]
		switch {
		case !ok:
			out[it.Key] = []push.Diff{{Field: "item", Held: push.Missing, Desired: it.Summary}}
		case h != it.Hash:
			out[it.Key] = []push.Diff{{Field: "hash", Held: fmt.Sprintf("%x", h[:4]), Desired: fmt.Sprintf("%x", it.Hash[:4])}}
		}
	}
	return out, nil
}

// Reads returns how many times Drift was called.
func (m *Target) Reads() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.reads
}

// Tamper changes what the store holds for key out of band (a person's edit); Forget removes it (deleted).
func (m *Target) Tamper(key string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.store[key] = [32]byte{0xde, 0xad}
}

// Forget removes key from the store, as if a person deleted it.
func (m *Target) Forget(key string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.store, key)
}
