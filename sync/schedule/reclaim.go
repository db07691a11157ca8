package schedule

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/covsync/covsync/config"
)

// A cycle job left "running" by a process that died (kill -9, OOM, a lost node) would hold its (project,
// kind) until River's rescuer, CycleTimeout + 5 minutes later, and only on a replica that is the leader: a
// `covsync resync` with no daemon waited for ever. covsync therefore knows whether the process that runs a
// job is alive: every client that works jobs holds a PostgreSQL session-level advisory lock named after its
// River client id on a connection of its own for its whole life. PostgreSQL releases it the moment that
// session ends, which a dead process's does (its socket closes). A running job whose last client's lock can
// be taken is a dead process's job, and is reclaimed at once, as River's rescuer would reclaim it (retryable
// when attempts remain, discarded otherwise), with an error saying so.

// ReclaimGrace is how long a job must have been running before its client is checked: a client that has just
// fetched a job has held its lock since it started, so this only spares the check on jobs that started a
// moment ago.
const ReclaimGrace = 2 * time.Second

// ReclaimEvery is how often a working client looks for jobs of dead clients.
const ReclaimEvery = 15 * time.Second

// clientLockKey is the advisory lock a client holds while alive.
const clientLockKey = "SELECT hashtextextended('covsync river client ' || $1::text, 0)"

// riverDefaultID is the form of the id River gives a client it is not given one for: the host name (dots
// made underscores, hyphens kept) and the start time, "covsync-5d8f7-x2x7k_2026_12_01T09_00_00_000000". covsync
// from before the liveness lock ran under such ids and held no lock, alive or not: nothing tells a live one
// from a dead one, so their running jobs are left to River's rescuer (cycle_timeout + 5 minutes), and a
// rolling upgrade never reclaims a live old replica's cycle. A covsync client now always has its own id
// (defaultClientID), which never ends in a timestamp.
var riverDefaultID = regexp.MustCompile(`_[0-9]{4}_[0-9]{2}_[0-9]{2}T[0-9]{2}_[0-9]{2}_[0-9]{2}_[0-9]{6}$`)

// defaultClientID names a client uniquely and readably: host, process id, and a random suffix.
func defaultClientID() string {
	host, _ := os.Hostname()
	if host == "" {
		host = "host"
	}
	return "covsync-" + host + "-" + strconv.Itoa(os.Getpid()) + "-" + uuid.NewString()[:8]
}

// liveness is the connection holding a client's lock.
type liveness struct {
	mu   sync.Mutex
	conn *pgx.Conn
}

// hold takes the client's lock on a connection taken out of the pool for good (Hijack), so the lock lives
// exactly as long as this process's session.
func (l *liveness) hold(ctx context.Context, pool *pgxpool.Pool, id string) error {
	c, err := pool.Acquire(ctx)
	if err != nil {
		return err
	}
	conn := c.Hijack()
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock(("+clientLockKey+"))", id); err != nil {
		_ = conn.Close(ctx)
		return err
	}
	l.mu.Lock()
	l.conn = conn
	l.mu.Unlock()
	return nil
}

func (l *liveness) release(ctx context.Context) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.conn != nil {
		_ = l.conn.Close(ctx)
		l.conn = nil
	}
}

// Reclaimed is a job taken back from a dead client.
type Reclaimed struct {
	JobID   int64     `json:"id"`
	Project string    `json:"project"`
	Kind    string    `json:"target"`
	Client  string    `json:"client"`
	Since   time.Time `json:"since"`
	State   string    `json:"state"` // retryable or discarded
}

// Reclaim takes back every running cycle job and reconcile tick whose client is gone (its lock is free), and
// returns them. Jobs of clients that never held a lock (riverDefaultID) are not looked at. A tick counts as well: left running, it holds back the reconcile of its (project, kind), by
// its uniqueness, as long as a cycle would hold the cycle.
func (s *Scheduler) Reclaim(ctx context.Context) ([]Reclaimed, error) {
	c, err := s.pool.Acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("schedule: reclaim: %w", err)
	}
	defer c.Release()
	job := pgx.Identifier{config.OwnSchema, "river_job"}.Sanitize()
	rows, err := c.Query(ctx, `SELECT id, args, attempted_by[array_length(attempted_by, 1)], attempted_at, attempt, max_attempts
		FROM `+job+` WHERE state = 'running' AND kind = ANY($1) AND attempted_at < now() - make_interval(secs => $2)`,
		[]string{JobKind, ReconcileTickKind}, ReclaimGrace.Seconds())
	if err != nil {
		return nil, fmt.Errorf("schedule: reclaim: %w", err)
	}
	type running struct {
		Reclaimed
		attempt, max int
	}
	var jobs []running
	for rows.Next() {
		var (
			r      running
			args   []byte
			client *string
		)
		if err := rows.Scan(&r.JobID, &args, &client, &r.Since, &r.attempt, &r.max); err != nil {
			rows.Close()
			return nil, fmt.Errorf("schedule: reclaim: %w", err)
		}
		var a CycleArgs // a tick's args (reconcileTickArgs) share its project and target
		_ = json.Unmarshal(args, &a)
		r.Project, r.Kind = a.Project, a.Target
		if client != nil {
			r.Client = *client
		}
		jobs = append(jobs, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("schedule: reclaim: %w", err)
	}
	dead := map[string]bool{}
	var out []Reclaimed
	for _, r := range jobs {
		if riverDefaultID.MatchString(r.Client) {
			continue
		}
		gone, known := dead[r.Client]
		if !known {
			if gone, err = clientGone(ctx, c.Conn(), r.Client); err != nil {
				return out, fmt.Errorf("schedule: reclaim: client %s: %w", r.Client, err)
			}
			dead[r.Client] = gone
		}
		if !gone {
			continue
		}
		r.State = "discarded"
		if r.attempt < r.max {
			r.State = "retryable"
		}
		msg, _ := json.Marshal(map[string]any{
			"at": time.Now().UTC(), "attempt": r.attempt,
			"error": fmt.Sprintf("reclaimed: the covsync process that ran this job (River client %s, running since %s) is gone", r.Client, r.Since.UTC().Format(time.RFC3339)),
		})
		// As River's rescuer does (JobRescueMany): append the error, retry or discard, and only if the job is
		// still running under that client (it may have finished meanwhile).
		tag, err := c.Exec(ctx, `UPDATE `+job+` SET errors = array_append(errors, $2::jsonb), state = $3::`+pgx.Identifier{config.OwnSchema, "river_job_state"}.Sanitize()+`,
			finalized_at = CASE WHEN $3 = 'discarded' THEN now() END, scheduled_at = now()
			WHERE id = $1 AND state = 'running' AND attempted_by[array_length(attempted_by, 1)] IS NOT DISTINCT FROM $4`,
			r.JobID, msg, r.State, nullable(r.Client))
		if err != nil {
			return out, fmt.Errorf("schedule: reclaim job %d: %w", r.JobID, err)
		}
		if tag.RowsAffected() == 1 {
			out = append(out, r.Reclaimed)
		}
	}
	return out, nil
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// clientGone reports whether no session holds client's lock (an empty client id, which River never leaves on
// a running job, counts as gone).
func clientGone(ctx context.Context, conn *pgx.Conn, client string) (bool, error) {
	if client == "" {
		return true, nil
	}
	var got bool
	if err := conn.QueryRow(ctx, "SELECT pg_try_advisory_lock(("+clientLockKey+"))", client).Scan(&got); err != nil {
		return false, err
	}
	if got {
		if _, err := conn.Exec(ctx, "SELECT pg_advisory_unlock(("+clientLockKey+"))", client); err != nil {
			return true, err
		}
	}
	return got, nil
}

// reclaimLoop reclaims dead clients' jobs every ReclaimEvery until ctx ends (Start has swept once already).
func (s *Scheduler) reclaimLoop(ctx context.Context) {
	t := time.NewTicker(ReclaimEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		s.reclaimAndReport(ctx)
	}
}

func (s *Scheduler) reclaimAndReport(ctx context.Context) {
	got, err := s.Reclaim(ctx)
	if err != nil && !errors.Is(err, context.Canceled) {
		s.opts.Logger.Warn("looking for cycles of dead processes failed", "error", err)
	}
	for _, r := range got {
		s.opts.Logger.Warn("reclaimed a cycle left running by a process that is gone", "job", r.JobID,
			"project", r.Project, "target", r.Kind, "client", r.Client, "since", r.Since, "state", r.State)
		if s.opts.OnReclaim != nil {
			s.opts.OnReclaim(r)
		}
	}
}

// ErrWaitTimeout is returned (wrapped) by Resync when another client's cycle of the same (project, kind)
// outlasted Options.WaitTimeout.
var ErrWaitTimeout = errors.New("gave up waiting for another cycle of the same project and target")

// Waiting is what a resync waits for: another client's cycle job of its (project, kind).
type Waiting struct {
	JobID    int64
	Project  string
	Kind     string
	State    string    // River's: running, available, scheduled, pending
	Client   string    // the client running it ("" when not running)
	Since    time.Time // when it started running (zero when not running)
	Deadline time.Time // when the resync gives up
}

// waitPollReclaim is how often a waiting resync checks that the cycle it waits for still has a live client.
const waitPollReclaim = 2 * time.Second

// waitForOther waits for another client's job e to end, says what it waits for (OnWait), reclaims it at once
// if its process is gone (and again every waitPollReclaim while waiting), and gives up at deadline.
func (s *Scheduler) waitForOther(ctx context.Context, e Enqueued, deadline time.Time) error {
	if s.opts.OnWait != nil {
		w := Waiting{JobID: e.JobID, Project: e.Project, Kind: e.Kind, Deadline: deadline}
		if j, err := s.client.JobGet(ctx, e.JobID); err == nil {
			w.State = string(j.State)
			if j.State == "running" && len(j.AttemptedBy) > 0 {
				w.Client = j.AttemptedBy[len(j.AttemptedBy)-1]
			}
			if j.AttemptedAt != nil && j.State == "running" {
				w.Since = *j.AttemptedAt
			}
		}
		s.opts.OnWait(w)
	}
	wctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	done := make(chan struct{})
	defer close(done)
	go func() {
		t := time.NewTicker(waitPollReclaim)
		defer t.Stop()
		for {
			s.reclaimAndReport(wctx)
			select {
			case <-done:
				return
			case <-wctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	_, err := s.Wait(wctx, []int64{e.JobID})
	if err != nil && ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("schedule: cycle %s/%s: %w: job %d did not end by %s (WaitTimeout %s)",
			e.Project, e.Kind, ErrWaitTimeout, e.JobID, deadline.UTC().Format(time.RFC3339), s.opts.WaitTimeout)
	}
	return err
}
