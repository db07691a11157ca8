package engine

import "time"

// Observer is told what cycles do: the daemon turns it into Prometheus metrics, `covsync resync` into a
// progress bar. Calls come from the cycle's worker goroutines concurrently; an Observer must be safe for
// that and must not block (it runs on the push path). Dry runs are not observed.
type Observer interface {
	// CyclePlanned is called once the plan is diffed, before the first push.
	CyclePlanned(e PlanEvent)
	// ItemDone is called for every push attempted whose outcome was recorded. Unchanged items are not
	// pushed and not reported here, nor are items left for the next cycle (cancelled, stopped by a fatal
	// error, not recorded); the cycle's Summary counts them (Unchanged, Remaining).
	ItemDone(e ItemEvent)
	// CycleDone is called at the end of every cycle that was not a dry run, failed or not.
	CycleDone(s Summary)
}

// PlanEvent says how much work a cycle has.
type PlanEvent struct {
	Target, Kind, Project string
	Planned               int // items the target planned
	ToPush                int // of which differ from the ledger (or all of them, forced)
}

// Outcome is what became of one pushed item.
type Outcome string

// Outcomes of ItemEvent.
const (
	OutcomePushed  Outcome = "pushed"  // acknowledged: written, or found already up to date
	OutcomeSkipped Outcome = "skipped" // the target chose not to write
	OutcomeFailed  Outcome = "failed"  // an error; ErrorKind says which
)

// ItemEvent is one push attempt's outcome.
type ItemEvent struct {
	Target, Kind, Project string
	Item                  string
	Outcome               Outcome
	// NoChange is set on a push the target found already in place (nothing written).
	NoChange bool
	// ErrorKind is "permanent" or "retryable" for OutcomeFailed (a fatal error leaves the item Remaining).
	ErrorKind string
	// Duration is the time Push took.
	Duration time.Duration
}

// NopObserver observes nothing; embed it to implement only some hooks.
type NopObserver struct{}

// CyclePlanned does nothing.
func (NopObserver) CyclePlanned(PlanEvent) {}

// ItemDone does nothing.
func (NopObserver) ItemDone(ItemEvent) {}

// CycleDone does nothing.
func (NopObserver) CycleDone(Summary) {}

// Observers tells each of obs in turn (nil entries are ignored).
func Observers(obs ...Observer) Observer {
	var out multi
	for _, o := range obs {
		if o != nil {
			out = append(out, o)
		}
	}
	return out
}

type multi []Observer

func (m multi) CyclePlanned(e PlanEvent) {
	for _, o := range m {
		o.CyclePlanned(e)
	}
}

func (m multi) ItemDone(e ItemEvent) {
	for _, o := range m {
		o.ItemDone(e)
	}
}

func (m multi) CycleDone(s Summary) {
	for _, o := range m {
		o.CycleDone(s)
	}
}
