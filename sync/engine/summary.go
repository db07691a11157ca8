package engine

import (
	"encoding/json"
	"time"

	"github.com/covsync/covsync/sync/ledger"
	"github.com/covsync/covsync/sync/push"
)

// Summary is what one cycle of one target did. Its JSON is one element of `covsync resync --output json`'s
// "targets" list (docs/architecture.md, Contracts).
type Summary struct {
	Target  string `json:"target"`
	Kind    string `json:"kind"`
	Project string `json:"project"`
	// Planned items; each is exactly one of Pushed, Unchanged, Failed, Skipped or Remaining.
	Planned   int `json:"planned"`
	Pushed    int `json:"pushed"`    // acknowledged by the target (including "already up to date")
	Unchanged int `json:"unchanged"` // equal to what the ledger says was last pushed: not sent
	Failed    int `json:"failed"`    // recorded as failed; retried next cycle
	Skipped   int `json:"skipped"`   // the target chose not to write (on_manual_edit: skip)
	// Remaining items were due but not attempted: the cycle was cancelled or the target became unusable.
	// Their ledger rows are untouched, so the next cycle pushes them.
	Remaining int `json:"remaining"`
	// Pruned counts entries the target removed to stay within a limit (the 32 KB Jira property).
	Pruned int `json:"pruned"`
	// Stale counts items in the ledger that the plan no longer has. They are left alone at the target and in
	// the ledger (covsync never deletes what it cannot prove it alone owns).
	Stale int `json:"stale"`
	// Drifted counts, in a reconcile, the items whose held state differed from the desired one (or that the
	// target did not hold at all); they are also counted where their push ended (Pushed, usually).
	Drifted int `json:"drifted"`
	// Reconcile is set on a reconcile cycle.
	Reconcile bool        `json:"reconcile,omitempty"`
	Errors    []ItemError `json:"errors"`
	// WouldPush lists, in a dry run, what a real cycle would push.
	WouldPush []Change `json:"wouldPush,omitempty"`
	DryRun    bool     `json:"dryRun,omitempty"`
	// Duration is the cycle's wall time; JSON carries it as durationSeconds.
	Duration time.Duration `json:"-"`
	// CycleError is the cycle-level failure (plan failed, target unusable, ledger unreachable, cancelled);
	// empty when the cycle ran to its end, even if items failed.
	CycleError string `json:"cycleError,omitempty"`
}

// ItemError is one failed item.
type ItemError struct {
	Item  string `json:"item"`
	Error string `json:"error"`
	Kind  string `json:"kind"` // permanent | retryable | fatal
}

// Change is an item a cycle pushes (or, in a dry run, would push) and why.
type Change struct {
	Key     string `json:"key"`
	Summary string `json:"summary"`
	Reason  string `json:"reason"` // new | hash changed | retry after a failed attempt | forced | drifted
	// Drift says, for a drifted item, which fields differ (held → desired).
	Drift []push.Diff `json:"drift,omitempty"`
}

// Counts returns the summary's counts as the cycle history stores them.
func (s Summary) Counts() ledger.Counts {
	return ledger.Counts{Planned: s.Planned, Pushed: s.Pushed, Unchanged: s.Unchanged, Failed: s.Failed,
		Skipped: s.Skipped, Pruned: s.Pruned, Drifted: s.Drifted}
}

// MarshalJSON writes Duration as seconds, an empty error list as [] and, in a dry run, an empty would-push
// list as [].
func (s Summary) MarshalJSON() ([]byte, error) {
	type plain Summary
	out := struct {
		plain
		// Shadows plain's field: a pointer to an empty list is not omitted.
		WouldPush       *[]Change `json:"wouldPush,omitempty"`
		DurationSeconds float64   `json:"durationSeconds"`
	}{plain: plain(s), DurationSeconds: s.Duration.Seconds()}
	if out.Errors == nil {
		out.Errors = []ItemError{}
	}
	if s.DryRun || len(s.WouldPush) > 0 {
		w := s.WouldPush
		if w == nil {
			w = []Change{} // a dry run that finds nothing to do says so
		}
		out.WouldPush = &w
	}
	return json.Marshal(out)
}

// UnmarshalJSON reads what MarshalJSON wrote, so a summary survives a trip through a job's stored output.
func (s *Summary) UnmarshalJSON(b []byte) error {
	type plain Summary
	var in struct {
		plain
		DurationSeconds float64 `json:"durationSeconds"`
	}
	if err := json.Unmarshal(b, &in); err != nil {
		return err
	}
	*s = Summary(in.plain)
	s.Duration = time.Duration(in.DurationSeconds * float64(time.Second))
	return nil
}
