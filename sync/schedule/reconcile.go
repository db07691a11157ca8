package schedule

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/riverqueue/river"
)

// ReconcileTickKind is the River job kind of a reconcile tick: the periodic job of schedules.reconcile.
const ReconcileTickKind = "covsync_reconcile_tick"

// reconcileQueue works the ticks, apart from the cycles' queues: a tick may wait for a cycle of its
// (project, kind), which must not wait for a worker the tick holds.
const reconcileQueue = "reconcile"

// reconcileTickArgs ask for one reconcile cycle of (project, kind).
type reconcileTickArgs struct {
	Project string `json:"project" river:"unique"`
	Target  string `json:"target" river:"unique"`
}

// Kind is River's job kind.
func (reconcileTickArgs) Kind() string { return ReconcileTickKind }

func (s *Scheduler) tickOpts() *river.InsertOpts {
	return &river.InsertOpts{Queue: reconcileQueue, MaxAttempts: s.opts.MaxAttempts,
		UniqueOpts: river.UniqueOpts{ByArgs: true, ByState: uniqueStates()}}
}

// reconcileTickWorker turns a tick into a reconcile cycle job of (project, kind), through the cycles' own
// uniqueness, so a reconcile never runs beside another cycle of the same (project, kind). A reconcile tick
// that falls on an ordinary cycle (a daily @midnight and a */15 tick do, every day) would be refused as its
// duplicate and the day's reconcile lost: the tick waits for that cycle to end and inserts the reconcile
// after it. A pending or running reconcile is the one asked for.
type reconcileTickWorker struct {
	river.WorkerDefaults[reconcileTickArgs]
	s *Scheduler
}

// Timeout bounds the wait for the cycle in the way: one cycle's time.
func (w *reconcileTickWorker) Timeout(*river.Job[reconcileTickArgs]) time.Duration {
	return w.s.opts.CycleTimeout
}

func (w *reconcileTickWorker) Work(ctx context.Context, job *river.Job[reconcileTickArgs]) error {
	args := CycleArgs{Project: job.Args.Project, Target: job.Args.Target, Trigger: TriggerSchedule, Reconcile: true}
	for {
		res, err := w.s.client.Insert(ctx, args, w.s.insertOpts(args))
		if err != nil {
			return fmt.Errorf("reconcile %s/%s: enqueue: %w", args.Project, args.Target, err)
		}
		if !res.UniqueSkippedAsDuplicate {
			return nil
		}
		var other CycleArgs
		if err := json.Unmarshal(res.Job.EncodedArgs, &other); err == nil && other.Reconcile {
			return nil
		}
		if _, err := w.s.Wait(ctx, []int64{res.Job.ID}); err != nil {
			return fmt.Errorf("reconcile %s/%s: waiting for cycle %d: %w", args.Project, args.Target, res.Job.ID, err)
		}
	}
}
