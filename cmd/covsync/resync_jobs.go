package main

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/covsync/covsync/config"
	"github.com/covsync/covsync/sync/engine"
	"github.com/covsync/covsync/sync/schedule"
)

// resyncJobs runs a resync's cycles as the daemon's unique River jobs, one per (project, target kind), and
// waits for them: a (project, kind) that a running daemon is syncing right now is waited for, then synced
// again, so a resync and the daemon never push the same item at once (DESIGN.md §3). This process works the
// jobs itself when no daemon takes them first, and stays out of River's leader election so the daemons keep
// their periodic schedule meanwhile. The exit code is resyncAll's: the worst of 3 (a cycle failed), 2 (a
// project's targets could not be built), 1 (items failed), 0.
func resyncJobs(ctx context.Context, pool *pgxpool.Pool, r *cycleRunner, cfg *config.Config, projects, kinds []string, opts engine.Options) (resyncResult, int) {
	res := resyncResult{Targets: []engine.Summary{}}
	code := exitOK
	worse := func(c int) {
		if c > code {
			code = c
		}
	}
	reqs, err := schedule.Requests(cfg, projects, kinds, opts.Force, schedule.TriggerResync)
	if err != nil {
		res.Errors = append(res.Errors, err.Error())
		return res, exitUsage
	}
	// The config's cycle_timeout, as the daemons use: the leader rescues (and lets the next tick re-run) a
	// job still running cycle_timeout + 5 min after it started, so a resync cycle allowed River's default
	// 30 min could be pushing while the daemon pushed the same items.
	sched, err := schedule.New(pool, jobRunner(r, opts.Observer), schedule.Options{
		Work: true, LeaderElectionDisabled: true, FetchPollInterval: 250 * time.Millisecond,
		CycleTimeout: cfg.Workers.CycleTimeout, StopTimeout: cfg.Workers.ShutdownTimeout,
		// A cycle of the same (project, target) in the way is named, with who runs it and until when this
		// resync waits (cycle_timeout + shutdown_timeout: longer than a live cycle may run); one whose process
		// is gone is reclaimed at once, and a wait past the deadline exits 3.
		OnWait: func(w schedule.Waiting) {
			f := r.d.log.WithFields(map[string]any{"project": w.Project, "target": w.Kind, "job": w.JobID, "state": w.State,
				"gives_up_at": w.Deadline.Format(time.RFC3339)})
			if w.Client != "" {
				f = f.WithFields(map[string]any{"client": w.Client, "running_since": w.Since.Format(time.RFC3339)})
			}
			f.Warn("waiting for another cycle of this project and target to end")
		},
		OnReclaim: func(rc schedule.Reclaimed) {
			r.d.log.WithFields(map[string]any{"project": rc.Project, "target": rc.Kind, "job": rc.JobID, "client": rc.Client,
				"running_since": rc.Since.Format(time.RFC3339)}).Warn("reclaimed a cycle left running by a covsync process that is gone")
		},
	})
	if err == nil {
		err = sched.Start(ctx)
	}
	if err != nil {
		res.Errors = append(res.Errors, err.Error()+" (has covsync migrate run?)")
		return res, exitDependency
	}
	defer func() { _ = sched.Shutdown(ctx) }()

	outs, err := sched.Resync(ctx, reqs)
	if err != nil {
		res.Errors = append(res.Errors, err.Error())
		worse(exitDependency)
	}
	for _, o := range outs {
		if o.JobID == 0 {
			continue // never enqueued: the error above says why
		}
		var sums []engine.Summary
		if len(o.Output) > 0 {
			if err := json.Unmarshal(o.Output, &sums); err != nil {
				res.Errors = append(res.Errors, errors.New("job output: "+err.Error()).Error())
			}
		}
		res.Targets = append(res.Targets, sums...)
		for _, s := range sums {
			if s.Failed > 0 {
				worse(exitItemFailed)
			}
		}
		switch {
		case o.OK():
		case o.State == "cancelled": // schedule.Permanent: the project's targets cannot be built
			worse(exitUsage)
			res.Errors = append(res.Errors, o.Error)
		default:
			worse(exitDependency)
			if len(sums) == 0 { // a failure before any cycle: not in any summary's CycleError
				res.Errors = append(res.Errors, o.Error)
			}
		}
	}
	return res, code
}
