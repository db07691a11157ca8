package engine_test

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/covsync/covsync/sync/push"
	"github.com/covsync/covsync/sync/report"
)

// memTarget is a real Target over an in-memory store: it plans one item per story (key, a hash of the
// story, a summary like a connector's) and Push writes the item into its store. Hooks inject the behaviour
// of an outside system (errors, skips, slowness, a cancellation arriving mid-cycle).
type memTarget struct {
	name string

	mu          sync.Mutex
	store       map[string][32]byte // what the "outside system" holds: key → hash of the payload written
	pushes      []string            // every acknowledged push, in order
	attempts    map[string]int      // every Push call per key
	inFlight    int
	maxInFlight int

	// before runs at the start of Push, outside the lock; a non-nil verdict is returned as is and nothing is
	// written.
	before func(ctx context.Context, it push.Item) *verdict
	// after runs once an item was written, outside the lock.
	after func(it push.Item)
}

func newMemTarget(name string) *memTarget {
	return &memTarget{name: name, store: map[string][32]byte{}, attempts: map[string]int{}}
}

func (m *memTarget) Name() string { return m.name }
func (m *memTarget) Kind() string { return "jira" }

func (m *memTarget) Plan(_ context.Context, p *report.Project) ([]push.Item, error) {
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

// verdict is what a hook makes Push return instead of writing.
type verdict struct {
	res push.Result
	err error
}

func (m *memTarget) Push(ctx context.Context, it push.Item) (push.Result, error) {
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
	if m.before != nil {
		if v := m.before(ctx, it); v != nil {
			return v.res, v.err
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
	if m.after != nil {
		m.after(it)
	}
	return push.Result{NoChange: noChange}, nil
}

// takePushes returns the keys acknowledged since the last call, sorted, and forgets them.
func (m *memTarget) takePushes() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := m.pushes
	m.pushes = nil
	sort.Strings(out)
	return out
}

func (m *memTarget) stored() map[string][32]byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make(map[string][32]byte, len(m.store))
	for k, v := range m.store {
		out[k] = v
	}
	return out
}

// project returns a report with n stories SHOP-1 … SHOP-n, each with coverage.
func project(n int) *report.Project {
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

// withCoverage returns p with story key's covered methods set to covered.
func withCoverage(p *report.Project, key string, covered int) *report.Project {
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

// on returns a before hook that answers vs[key] for the keys vs has and lets the others be written.
func on(vs map[string]*verdict) func(context.Context, push.Item) *verdict {
	return func(_ context.Context, it push.Item) *verdict { return vs[it.Key] }
}

type reportProject = report.Project

// withKey returns p with the i-th story (1-based) renamed to key.
func withKey(p *report.Project, i int, key string) *report.Project {
	q := *p
	q.Stories = append([]report.Story(nil), p.Stories...)
	q.Stories[i-1].Key = key
	return &q
}
