package metrics

import (
	"errors"

	"github.com/covsync/covsync/sync/engine"
)

// Observer returns the engine.Observer that feeds m: every push attempt, and each cycle's unchanged items,
// duration, failing items and success time.
func (m *Metrics) Observer() engine.Observer { return observer{m} }

type observer struct{ m *Metrics }

func (o observer) CyclePlanned(engine.PlanEvent) {}

// ItemDone counts a push attempt; the engine's outcomes (pushed, skipped, failed) are the counter's labels.
func (o observer) ItemDone(e engine.ItemEvent) { o.m.ItemDone(e.Target, string(e.Outcome), e.Duration) }

// CycleDone adds the items the cycle left alone (the engine does not report them one by one) and records the
// cycle.
func (o observer) CycleDone(s engine.Summary) {
	if s.Unchanged > 0 {
		o.m.items.WithLabelValues(s.Target, OutcomeUnchanged).Add(float64(s.Unchanged))
	}
	var err error
	if s.CycleError != "" {
		err = errors.New(s.CycleError)
	}
	o.m.CycleDone(s.Target, s.Kind, s.Duration, s.Failed, err)
	if s.Reconcile {
		o.m.Reconciled(s.Target, s.Drifted, err == nil)
	}
}
