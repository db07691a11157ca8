package ledger

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// parked is the name under which the rows of target's earlier destination wait while target points elsewhere.
func parked(destination, target string) string { return parkedPrefix + destination + " " + target }

// parkedPrefix starts every parked name; parked rows are history, not items failing now.
const parkedPrefix = "parked "

// Bind makes target's ledger rows those of destination, the site and project the target writes now (its
// canonical URL, not its name). The first bind of a name adopts the rows it already has (written before
// destinations were recorded). When the name pointed at another destination, its rows are set aside for that
// destination and the rows kept for this one, if any, come back: pointing a name at another site pushes
// everything there, and pointing it back finds what was pushed there before. moved reports such a switch.
//
// With dryRun nothing is written: moved says whether the rows under the name belong to another destination
// (the engine then plans as if the ledger held nothing for the target).
func (l *Ledger) Bind(ctx context.Context, target, destination string, dryRun bool) (moved bool, err error) {
	if destination == "" || destination == target {
		return false, nil
	}
	if dryRun {
		var was string
		err := l.db.QueryRow(ctx, "SELECT destination FROM "+l.destinations+" WHERE target = $1", target).Scan(&was)
		if errors.Is(err, pgx.ErrNoRows) {
			return false, nil
		}
		return err == nil && was != destination, wrapBind(target, err)
	}
	// Every DB the ledger is given (*pgxpool.Pool, *pgx.Conn, pgx.Tx) can begin a transaction (a savepoint
	// inside a pgx.Tx).
	db, ok := l.db.(interface {
		Begin(ctx context.Context) (pgx.Tx, error)
	})
	if !ok {
		return false, fmt.Errorf("ledger: bind %s: %T cannot begin a transaction", target, l.db)
	}
	tx, err := db.Begin(ctx)
	if err != nil {
		return false, wrapBind(target, err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	if _, err := tx.Exec(ctx, "INSERT INTO "+l.destinations+" (target, destination) VALUES ($1, $2) ON CONFLICT DO NOTHING", target, destination); err != nil {
		return false, wrapBind(target, err)
	}
	var was string
	if err := tx.QueryRow(ctx, "SELECT destination FROM "+l.destinations+" WHERE target = $1 FOR UPDATE", target).Scan(&was); err != nil {
		return false, wrapBind(target, err)
	}
	if was != destination {
		moved = true
		// Park the old destination's rows (dropping any older parked copy of it), then bring this one's back.
		if _, err := tx.Exec(ctx, "DELETE FROM "+l.ledger+" WHERE target = $1", parked(was, target)); err != nil {
			return false, wrapBind(target, err)
		}
		if _, err := tx.Exec(ctx, "UPDATE "+l.ledger+" SET target = $2 WHERE target = $1", target, parked(was, target)); err != nil {
			return false, wrapBind(target, err)
		}
		if _, err := tx.Exec(ctx, "UPDATE "+l.ledger+" SET target = $1 WHERE target = $2", target, parked(destination, target)); err != nil {
			return false, wrapBind(target, err)
		}
		if _, err := tx.Exec(ctx, "UPDATE "+l.destinations+" SET destination = $2, bound_at = now() WHERE target = $1", target, destination); err != nil {
			return false, wrapBind(target, err)
		}
	}
	return moved, wrapBind(target, tx.Commit(ctx))
}

func wrapBind(target string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("ledger: bind %s to its destination: %w", target, notMigrated(err))
}
