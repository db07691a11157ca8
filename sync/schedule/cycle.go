package schedule

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
)

// Triggers say why a cycle ran; they end up in the cycle history.
const (
	TriggerSchedule = "schedule"
	TriggerResync   = "resync" // covsync resync
	TriggerAPI      = "api"    // POST /v1/resync
	TriggerIngest   = "ingest" // a report posted to the endpoint
)

// Cycle is one (project, kind) cycle as the Runner receives it.
type Cycle struct {
	Project string
	Kind    string
	Trigger string
	// Force ignores the ledger: every planned item is pushed.
	Force bool
	// Reconcile reads back what the target holds and pushes what drifted (engine.Options.Reconcile).
	Reconcile bool
	// JobID and Attempt identify the River job (for logs).
	JobID   int64
	Attempt int
}

// Runner runs one cycle. Its output (any JSON-encodable value, typically the cycle's counts) is stored on the
// job, where Wait returns it. A cycle whose items partly failed has still run: it returns its output and a nil
// error (the ledger keeps the failures for the next cycle). An error means the cycle could not run (database
// down, plan failed) and the job is retried; wrap it with Permanent when retrying cannot help.
type Runner interface {
	RunCycle(ctx context.Context, c Cycle) (output any, err error)
}

// RunnerFunc adapts a function to Runner.
type RunnerFunc func(ctx context.Context, c Cycle) (any, error)

// RunCycle calls f.
func (f RunnerFunc) RunCycle(ctx context.Context, c Cycle) (any, error) { return f(ctx, c) }

type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// Permanent marks a cycle error that retrying cannot fix (the project is no longer configured): the job is
// cancelled instead of retried.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanentError{err: err}
}

// JobKind is the River job kind of a cycle.
const JobKind = "covsync_cycle"

// CycleArgs are a cycle job's arguments. Only project and kind make the job unique: a forced resync, a
// reconcile and a scheduled cycle of the same (project, kind) are the same job as far as "never twice at
// once" goes.
type CycleArgs struct {
	Project   string `json:"project" river:"unique"`
	Target    string `json:"target" river:"unique"` // the target kind
	Trigger   string `json:"trigger"`
	Force     bool   `json:"force,omitempty"`
	Reconcile bool   `json:"reconcile,omitempty"`
	// Slot is part of the unique key. Scheduled and resync cycles leave it empty; cycles after an ingest take
	// "ingest" or "ingest-next", so a report stored while one cycle runs still gets a cycle after it (a
	// single unique key would call the new job a duplicate of the running one).
	Slot string `json:"slot,omitempty" river:"unique"`
}

// Kind is River's job kind.
func (CycleArgs) Kind() string { return JobKind }

// uniqueStates are the states in which a second job for the same (project, kind) is refused. River requires
// these four; retryable is left out on purpose, so a failed cycle waiting for its retry does not block the
// next scheduled tick (River discards the retry if the tick's job is still there when the retry is due).
func uniqueStates() []rivertype.JobState {
	return []rivertype.JobState{
		rivertype.JobStateAvailable,
		rivertype.JobStatePending,
		rivertype.JobStateRunning,
		rivertype.JobStateScheduled,
	}
}

// insertOpts are the options of every cycle job: its kind's queue, the capped attempts, uniqueness.
func (s *Scheduler) insertOpts(a CycleArgs) *river.InsertOpts {
	attempts := s.opts.MaxAttempts
	if a.Trigger != TriggerSchedule && a.Trigger != TriggerIngest {
		// Someone waits for a resync: report its failure rather than retry behind their back.
		attempts = 1
	}
	return &river.InsertOpts{
		Queue:       a.Target,
		MaxAttempts: attempts,
		UniqueOpts:  river.UniqueOpts{ByArgs: true, ByState: uniqueStates()},
	}
}

type cycleWorker struct {
	river.WorkerDefaults[CycleArgs]
	s *Scheduler
}

// Timeout bounds one cycle; a stuck target cannot hold its (project, kind) forever.
func (w *cycleWorker) Timeout(*river.Job[CycleArgs]) time.Duration { return w.s.opts.CycleTimeout }

func (w *cycleWorker) Work(ctx context.Context, job *river.Job[CycleArgs]) error {
	// Unique keys differ between slots, so two jobs of one (project, kind) may both be fetched; the later one
	// waits. Both may see each other and both wait: neither ever runs beside the other.
	busy, err := w.s.otherRunning(ctx, job.ID, job.Args)
	if err != nil {
		return fmt.Errorf("cycle %s/%s: %w", job.Args.Project, job.Args.Target, err)
	}
	if busy {
		return river.JobSnooze(w.s.opts.BusySnooze + time.Duration(rand.Int64N(int64(w.s.opts.BusySnooze))))
	}
	c := Cycle{
		Project: job.Args.Project, Kind: job.Args.Target, Trigger: job.Args.Trigger, Force: job.Args.Force,
		Reconcile: job.Args.Reconcile, JobID: job.ID, Attempt: job.Attempt,
	}
	out, err := w.s.runner().RunCycle(ctx, c)
	if out != nil {
		if rerr := river.RecordOutput(ctx, out); rerr != nil {
			return errors.Join(err, fmt.Errorf("cycle %s/%s: record output: %w", c.Project, c.Kind, rerr))
		}
	}
	if err != nil {
		err = fmt.Errorf("cycle %s/%s: %w", c.Project, c.Kind, err)
		var pe *permanentError
		if errors.As(err, &pe) {
			return river.JobCancel(err)
		}
		return err
	}
	return nil
}

// retryPolicy backs off base, 4×base, 16×base … capped at max, with ±20% jitter so replicas that failed
// together (a target outage) do not retry together. River's default (attempt^4 seconds, 25 attempts) is
// meant for jobs that must eventually run; a sync cycle is re-run by the next tick anyway.
type retryPolicy struct {
	base, max time.Duration
	jitter    func() float64 // [0,1)
}

func (p retryPolicy) NextRetry(job *rivertype.JobRow) time.Time {
	d := p.base
	for i := 1; i < job.Attempt && d < p.max; i++ {
		d *= 4
	}
	d = min(d, p.max)
	d = time.Duration(float64(d) * (0.8 + 0.4*p.jitter()))
	return time.Now().Add(d)
}
