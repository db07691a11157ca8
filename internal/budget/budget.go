// Package budget is the request budget of one site or organization shared by every replica of a covsync
// deployment through PostgreSQL (docs/architecture.md, "Pace to the site").
//
// The budget is a token bucket kept in one row per site (covsync.rate_budget), its burst one lease window:
// a token is a slot of the site's time, 1/requests_per_second long, and next_slot is the first slot nobody
// holds (at most one window in the past). A
// replica leases a run of slots with one UPDATE (the row lock orders replicas, no leader is elected) and
// spends them at their times; its lease is recorded in covsync.rate_leases. A lease ends at its last slot's
// time whatever becomes of its holder: a replica that dies holding one leaves at most that run of slots
// unused (Options.Window), and the next lease starts no later than the dead one's expiry. Slots a live
// replica leased but did not use in time lapse the same way; they never become a burst.
//
// River (the job queue covsync runs on) has no request-rate primitive in its open-source edition, hence
// this table.
package budget

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"math"
	"os"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/covsync/covsync/config"
	"github.com/covsync/covsync/connectors/httpx"
)

// DefaultWindow is how much of the site's time one lease covers.
const DefaultWindow = 200 * time.Millisecond

// pruneEvery is how many leases a budget takes between two prunings of long-expired lease rows.
const pruneEvery = 100

// RetryAfterError is how long a budget whose lease failed paces its replica alone before asking again.
const RetryAfterError = 30 * time.Second

// DefaultLeaseTimeout bounds one lease: the statement takes milliseconds, and a database that does not answer
// in this time (the budget's row locked by a stuck transaction, a server under failover) is a failed lease,
// paced by the client's own bucket meanwhile, not a site's every request waiting on it.
const DefaultLeaseTimeout = 5 * time.Second

// Options configure one replica's view of one site's budget.
type Options struct {
	// Site names the budget: every replica uses the same name for the same site ("jira:acme").
	Site string
	// RequestsPerSecond is the budget of the whole deployment.
	RequestsPerSecond float64
	// Schema holds the rate_budget and rate_leases tables (default "covsync").
	Schema string
	// Holder names this replica in rate_leases (default host name, process id and a random suffix).
	Holder string
	// Window is how much time one lease covers (default DefaultWindow): the tokens of one lease are
	// ceil(RequestsPerSecond × Window).
	Window time.Duration
	// OnError is told when the database could not be asked (nil: nobody); Wait then returns
	// httpx.ErrNotPaced and requests go on paced by the client's own bucket only, and the database is
	// asked again RetryAfterError later.
	OnError func(error)
	// LeaseTimeout bounds the asking (default DefaultLeaseTimeout).
	LeaseTimeout time.Duration
}

// Budget is one replica's share of a site's budget. It is safe for concurrent use.
type Budget struct {
	pool     *pgxpool.Pool
	o        Options
	tokens   int
	interval time.Duration
	lease    string // the lease statement, schema filled in
	prune    string // the statement that forgets long-expired leases
	takes    atomic.Int64

	// lock (one slot) guards what follows. It is held while a lease is asked for, so one request asks and the
	// others wait for its slots, but a request whose context ends while it waits gives up at once.
	lock        chan struct{}
	failedUntil time.Time // after a failed lease, the database is not asked again before this
	next        time.Time // local time of the next slot of the current lease
	left        int       // slots left in the current lease
	now         func() time.Time
}

// New returns the budget of o.Site on pool's database, which must be migrated (connectors/postgres).
func New(pool *pgxpool.Pool, o Options) (*Budget, error) {
	if o.Site == "" {
		return nil, fmt.Errorf("budget: no site name")
	}
	if !(o.RequestsPerSecond > 0) || math.IsInf(o.RequestsPerSecond, 0) {
		return nil, fmt.Errorf("budget %s: requests_per_second must be a number greater than 0, got %v", o.Site, o.RequestsPerSecond)
	}
	if o.Schema == "" {
		o.Schema = config.OwnSchema
	}
	if o.Window <= 0 {
		o.Window = DefaultWindow
	}
	if o.Holder == "" {
		o.Holder = defaultHolder()
	}
	if o.LeaseTimeout <= 0 {
		o.LeaseTimeout = DefaultLeaseTimeout
	}
	interval := time.Duration(float64(time.Second) / o.RequestsPerSecond)
	tokens := max(1, int(math.Ceil(o.RequestsPerSecond*o.Window.Seconds())))
	schema := pgx.Identifier{o.Schema}.Sanitize()
	// One statement: take the next run of slots and record the lease. A run starts at most one window in the
	// past: the time a replica spent asking is not lost (a lease asked for just as the last one ran out
	// would otherwise start late every time), and a site idle for longer does not turn into a burst.
	lease := `WITH b AS (
    INSERT INTO ` + schema + `.rate_budget AS r (site, next_slot)
    VALUES ($1, clock_timestamp() + make_interval(secs => $2))
    ON CONFLICT (site) DO UPDATE SET next_slot = greatest(r.next_slot, clock_timestamp() - make_interval(secs => $5)) + make_interval(secs => $2)
    RETURNING next_slot - make_interval(secs => $2) AS starts_at, next_slot AS expires_at
)
INSERT INTO ` + schema + `.rate_leases AS l (site, holder, tokens, starts_at, expires_at)
SELECT $1, $3, $4, b.starts_at, b.expires_at FROM b
ON CONFLICT (site, holder) DO UPDATE SET tokens = excluded.tokens, starts_at = excluded.starts_at, expires_at = excluded.expires_at
RETURNING starts_at, expires_at, clock_timestamp()`
	prune := `DELETE FROM ` + schema + `.rate_leases WHERE site = $1 AND expires_at < clock_timestamp() - interval '1 hour'`
	return &Budget{pool: pool, o: o, tokens: tokens, interval: interval, lease: lease, prune: prune, now: time.Now,
		lock: make(chan struct{}, 1)}, nil
}

func defaultHolder() string {
	host, _ := os.Hostname()
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b))
}

// Holder is this replica's name in rate_leases.
func (b *Budget) Holder() string { return b.o.Holder }

// Lease is one lease as granted: its slots start at Start (the database's clock), one every Interval, and
// it expires at Expires.
type Lease struct {
	Tokens         int
	Start, Expires time.Time
	// Offset is the database's clock minus this process's at the moment of the grant.
	Offset time.Duration
}

// Take leases the next run of slots. Wait calls it; tests call it to hold a lease and never use it.
func (b *Budget) Take(ctx context.Context) (Lease, error) {
	var l Lease
	var dbNow time.Time
	before := b.now()
	ctx, cancel := context.WithTimeout(ctx, b.o.LeaseTimeout)
	defer cancel()
	err := b.pool.QueryRow(ctx, b.lease, b.o.Site, float64(b.tokens)*b.interval.Seconds(), b.o.Holder, b.tokens, b.o.Window.Seconds()).
		Scan(&l.Start, &l.Expires, &dbNow)
	if err != nil {
		return Lease{}, fmt.Errorf("budget %s: lease: %w", b.o.Site, err)
	}
	l.Tokens = b.tokens
	if b.takes.Add(1)%pruneEvery == 1 {
		// Holders come and go (restarts, reloads): rows of leases long over are forgotten now and then.
		_, _ = b.pool.Exec(ctx, b.prune, b.o.Site)
	}
	after := b.now()
	l.Offset = dbNow.Sub(before.Add(after.Sub(before) / 2)) // the grant happened about half-way
	return l, nil
}

// Wait blocks until this replica holds a slot of the site's time that has come, or ctx ends. When the
// database cannot be asked (and for RetryAfterError after) it returns httpx.ErrNotPaced at once: the
// request was not paced, and the httpx client paces it with its own bucket (which it skips while the
// budget paces). A failed lease is told to Options.OnError.
func (b *Budget) Wait(ctx context.Context) error {
	select {
	case b.lock <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	now := b.now()
	// Slots more than one window in the past lapsed unused: spending them now would be a burst. Later ones
	// are spent at once (at most one lease's worth early, within what the site's own burst allows).
	for b.left > 0 && b.next.Before(now.Add(-b.o.Window)) {
		b.next = b.next.Add(b.interval)
		b.left--
	}
	if b.left == 0 && now.Before(b.failedUntil) {
		<-b.lock
		return httpx.ErrNotPaced
	}
	if b.left == 0 {
		l, err := b.Take(ctx)
		if err != nil {
			if ctx.Err() == nil {
				b.failedUntil = now.Add(RetryAfterError)
			}
			<-b.lock
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if b.o.OnError != nil {
				b.o.OnError(err)
			}
			return httpx.ErrNotPaced
		}
		b.next, b.left = l.Start.Add(-l.Offset), l.Tokens
	}
	slot := b.next
	b.next = b.next.Add(b.interval)
	b.left--
	<-b.lock

	if d := slot.Sub(b.now()); d > 0 {
		return httpx.Sleep(ctx, d)
	}
	return nil
}

// Tokens is how many tokens one lease holds.
func (b *Budget) Tokens() int { return b.tokens }
