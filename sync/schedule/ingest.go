package schedule

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/riverqueue/river/rivertype"

	"github.com/covsync/covsync/config"
)

// ingestSlots are the unique-key slots of cycles after an ingest. Only one cycle of a (project, kind) runs at
// a time, so at most one slot is running and the other is free for the cycle after it.
var ingestSlots = []string{"ingest", "ingest-next"}

// EnqueueAfterIngestTx enqueues, within tx, a cycle of each kind for project to run delay from now: the
// report that tx stores is synced when tx commits, and a rolled-back tx enqueues nothing. A cycle of that
// (project, kind) already waiting to run takes the report along (a burst of reports costs one cycle); one
// already running does not, as it may have read the project before tx commits, so a cycle after it is
// enqueued.
func (s *Scheduler) EnqueueAfterIngestTx(ctx context.Context, tx pgx.Tx, project string, kinds []string, delay time.Duration) ([]Enqueued, error) {
	out := make([]Enqueued, 0, len(kinds))
	for _, kind := range kinds {
		e, err := s.enqueueAfterIngest(ctx, tx, project, kind, delay)
		if err != nil {
			return out, err
		}
		out = append(out, e)
	}
	return out, nil
}

func (s *Scheduler) enqueueAfterIngest(ctx context.Context, tx pgx.Tx, project, kind string, delay time.Duration) (Enqueued, error) {
	// A cycle that has not started yet will do, provided it cannot start before tx commits: FOR UPDATE holds
	// its row, and River's fetch (SKIP LOCKED) passes it over until then.
	var waiting int64
	err := tx.QueryRow(ctx, `SELECT id FROM `+pgx.Identifier{config.OwnSchema, "river_job"}.Sanitize()+`
		WHERE kind = $1 AND state IN ('available', 'scheduled', 'pending')
		  AND args->>'project' = $2 AND args->>'target' = $3
		ORDER BY id LIMIT 1 FOR UPDATE`, JobKind, project, kind).Scan(&waiting)
	switch {
	case err == nil:
		// It may be waiting out a retry's backoff (minutes): the report must not wait with it. Run it when a
		// fresh cycle would have run, or sooner.
		if _, err := tx.Exec(ctx, `UPDATE `+pgx.Identifier{config.OwnSchema, "river_job"}.Sanitize()+`
			SET scheduled_at = now() + $2::interval WHERE id = $1 AND scheduled_at > now() + $2::interval`, waiting, delay); err != nil {
			return Enqueued{}, fmt.Errorf("schedule: bring the waiting cycle %s/%s forward: %w", project, kind, err)
		}
		return Enqueued{JobID: waiting, Project: project, Kind: kind, Duplicate: true}, nil
	case err != pgx.ErrNoRows:
		return Enqueued{}, fmt.Errorf("schedule: find a waiting cycle %s/%s: %w", project, kind, err)
	}
	var last Enqueued
	for _, slot := range ingestSlots {
		args := CycleArgs{Project: project, Target: kind, Trigger: TriggerIngest, Slot: slot}
		opts := s.insertOpts(args)
		opts.ScheduledAt = time.Now().Add(delay)
		res, err := s.client.InsertTx(ctx, tx, args, opts)
		if err != nil {
			return Enqueued{}, fmt.Errorf("schedule: enqueue cycle %s/%s: %w", project, kind, err)
		}
		last = Enqueued{JobID: res.Job.ID, Project: project, Kind: kind, Duplicate: res.UniqueSkippedAsDuplicate}
		if !res.UniqueSkippedAsDuplicate || res.Job.State != rivertype.JobStateRunning {
			return last, nil
		}
	}
	// Both slots "running": one of them was fetched beside the other and is about to wait (Work's check), so
	// it runs after tx commits.
	return last, nil
}

// otherRunning reports whether a cycle of the same (project, kind) other than job id is running.
func (s *Scheduler) otherRunning(ctx context.Context, id int64, a CycleArgs) (bool, error) {
	var busy bool
	err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM `+pgx.Identifier{config.OwnSchema, "river_job"}.Sanitize()+`
		WHERE kind = $1 AND state = 'running' AND id <> $2 AND args->>'project' = $3 AND args->>'target' = $4)`,
		JobKind, id, a.Project, a.Target).Scan(&busy)
	if err != nil {
		return false, fmt.Errorf("look for a running cycle: %w", err)
	}
	return busy, nil
}

// Promote makes the given jobs available now if they are scheduled and due. River's own scheduler promotes
// due jobs only every 5 seconds (maintenance.JobSchedulerIntervalDefault, not configurable), which would add
// up to 5 s to a sync_delay; the replica that enqueued a cycle after an ingest promotes it on time, and
// River's scheduler remains the fallback if that replica stops first.
func (s *Scheduler) Promote(ctx context.Context, ids []int64) error {
	_, err := s.pool.Exec(ctx, `UPDATE `+pgx.Identifier{config.OwnSchema, "river_job"}.Sanitize()+`
		SET state = 'available' WHERE id = ANY($1) AND state = 'scheduled' AND scheduled_at <= now()`, ids)
	if err != nil {
		return fmt.Errorf("schedule: make cycles %v available: %w", ids, err)
	}
	return nil
}
