package ledger

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Counts are a cycle's item counts.
type Counts struct {
	Planned   int `json:"planned"`
	Pushed    int `json:"pushed"`
	Unchanged int `json:"unchanged"`
	Failed    int `json:"failed"`
	Skipped   int `json:"skipped"`
	Pruned    int `json:"pruned"`
	// Drifted counts the items a reconcile cycle found differing at the target (0 in other cycles).
	Drifted int `json:"drifted"`
}

// Cycle is one row of cycle history.
type Cycle struct {
	ID         int64      `json:"id"`
	Target     string     `json:"target"`
	Kind       string     `json:"kind"`
	Project    string     `json:"project"`
	Trigger    string     `json:"trigger"`
	Reconcile  bool       `json:"reconcile,omitempty"` // a reconcile cycle: read the target back, pushed what drifted
	StartedAt  time.Time  `json:"startedAt"`
	FinishedAt *time.Time `json:"finishedAt"` // nil: running, or the process died mid-cycle
	Counts
	Error string `json:"error,omitempty"` // a cycle-level failure (plan failed, target unusable)
}

// Cycle triggers, as the cycles table records them.
const (
	TriggerSchedule = "schedule"
	TriggerResync   = "resync"
	TriggerAPI      = "api"
)

// StartCycle opens a cycle row and returns its id; reconcile marks a reconcile cycle.
func (l *Ledger) StartCycle(ctx context.Context, target, kind, project, trigger string, reconcile bool) (int64, error) {
	if trigger == "" {
		trigger = TriggerSchedule
	}
	var id int64
	err := l.db.QueryRow(ctx, `INSERT INTO `+l.cycles+` (target, kind, project, trigger, reconcile, started_at)
		VALUES ($1, $2, $3, $4, $5, now()) RETURNING id`, target, kind, project, trigger, reconcile).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("ledger: start cycle of %s: %w", target, notMigrated(err))
	}
	return id, nil
}

// FinishCycle closes cycle id with its counts and, when the cycle as a whole failed, its error.
func (l *Ledger) FinishCycle(ctx context.Context, id int64, c Counts, cycleErr string) error {
	_, err := l.db.Exec(ctx, `UPDATE `+l.cycles+` SET finished_at = now(), planned = $2, pushed = $3,
		unchanged = $4, failed = $5, skipped = $6, pruned = $7, error = $8, drifted = $9 WHERE id = $1`,
		id, c.Planned, c.Pushed, c.Unchanged, c.Failed, c.Skipped, c.Pruned, nullIfEmpty(clean(cycleErr)), c.Drifted)
	if err != nil {
		return fmt.Errorf("ledger: finish cycle %d: %w", id, err)
	}
	return nil
}

const cycleCols = `id, target, kind, project, trigger, reconcile, started_at, finished_at, planned, pushed, unchanged,
	failed, skipped, pruned, drifted, coalesce(error, '')`

// statusCols are cycleCols of the Status query's newest cycle, c.
const statusCols = `c.id, c.target, c.kind, c.project, c.trigger, c.reconcile, c.started_at, c.finished_at, c.planned,
	c.pushed, c.unchanged, c.failed, c.skipped, c.pruned, c.drifted, coalesce(c.error, '')`

// cycleDest are the scan destinations of cycleCols.
func cycleDest(c *Cycle) []any {
	return []any{&c.ID, &c.Target, &c.Kind, &c.Project, &c.Trigger, &c.Reconcile, &c.StartedAt, &c.FinishedAt,
		&c.Planned, &c.Pushed, &c.Unchanged, &c.Failed, &c.Skipped, &c.Pruned, &c.Drifted, &c.Error}
}

func scanCycle(row pgx.Row, c *Cycle) error { return row.Scan(cycleDest(c)...) }

// Cycles returns the newest cycles of target, newest first, at most limit (all when limit <= 0).
func (l *Ledger) Cycles(ctx context.Context, target string, limit int) ([]Cycle, error) {
	q := `SELECT ` + cycleCols + ` FROM ` + l.cycles + ` WHERE target = $1 ORDER BY started_at DESC, id DESC`
	args := []any{target}
	if limit > 0 {
		q += ` LIMIT $2`
		args = append(args, limit)
	}
	rows, err := l.db.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("ledger: cycles of %s: %w", target, notMigrated(err))
	}
	defer rows.Close()
	var out []Cycle
	for rows.Next() {
		var c Cycle
		if err := scanCycle(rows, &c); err != nil {
			return nil, fmt.Errorf("ledger: cycles of %s: %w", target, err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("ledger: cycles of %s: %w", target, err)
	}
	return out, nil
}

// TargetStatus is where one target stands: its newest cycle and when a cycle last completed without a
// cycle-level error. This is covsync's "last sync time" (docs/architecture.md, Contracts).
type TargetStatus struct {
	Last Cycle `json:"lastCycle"`
	// LastOK is when the newest cycle without a cycle-level error finished; nil when none has.
	LastOK *time.Time `json:"lastSuccessAt"`
	// FailingItems counts the target's items whose last attempt failed.
	FailingItems int `json:"failingItems"`
	// LastReconcile is the target's newest finished reconcile cycle (its Drifted is the drift it found and
	// healed); nil when none has run.
	LastReconcile *Cycle `json:"lastReconcile"`
}

// Status returns every target's newest cycle, ordered by target name.
func (l *Ledger) Status(ctx context.Context) ([]TargetStatus, error) {
	rows, err := l.db.Query(ctx, `SELECT `+statusCols+`,
			(SELECT max(ok.finished_at) FROM `+l.cycles+` ok
				WHERE ok.target = c.target AND ok.error IS NULL AND ok.finished_at IS NOT NULL),
			(SELECT count(*) FROM `+l.ledger+` f WHERE f.target = c.target AND f.last_error IS NOT NULL),
			r.id, r.started_at, r.finished_at, r.trigger, coalesce(r.planned, 0), coalesce(r.pushed, 0),
			coalesce(r.failed, 0), coalesce(r.drifted, 0), coalesce(r.error, '')
		FROM (SELECT DISTINCT ON (target) * FROM `+l.cycles+` ORDER BY target, started_at DESC, id DESC) c
		LEFT JOIN LATERAL (SELECT * FROM `+l.cycles+` rc WHERE rc.target = c.target AND rc.reconcile
			AND rc.finished_at IS NOT NULL ORDER BY rc.started_at DESC, rc.id DESC LIMIT 1) r ON true
		ORDER BY target`)
	if err != nil {
		return nil, fmt.Errorf("ledger: status: %w", notMigrated(err))
	}
	defer rows.Close()
	var out []TargetStatus
	for rows.Next() {
		var s TargetStatus
		c := &s.Last
		var r Cycle
		var rID *int64
		var rStarted *time.Time
		var rTrigger *string
		dest := append(cycleDest(c), &s.LastOK, &s.FailingItems,
			&rID, &rStarted, &r.FinishedAt, &rTrigger, &r.Planned, &r.Pushed, &r.Failed, &r.Drifted, &r.Error)
		if err := rows.Scan(dest...); err != nil {
			return nil, fmt.Errorf("ledger: status: %w", err)
		}
		if rID != nil {
			r.ID, r.StartedAt, r.Trigger, r.Reconcile = *rID, *rStarted, *rTrigger, true
			r.Target, r.Kind, r.Project = c.Target, c.Kind, c.Project
			s.LastReconcile = &r
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("ledger: status: %w", err)
	}
	return out, nil
}

// Failure is an item whose last attempt failed.
type Failure struct {
	Target        string     `json:"target"`
	Item          string     `json:"item"`
	Attempts      int        `json:"attempts"`
	LastAttemptAt time.Time  `json:"lastAttemptAt"`
	Error         string     `json:"error"`
	PushedAt      *time.Time `json:"lastPushedAt"` // the last success before the failures; nil: never pushed
}

// Failing returns the items failing now, by target and key; all of them when limit <= 0.
func (l *Ledger) Failing(ctx context.Context, limit int) ([]Failure, error) {
	q := `SELECT target, item_key, attempts, last_attempt_at, last_error, pushed_at FROM ` + l.ledger + `
		WHERE last_error IS NOT NULL AND NOT starts_with(target, '` + parkedPrefix + `') ORDER BY target, item_key`
	var args []any
	if limit > 0 {
		q += ` LIMIT $1`
		args = append(args, limit)
	}
	rows, err := l.db.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("ledger: failing items: %w", notMigrated(err))
	}
	defer rows.Close()
	var out []Failure
	for rows.Next() {
		var f Failure
		if err := rows.Scan(&f.Target, &f.Item, &f.Attempts, &f.LastAttemptAt, &f.Error, &f.PushedAt); err != nil {
			return nil, fmt.Errorf("ledger: failing items: %w", err)
		}
		out = append(out, f)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("ledger: failing items: %w", err)
	}
	return out, nil
}
