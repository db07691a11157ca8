package ledger

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/covsync/covsync/config"
)

// MaxTextLen caps every error and note written to the ledger. Connectors redact secrets from their errors
// before the engine sees them; the cap bounds what a misbehaving server's error body can put in the table and
// in `covsync status`.
const MaxTextLen = 1000

// DB is what the ledger needs of PostgreSQL: a *pgxpool.Pool, a *pgx.Conn or a pgx.Tx.
type DB interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// Ledger reads and writes the ledger and cycle tables. It is safe for concurrent use when its DB is (a pool).
type Ledger struct {
	db           DB
	ledger       string // quoted, schema-qualified table names
	cycles       string
	destinations string
}

// New returns a ledger on the tables of schema (config.OwnSchema when empty).
func New(db DB, schema string) *Ledger {
	if schema == "" {
		schema = config.OwnSchema
	}
	return &Ledger{
		db:           db,
		ledger:       pgx.Identifier{schema, "ledger"}.Sanitize(),
		cycles:       pgx.Identifier{schema, "cycles"}.Sanitize(),
		destinations: pgx.Identifier{schema, "destinations"}.Sanitize(),
	}
}

// State is what the ledger knows of one item.
type State struct {
	// Hash is the hash of the payload the target last acknowledged; meaningful only when Acked.
	Hash [32]byte
	// Acked is true once the target has acknowledged some payload for the item.
	Acked bool
	// Failing is true when the last attempt failed: the item is pushed again next cycle whatever its hash,
	// because a failed write may have half-happened at the target.
	Failing bool
}

// Load returns every item the ledger holds for target, in one query.
func (l *Ledger) Load(ctx context.Context, target string) (map[string]State, error) {
	rows, err := l.db.Query(ctx,
		"SELECT item_key, hash, last_error IS NOT NULL FROM "+l.ledger+" WHERE target = $1", target)
	if err != nil {
		return nil, fmt.Errorf("ledger: load %s: %w", target, notMigrated(err))
	}
	defer rows.Close()
	out := make(map[string]State)
	var (
		key     string
		hash    []byte
		failing bool
	)
	for rows.Next() {
		if err := rows.Scan(&key, &hash, &failing); err != nil {
			return nil, fmt.Errorf("ledger: load %s: %w", target, err)
		}
		st := State{Failing: failing}
		if hash != nil {
			if len(hash) != len(st.Hash) {
				return nil, fmt.Errorf("ledger: load %s: item %q: hash of %d bytes, want %d", target, key, len(hash), len(st.Hash))
			}
			copy(st.Hash[:], hash)
			st.Acked = true
		}
		out[key] = st
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("ledger: load %s: %w", target, err)
	}
	return out, nil
}

// RecordPushed records that target acknowledged the payload with hash for key: the hash becomes the one the
// next cycle diffs against, failed attempts are forgotten.
func (l *Ledger) RecordPushed(ctx context.Context, target, key string, hash [32]byte, summary, note string) error {
	_, err := l.db.Exec(ctx, `INSERT INTO `+l.ledger+` AS l
		(target, item_key, hash, summary, pushed_at, attempts, last_attempt_at, last_error, note)
		VALUES ($1, $2, $3, $4, now(), 0, now(), NULL, $5)
		ON CONFLICT (target, item_key) DO UPDATE SET
			hash = EXCLUDED.hash, summary = EXCLUDED.summary, pushed_at = EXCLUDED.pushed_at, attempts = 0,
			last_attempt_at = EXCLUDED.last_attempt_at, last_error = NULL, note = EXCLUDED.note`,
		target, key, hash[:], clean(summary), nullIfEmpty(clean(note)))
	if err != nil {
		return fmt.Errorf("ledger: record %s %s pushed: %w", target, key, err)
	}
	return nil
}

// Pushed is one item for RecordPushedMany.
type Pushed struct {
	Key     string
	Hash    [32]byte
	Summary string
}

// recordBatch is how many items one RecordPushedMany statement writes.
const recordBatch = 1000

// RecordPushedMany records items as RecordPushed does, with one note, a statement per recordBatch items: a
// first reconcile that finds thousands of items already held adopts them in a few round trips, not one each.
func (l *Ledger) RecordPushedMany(ctx context.Context, target string, items []Pushed, note string) error {
	note = clean(note)
	for len(items) > 0 {
		n := min(len(items), recordBatch)
		keys, hashes, sums := make([]string, n), make([][]byte, n), make([]string, n)
		for i, it := range items[:n] {
			keys[i], hashes[i], sums[i] = it.Key, it.Hash[:], clean(it.Summary)
		}
		_, err := l.db.Exec(ctx, `INSERT INTO `+l.ledger+` AS l
			(target, item_key, hash, summary, pushed_at, attempts, last_attempt_at, last_error, note)
			SELECT $1, u.key, u.hash, u.summary, now(), 0, now(), NULL, $5
			FROM unnest($2::text[], $3::bytea[], $4::text[]) AS u(key, hash, summary)
			ON CONFLICT (target, item_key) DO UPDATE SET
				hash = EXCLUDED.hash, summary = EXCLUDED.summary, pushed_at = EXCLUDED.pushed_at, attempts = 0,
				last_attempt_at = EXCLUDED.last_attempt_at, last_error = NULL, note = EXCLUDED.note`,
			target, keys, hashes, sums, nullIfEmpty(note))
		if err != nil {
			return fmt.Errorf("ledger: record %d items of %s pushed: %w", n, target, err)
		}
		items = items[n:]
	}
	return nil
}

// RecordFailed records a failed attempt at key: attempts grows by one and the error is kept; the hash stays
// the last acknowledged one, so the item still differs and is pushed again next cycle.
func (l *Ledger) RecordFailed(ctx context.Context, target, key, errText string) error {
	if errText == "" {
		errText = "unknown error"
	}
	_, err := l.db.Exec(ctx, `INSERT INTO `+l.ledger+` AS l
		(target, item_key, attempts, last_attempt_at, last_error)
		VALUES ($1, $2, 1, now(), $3)
		ON CONFLICT (target, item_key) DO UPDATE SET
			attempts = l.attempts + 1, last_attempt_at = EXCLUDED.last_attempt_at, last_error = EXCLUDED.last_error`,
		target, key, clean(errText))
	if err != nil {
		return fmt.Errorf("ledger: record %s %s failed: %w", target, key, err)
	}
	return nil
}

// RecordSkipped records that the target deliberately did not write key (a page a person edited). It is not
// a failure, and not a push: the hash stays as it was, so the item is looked at again when it changes.
func (l *Ledger) RecordSkipped(ctx context.Context, target, key, note string) error {
	_, err := l.db.Exec(ctx, `INSERT INTO `+l.ledger+` AS l
		(target, item_key, attempts, last_attempt_at, last_error, note)
		VALUES ($1, $2, 0, now(), NULL, $3)
		ON CONFLICT (target, item_key) DO UPDATE SET
			attempts = 0, last_attempt_at = EXCLUDED.last_attempt_at, last_error = NULL, note = EXCLUDED.note`,
		target, key, clean(note))
	if err != nil {
		return fmt.Errorf("ledger: record %s %s skipped: %w", target, key, err)
	}
	return nil
}

// ErrNotMigrated is returned (wrapped) when covsync's tables do not exist.
var ErrNotMigrated = errors.New("covsync's tables do not exist: run `covsync migrate`")

// notMigrated turns PostgreSQL's "relation does not exist" into ErrNotMigrated so a user knows what to do.
func notMigrated(err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "42P01" {
		return fmt.Errorf("%w (%s)", ErrNotMigrated, pe.Message)
	}
	return err
}

// clean makes s storable and bounded: valid UTF-8 without NUL bytes (PostgreSQL text refuses both), at most
// MaxTextLen bytes, cut on a rune boundary.
func clean(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.ReplaceAll(s, "\x00", "")
	if len(s) <= MaxTextLen {
		return s
	}
	const ellipsis = "…"
	cut := MaxTextLen - len(ellipsis)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + ellipsis
}

func nullIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}
