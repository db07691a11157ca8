package budget

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/covsync/covsync/connectors/httpx"
	"github.com/covsync/covsync/internal/pgtest"
	"github.com/covsync/covsync/sync/ledger/ledgertest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func mustNew(t *testing.T, pool *pgxpool.Pool, o Options) *Budget {
	t.Helper()
	b, err := New(pool, o)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestTwoReplicasShareOneBudget: two replicas (two Budgets on one database, as two processes would have)
// lease concurrently; no slot of the site's time is ever granted twice, so together they never exceed the
// site's rate.
func TestTwoReplicasShareOneBudget(t *testing.T) {
	pool := ledgertest.Pool(t)
	const rps = 1000 // short leases: the test takes no noticeable time
	a := mustNew(t, pool, Options{Site: "jira:acme", RequestsPerSecond: rps, Holder: "replica-a"})
	b := mustNew(t, pool, Options{Site: "jira:acme", RequestsPerSecond: rps, Holder: "replica-b"})
	other := mustNew(t, pool, Options{Site: "jira:other", RequestsPerSecond: rps, Holder: "replica-a"})
	if a.Tokens() != 200 {
		t.Fatalf("tokens per lease = %d, want 200 (1000/s × 200 ms)", a.Tokens())
	}
	var mu sync.Mutex
	var leases []Lease
	var wg sync.WaitGroup
	for _, bud := range []*Budget{a, b, a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 10 {
				l, err := bud.Take(context.Background())
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				leases = append(leases, l)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if _, err := other.Take(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(leases) != 40 {
		t.Fatalf("%d leases, want 40", len(leases))
	}
	sort.Slice(leases, func(i, j int) bool { return leases[i].Start.Before(leases[j].Start) })
	for i, l := range leases {
		if got := l.Expires.Sub(l.Start); got != 200*time.Millisecond {
			t.Errorf("lease %d covers %v, want 200 tokens × 1 ms", i, got)
		}
		if i > 0 && l.Start.Before(leases[i-1].Expires) {
			t.Errorf("lease %d [%v, %v) overlaps lease %d ending %v: a slot granted twice", i, l.Start, l.Expires, i-1, leases[i-1].Expires)
		}
	}
	// 40 leases of 200 tokens at 1000/s cannot fit in less than 8 s of the site's time.
	if span := leases[39].Expires.Sub(leases[0].Start); span < 8*time.Second {
		t.Errorf("40 leases span %v of the site's time, want at least 8 s", span)
	}
	var holders int
	if err := pool.QueryRow(context.Background(), `SELECT count(*) FROM covsync.rate_leases WHERE site = 'jira:acme'`).Scan(&holders); err != nil {
		t.Fatal(err)
	}
	if holders != 2 {
		t.Errorf("rate_leases holds %d holders of jira:acme, want 2", holders)
	}
}

// TestTwoClientsDrawFromOneBudget: two HTTP clients of one site in two "replicas" draw every attempt from
// the same budget; the database counts the leases they took.
func TestTwoClientsDrawFromOneBudget(t *testing.T) {
	pool := ledgertest.Pool(t)
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hits.Add(1) }))
	defer srv.Close()
	var buds []*Budget
	var clients []*http.Client
	for i := range 2 {
		bud := mustNew(t, pool, Options{Site: "jira:shared", RequestsPerSecond: 500, Holder: fmt.Sprint("replica-", i),
			Window: 20 * time.Millisecond, OnError: func(err error) { t.Error(err) }})
		c, err := httpx.New(httpx.Options{Name: "jira:shared", RequestsPerSecond: 1000, Budget: bud})
		if err != nil {
			t.Fatal(err)
		}
		buds, clients = append(buds, bud), append(clients, c)
	}
	var wg sync.WaitGroup
	for _, c := range clients {
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range 10 {
					resp, err := c.Get(srv.URL)
					if err != nil {
						t.Error(err)
						return
					}
					resp.Body.Close()
				}
			}()
		}
	}
	wg.Wait()
	if hits.Load() != 80 {
		t.Fatalf("server saw %d requests, want 80", hits.Load())
	}
	var last time.Time
	if err := pool.QueryRow(context.Background(),
		`SELECT max(expires_at) FROM covsync.rate_leases WHERE site = 'jira:shared'`).Scan(&last); err != nil {
		t.Fatal(err)
	}
	var next time.Time
	if err := pool.QueryRow(context.Background(), `SELECT next_slot FROM covsync.rate_budget WHERE site = 'jira:shared'`).Scan(&next); err != nil {
		t.Fatal(err)
	}
	if !next.Equal(last) {
		t.Errorf("the budget's next slot %v is not the end of the last lease %v", next, last)
	}
	var holders int
	if err := pool.QueryRow(context.Background(),
		`SELECT count(*) FROM covsync.rate_leases WHERE site = 'jira:shared'`).Scan(&holders); err != nil {
		t.Fatal(err)
	}
	if holders != 2 {
		t.Errorf("%d holders, want both replicas", holders)
	}
	// Every attempt drew from its replica's budget: 40 slots each, in leases of 10.
	for i, bud := range buds {
		if bud.Tokens() != 10 {
			t.Errorf("replica %d: %d tokens per lease, want 10", i, bud.Tokens())
		}
	}
}

// TestADeadReplicasLeaseLapsesByTimeout: a replica takes a lease and dies without using it. The other
// replica's next lease starts where the dead one's ends (the slots are not granted twice), and once that
// time has passed the dead replica holds nothing: the next lease starts now, not after any debt.
func TestADeadReplicasLeaseLapsesByTimeout(t *testing.T) {
	pool := ledgertest.Pool(t)
	dead := mustNew(t, pool, Options{Site: "ado:org", RequestsPerSecond: 100, Holder: "dead", Window: 300 * time.Millisecond})
	live := mustNew(t, pool, Options{Site: "ado:org", RequestsPerSecond: 100, Holder: "live", Window: 10 * time.Millisecond})
	ctx := context.Background()
	held, err := dead.Take(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if held.Tokens != 30 || held.Expires.Sub(held.Start) != 300*time.Millisecond {
		t.Fatalf("dead replica's lease: %d tokens over %v, want 30 over 300ms", held.Tokens, held.Expires.Sub(held.Start))
	}
	l, err := live.Take(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if l.Start.Before(held.Expires) {
		t.Fatalf("live replica's lease starts %v, inside the dead replica's lease (until %v)", l.Start, held.Expires)
	}
	// Wait (with a deadline, asserting nothing about durations) until the database's clock is past the
	// dead replica's lease.
	deadline := time.Now().Add(30 * time.Second)
	for {
		var expired bool
		if err := pool.QueryRow(ctx, `SELECT expires_at < clock_timestamp() FROM covsync.rate_leases WHERE holder = 'dead'`).Scan(&expired); err != nil {
			t.Fatal(err)
		}
		if expired {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the dead replica's lease never expired")
		}
		time.Sleep(20 * time.Millisecond)
	}
	var before time.Time
	if err := pool.QueryRow(ctx, `SELECT clock_timestamp()`).Scan(&before); err != nil {
		t.Fatal(err)
	}
	l2, err := live.Take(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if l2.Start.Before(before.Add(-live.o.Window)) || l2.Start.Before(l.Expires) {
		t.Fatalf("lease after the dead one lapsed starts %v, more than a window before now (%v) or before the previous lease's end", l2.Start, before)
	}
	if l2.Start.Sub(before) > time.Second {
		t.Fatalf("lease after the dead one lapsed starts %v, long after now (%v): the dead lease still weighs", l2.Start, before)
	}
}

// TestUnusedSlotsOfAnOldLeaseLapse: a replica that leased slots and then sat idle does not spend the old
// slots in a burst; it leases anew.
func TestUnusedSlotsOfAnOldLeaseLapse(t *testing.T) {
	pool := ledgertest.Pool(t)
	b := mustNew(t, pool, Options{Site: "jira:idle", RequestsPerSecond: 10, Holder: "r", Window: time.Second})
	ctx := context.Background()
	if err := b.Wait(ctx); err != nil { // leases 10 slots, spends the first
		t.Fatal(err)
	}
	b.lock <- struct{}{}
	left := b.left
	now := b.now
	b.now = func() time.Time { return now().Add(time.Hour) } // an hour of idleness
	<-b.lock
	if left != 9 {
		t.Fatalf("left in the lease = %d, want 9", left)
	}
	nextSlot := func() (v time.Time) {
		t.Helper()
		if err := pool.QueryRow(ctx, `SELECT next_slot FROM covsync.rate_budget WHERE site = 'jira:idle'`).Scan(&v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	n0 := nextSlot()
	ctx2, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	_ = b.Wait(ctx2) // the old slots lapsed: a new lease is taken (its start, on the shifted clock, is in the past)
	b.lock <- struct{}{}
	left = b.left
	<-b.lock
	if left != 9 {
		t.Fatalf("after an idle hour: %d slots left, want a fresh lease's 9 (the old lease's 8 lapsed)", left)
	}
	if n1 := nextSlot(); !n1.After(n0) {
		t.Fatalf("no new lease was taken (next_slot %v → %v)", n0, n1)
	}
}

// TestAnUnreachableBudgetLeavesPacingToTheClient: when the lease cannot be taken (here the schema holds no
// budget tables, as a database that cannot be asked), Wait says it did not pace, at once and for
// RetryAfterError after, and an httpx client on that budget is held to its own requests_per_second: at one
// request per 1,000 s its second request does not go out.
func TestAnUnreachableBudgetLeavesPacingToTheClient(t *testing.T) {
	pool := pgtest.Pool(t)
	var errs atomic.Int32
	bud := mustNew(t, pool, Options{Site: "jira:down", RequestsPerSecond: 1000, Schema: "no_such_schema", Holder: "r",
		OnError: func(error) { errs.Add(1) }})
	for i := range 2 {
		if err := bud.Wait(context.Background()); !errors.Is(err, httpx.ErrNotPaced) {
			t.Fatalf("Wait %d with the lease failing = %v, want httpx.ErrNotPaced", i, err)
		}
	}
	if errs.Load() != 1 {
		t.Errorf("OnError told %d times, want 1 (the second Wait falls within RetryAfterError)", errs.Load())
	}

	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hits.Add(1) }))
	defer srv.Close()
	c, err := httpx.New(httpx.Options{Name: "jira:down", RequestsPerSecond: 0.001, Budget: bud})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL, nil)
	if resp, err := c.Do(req); err == nil {
		resp.Body.Close()
		t.Errorf("a second request went out unpaced while the shared budget was down")
	}
	if hits.Load() != 1 {
		t.Errorf("the site saw %d requests, want 1", hits.Load())
	}
}

// A lease the database does not answer (the budget's row locked by a stuck transaction) is a failed lease
// after LeaseTimeout, paced by the client's own bucket meanwhile; and a request whose context ends while
// another asks gives up at once. Before, the asker held the budget's mutex for as long as the database took,
// and every request of the site waited behind it, whatever its context said.
func TestALeaseTheDatabaseDoesNotAnswerHoldsNobody(t *testing.T) {
	pool := ledgertest.Pool(t)
	ctx := context.Background()
	var failures atomic.Int32
	b := mustNew(t, pool, Options{Site: "jira:stuck", RequestsPerSecond: 10, Holder: "r", Window: 100 * time.Millisecond,
		LeaseTimeout: 300 * time.Millisecond, OnError: func(error) { failures.Add(1) }})
	if _, err := b.Take(ctx); err != nil { // the budget's row exists
		t.Fatal(err)
	}
	stuck, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer stuck.Rollback(ctx)
	if _, err := stuck.Exec(ctx, `SELECT * FROM covsync.rate_budget WHERE site = 'jira:stuck' FOR UPDATE`); err != nil {
		t.Fatal(err)
	}
	b.left = 0 // the lease taken above is spent

	first := make(chan error, 1)
	go func() { first <- b.Wait(ctx) }()
	short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	second := make(chan error, 1)
	go func() { second <- b.Wait(short) }()
	for name, ch := range map[string]chan error{"a request with no deadline": first, "a request of 100 ms": second} {
		select {
		case err := <-ch:
			want := httpx.ErrNotPaced
			if ch == second {
				want = context.DeadlineExceeded
			}
			if !errors.Is(err, want) {
				t.Errorf("%s, the row locked: %v, want %v", name, err, want)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("%s still waits 30 s after the lease was asked for while the budget's row is locked", name)
		}
	}
	if failures.Load() != 1 {
		t.Errorf("%d failed leases told, want 1", failures.Load())
	}
	// The server gave up as well (the abandoned statement ends with its connection): once the row is free, no
	// lease nobody waits for is granted.
	var before time.Time
	if err := pool.QueryRow(ctx, `SELECT next_slot FROM covsync.rate_budget WHERE site = 'jira:stuck'`).Scan(&before); err != nil {
		t.Fatal(err)
	}
	if err := stuck.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	var after time.Time
	if err := pool.QueryRow(ctx, `SELECT next_slot FROM covsync.rate_budget WHERE site = 'jira:stuck'`).Scan(&after); err != nil {
		t.Fatal(err)
	}
	if !after.Equal(before) {
		t.Errorf("a lease given up on was granted once the row was free (next_slot %v → %v)", before, after)
	}
}
