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
}

// Cycle is one row of cycle history.
type Cycle struct {
	ID         int64      `json:"id"`
	Target     string     `json:"target"`
	Kind       string     `json:"kind"`
	Project    string     `json:"project"`
	Trigger    string     `json:"trigger"`
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

// StartCycle opens a cycle row and returns its id.
func (l *Ledger) StartCycle(ctx context.Context, target, kind, project, trigger string) (int64, error) {
	if trigger == "" {
		trigger = TriggerSchedule
	}
	var id int64
	err := l.db.QueryRow(ctx, `INSERT INTO `+l.cycles+` (target, kind, project, trigger, started_at)
		VALUES ($1, $2, $3, $4, now()) RETURNING id`, target, kind, project, trigger).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("ledger: start cycle of %s: %w", target, notMigrated(err))
	}
	return id, nil
}

// FinishCycle closes cycle id with its counts and, when the cycle as a whole failed, its error.
func (l *Ledger) FinishCycle(ctx context.Context, id int64, c Counts, cycleErr string) error {
	_, err := l.db.Exec(ctx, `UPDATE `+l.cycles+` SET finished_at = now(), planned = $2, pushed = $3,
		unchanged = $4, failed = $5, skipped = $6, pruned = $7, error = $8 WHERE id = $1`,
		id, c.Planned, c.Pushed, c.Unchanged, c.Failed, c.Skipped, c.Pruned, nullIfEmpty(clean(cycleErr)))
	if err != nil {
		return fmt.Errorf("ledger: finish cycle %d: %w", id, err)
	}
	return nil
}

const cycleCols = `id, target, kind, project, trigger, started_at, finished_at, planned, pushed, unchanged,
	failed, skipped, pruned, coalesce(error, '')`

func scanCycle(row pgx.Row, c *Cycle) error {
	return row.Scan(&c.ID, &c.Target, &c.Kind, &c.Project, &c.Trigger, &c.StartedAt, &c.FinishedAt,
		&c.Planned, &c.Pushed, &c.Unchanged, &c.Failed, &c.Skipped, &c.Pruned, &c.Error)
}

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
}

// Status returns every target's newest cycle, ordered by target name.
func (l *Ledger) Status(ctx context.Context) ([]TargetStatus, error) {
	rows, err := l.db.Query(ctx, `SELECT `+cycleCols+`,
			(SELECT max(ok.finished_at) FROM `+l.cycles+` ok
				WHERE ok.target = c.target AND ok.error IS NULL AND ok.finished_at IS NOT NULL),
			(SELECT count(*) FROM `+l.ledger+` f WHERE f.target = c.target AND f.last_error IS NOT NULL)
		FROM (SELECT DISTINCT ON (target) * FROM `+l.cycles+` ORDER BY target, started_at DESC, id DESC) c
		ORDER BY target`)
	if err != nil {
		return nil, fmt.Errorf("ledger: status: %w", notMigrated(err))
	}
	defer rows.Close()
	var out []TargetStatus
	for rows.Next() {
		var s TargetStatus
		c := &s.Last
		if err := rows.Scan(&c.ID, &c.Target, &c.Kind, &c.Project, &c.Trigger, &c.StartedAt, &c.FinishedAt,
			&c.Planned, &c.Pushed, &c.Unchanged, &c.Failed, &c.Skipped, &c.Pruned, &c.Error,
			&s.LastOK, &s.FailingItems); err != nil {
			return nil, fmt.Errorf("ledger: status: %w", err)
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
		WHERE last_error IS NOT NULL ORDER BY target, item_key`
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
