package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/covsync/covsync/sync/engine"
	"github.com/covsync/covsync/sync/push"
	"github.com/covsync/covsync/sync/schedule"
)

// ResyncResult is `resync --output json` (docs/architecture.md, Contracts): one entry per target cycle.
type ResyncResult struct {
	Targets []engine.Summary `json:"targets"`
	// Errors are failures outside any one target's cycle (a project whose report could not be read).
	Errors []string `json:"errors,omitempty"`
}

// ErrItemsFailed is the error (push.KindPermanent) of a resync in which some items failed and the rest
// were pushed.
var ErrItemsFailed = push.Permanent(errors.New("some items failed"))

// Resync runs a cycle of every selected project and target kind (every kind when kinds is empty) and
// returns what they did, with the most serious failure: an outage (push.KindUnreachable) outranks a
// configuration error (push.KindConfig: a project's targets could not be built), which outranks failed
// items (ErrItemsFailed). A dry run runs the cycles in this process and writes nothing anywhere, not even a
// job row; any other resync runs them as the daemon's River jobs (resyncJobs).
func (a *App) Resync(ctx context.Context, projects, kinds []string, opts engine.Options) (ResyncResult, error) {
	if opts.DryRun {
		return a.resyncHere(ctx, projects, kinds, opts)
	}
	return a.resyncJobs(ctx, projects, kinds, opts)
}

// resyncHere runs every selected project's cycles in this process.
func (a *App) resyncHere(ctx context.Context, projects, kinds []string, opts engine.Options) (ResyncResult, error) {
	res := ResyncResult{Targets: []engine.Summary{}}
	var worst error
	for _, id := range projects {
		if ctx.Err() != nil {
			res.Errors = append(res.Errors, fmt.Sprintf("project %s: not started: %v", id, ctx.Err()))
			keepWorse(&worst, push.Unreachable(ctx.Err()))
			continue
		}
		sums, err := a.RunProject(ctx, id, kinds, opts)
		res.Targets = append(res.Targets, sums...)
		for _, s := range sums {
			if s.Failed > 0 {
				keepWorse(&worst, ErrItemsFailed)
			}
		}
		if err == nil {
			continue
		}
		if !classified(err) {
			err = push.Unreachable(err)
		}
		keepWorse(&worst, err)
		if len(sums) == 0 { // a failure before any cycle: not in any summary's CycleError
			res.Errors = append(res.Errors, err.Error())
		}
	}
	return res, worst
}

// resyncJobs runs a resync's cycles as the daemon's unique River jobs, one per (project, target kind), and
// waits for them: a (project, kind) that a running daemon is syncing right now is waited for, then synced
// again, so a resync and the daemon never push the same item at once. This process works the jobs itself
// when no daemon takes them first, and stays out of River's leader election so the daemons keep their
// periodic schedule meanwhile.
func (a *App) resyncJobs(ctx context.Context, projects, kinds []string, opts engine.Options) (ResyncResult, error) {
	res := ResyncResult{Targets: []engine.Summary{}}
	cfg := a.d.cfg
	reqs, err := schedule.RequestsOf(cfg, projects, kinds, schedule.Request{Force: opts.Force, Reconcile: opts.Reconcile, Trigger: schedule.TriggerResync})
	if err != nil {
		res.Errors = append(res.Errors, err.Error())
		return res, push.Config(err)
	}
	// The config's cycle_timeout, as the daemons use: the leader rescues (and lets the next tick re-run) a
	// job still running cycle_timeout + 5 min after it started, so a resync cycle allowed River's default
	// 30 min could be pushing while the daemon pushed the same items.
	sched, err := schedule.New(a.pool, a.JobRunner(opts.Observer), schedule.Options{
		Work: true, LeaderElectionDisabled: true, FetchPollInterval: 250 * time.Millisecond,
		CycleTimeout: cfg.Workers.CycleTimeout, StopTimeout: cfg.Workers.ShutdownTimeout,
		// A cycle of the same (project, target) in the way is named, with who runs it and until when this
		// resync waits (cycle_timeout + shutdown_timeout + the stop margin: longer than a live cycle may run);
		// one whose process is gone is reclaimed at once, and a wait past the deadline exits 3.
		OnWait: func(w schedule.Waiting) {
			f := a.d.log.WithFields(map[string]any{"project": w.Project, "target": w.Kind, "job": w.JobID, "state": w.State,
				"gives_up_at": w.Deadline.Format(time.RFC3339)})
			if w.Client != "" {
				f = f.WithFields(map[string]any{"client": w.Client, "running_since": w.Since.Format(time.RFC3339)})
			}
			f.Warn("waiting for another cycle of this project and target to end")
		},
		OnReclaim: func(rc schedule.Reclaimed) {
			a.d.log.WithFields(map[string]any{"project": rc.Project, "target": rc.Kind, "job": rc.JobID, "client": rc.Client,
				"running_since": rc.Since.Format(time.RFC3339)}).Warn("reclaimed a cycle left running by a covsync process that is gone")
		},
	})
	if err == nil {
		err = sched.Start(ctx)
	}
	if err != nil {
		res.Errors = append(res.Errors, err.Error()+" (has covsync migrate run?)")
		return res, push.Unreachable(err)
	}
	defer func() { _ = sched.Shutdown(ctx) }()

	var worst error
	outs, err := sched.Resync(ctx, reqs)
	if err != nil {
		res.Errors = append(res.Errors, err.Error())
		keepWorse(&worst, push.Unreachable(err))
	}
	for _, o := range outs {
		if o.JobID == 0 {
			continue // never enqueued: the error above says why
		}
		var sums []engine.Summary
		if len(o.Output) > 0 {
			if err := json.Unmarshal(o.Output, &sums); err != nil {
				res.Errors = append(res.Errors, "job output: "+err.Error())
			}
		}
		res.Targets = append(res.Targets, sums...)
		for _, s := range sums {
			if s.Failed > 0 {
				keepWorse(&worst, ErrItemsFailed)
			}
		}
		switch {
		case o.OK():
		case o.Cancelled(): // JobRunner: a configuration error, which no retry mends
			keepWorse(&worst, push.Config(errors.New(o.Error)))
			res.Errors = append(res.Errors, o.Error)
		default:
			keepWorse(&worst, push.Unreachable(errors.New(o.Error)))
			if len(sums) == 0 { // a failure before any cycle: not in any summary's CycleError
				res.Errors = append(res.Errors, o.Error)
			}
		}
	}
	return res, worst
}

// JobRunner runs one River cycle job, one (project, target kind), reporting to obs. The job's output is
// the cycle's summaries. The job's outcome follows the error's kind: a configuration error (a project the
// config does not map, a target that does not fit it) cannot succeed on a retry, so its job is cancelled;
// any other failure is retried.
func (a *App) JobRunner(obs engine.Observer) schedule.Runner {
	return schedule.RunnerFunc(func(ctx context.Context, c schedule.Cycle) (any, error) {
		sums, err := a.Run(ctx, c.Project, c.Kind, engine.Options{Force: c.Force, Reconcile: c.Reconcile, Trigger: c.Trigger, Observer: obs})
		if err != nil && push.KindOf(err) == push.KindConfig {
			return sums, schedule.Permanent(err)
		}
		return sums, err
	})
}
