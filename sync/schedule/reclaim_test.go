package schedule

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/covsync/covsync/sync/push"
)

// strandJob inserts a resync job of shop/jira and leaves it as a process that then died leaves it: running,
// attempted by client, for a minute.
func strandJob(t *testing.T, pool *pgxpool.Pool, client string) int64 {
	t.Helper()
	ins, err := New(pool, RunnerFunc(func(context.Context, Cycle) (any, error) { return nil, nil }), Options{})
	if err != nil {
		t.Fatal(err)
	}
	enq, err := ins.Enqueue(context.Background(), []Request{{Project: "shop", Kind: push.TargetJira}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(context.Background(), `UPDATE covsync.river_job SET state = 'running', attempt = 1,
		attempted_by = ARRAY[$2::text], attempted_at = now() - interval '1 minute' WHERE id = $1`, enq[0].JobID, client); err != nil {
		t.Fatal(err)
	}
	return enq[0].JobID
}

// strandTick inserts a reconcile tick of shop/jira and leaves it as strandJob leaves its cycle: running,
// attempted by a client that is gone.
func strandTick(t *testing.T, pool *pgxpool.Pool, client string) int64 {
	t.Helper()
	ins, err := New(pool, RunnerFunc(func(context.Context, Cycle) (any, error) { return nil, nil }), Options{})
	if err != nil {
		t.Fatal(err)
	}
	res, err := ins.client.Insert(context.Background(), reconcileTickArgs{Project: "shop", Target: push.TargetJira}, ins.tickOpts())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(context.Background(), `UPDATE covsync.river_job SET state = 'running', attempt = 1,
		attempted_by = ARRAY[$2::text], attempted_at = now() - interval '1 minute' WHERE id = $1`, res.Job.ID, client); err != nil {
		t.Fatal(err)
	}
	return res.Job.ID
}

func jobState(t *testing.T, pool *pgxpool.Pool, id int64) (state, lastError string) {
	t.Helper()
	if err := pool.QueryRow(context.Background(), `SELECT state::text, coalesce(errors[array_length(errors, 1)]->>'error', '')
		FROM covsync.river_job WHERE id = $1`, id).Scan(&state, &lastError); err != nil {
		t.Fatal(err)
	}
	return state, lastError
}

// TestAResyncReclaimsTheCycleOfADeadProcessAndRuns: a `covsync resync` killed mid-cycle left its job running;
// the next resync says what it waits for, finds the job's process gone, reclaims the job (with an error that
// says so) and runs its own cycle, in seconds instead of never.
func TestAResyncReclaimsTheCycleOfADeadProcessAndRuns(t *testing.T) {
	pool := migrated(t)
	var mu sync.Mutex
	var waits []Waiting
	opts := testOptions(nil)
	opts.LeaderElectionDisabled = true
	opts.OnWait = func(w Waiting) { mu.Lock(); waits = append(waits, w); mu.Unlock() }
	s := start(t, pool, (&recorder{}).runner("resync"), opts)
	// Stranded after the start, whose own sweep would have reclaimed it before the resync asked.
	stale := strandJob(t, pool, "covsync-gone-4242-deadbeef")

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	outs, err := s.Resync(ctx, []Request{{Project: "shop", Kind: push.TargetJira}})
	if err != nil {
		t.Fatalf("resync behind a dead process's job: %v", err)
	}
	if !outs[0].OK() || outs[0].JobID == stale {
		t.Fatalf("outcome %+v, want its own cycle completed", outs[0])
	}
	state, msg := jobState(t, pool, stale)
	if state != "discarded" || !strings.Contains(msg, "covsync-gone-4242-deadbeef") || !strings.Contains(msg, "is gone") {
		t.Errorf("the stale job is %s with error %q, want discarded, naming the dead client", state, msg)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(waits) == 0 || waits[0].JobID != stale || waits[0].Client != "covsync-gone-4242-deadbeef" || waits[0].State != "running" {
		t.Errorf("OnWait got %+v, want the stale job, its state and its client", waits)
	}
}

// TestAResyncBehindALiveCycleGivesUpAtItsDeadline: a job whose client is alive (holds its lock) is never
// reclaimed; the resync waits for it until WaitTimeout and gives up with ErrWaitTimeout.
func TestAResyncBehindALiveCycleGivesUpAtItsDeadline(t *testing.T) {
	pool := migrated(t)
	var l liveness
	if err := l.hold(context.Background(), pool, "covsync-alive-1"); err != nil {
		t.Fatal(err)
	}
	defer l.release(context.Background())
	job := strandJob(t, pool, "covsync-alive-1")
	opts := testOptions(nil)
	opts.LeaderElectionDisabled = true
	opts.WaitTimeout = 3 * time.Second
	s := start(t, pool, (&recorder{}).runner("resync"), opts)
	_, err := s.Resync(context.Background(), []Request{{Project: "shop", Kind: push.TargetJira}})
	if !errors.Is(err, ErrWaitTimeout) || !strings.Contains(err.Error(), "shop/jira") {
		t.Fatalf("err = %v, want ErrWaitTimeout naming shop/jira", err)
	}
	if state, _ := jobState(t, pool, job); state != "running" {
		t.Errorf("the live client's job is %s, want still running", state)
	}
}

// TestADaemonReclaimsDeadProcessesCyclesAtStart: a working client (the daemon) reclaims such jobs on its
// own, at start and every ReclaimEvery, without waiting for River's rescuer (CycleTimeout + 5 minutes): a
// cycle, and a reconcile tick (left running, it would hold back that reconcile as long).
func TestADaemonReclaimsDeadProcessesCyclesAtStart(t *testing.T) {
	pool := migrated(t)
	stale := strandJob(t, pool, "covsync-gone-77-cafe")
	tick := strandTick(t, pool, "covsync-gone-78-beef")
	var got []Reclaimed
	var mu sync.Mutex
	opts := testOptions(nil)
	opts.OnReclaim = func(r Reclaimed) { mu.Lock(); got = append(got, r); mu.Unlock() }
	start(t, pool, (&recorder{}).runner("daemon"), opts)
	waitFor(t, 10*time.Second, func() bool { s, _ := jobState(t, pool, stale); return s == "discarded" })
	waitFor(t, 10*time.Second, func() bool { s, _ := jobState(t, pool, tick); return s != "running" })
	if _, msg := jobState(t, pool, tick); !strings.Contains(msg, "covsync-gone-78-beef") || !strings.Contains(msg, "is gone") {
		t.Errorf("the stale tick's last error is %q, want it naming the dead client", msg)
	}
	mu.Lock()
	defer mu.Unlock()
	ids := map[int64]Reclaimed{}
	for _, r := range got {
		ids[r.JobID] = r
	}
	if r := ids[stale]; len(got) != 2 || r.Project != "shop" || r.Kind != push.TargetJira {
		t.Errorf("OnReclaim got %+v, want the stale shop/jira cycle and tick", got)
	}
	if r, ok := ids[tick]; !ok || r.Project != "shop" || r.Kind != push.TargetJira {
		t.Errorf("OnReclaim got %+v, want the stale shop/jira reconcile tick among them", got)
	}
}

// TestAJobOfAnOlderCovsyncIsNeverReclaimed: a covsync from before the liveness lock runs its jobs under
// River's own client id (host and start time) and holds no lock, alive or not. During a rolling upgrade such
// a job may be running on a live old replica: a new one must leave it to River's rescuer, not run the same
// cycle beside it. The host of a Kubernetes pod of the shipped deployment starts with "covsync-" too.
func TestAJobOfAnOlderCovsyncIsNeverReclaimed(t *testing.T) {
	pool := migrated(t)
	old := strandJob(t, pool, "covsync-5d8f7c9b4-x2x7k_2026_12_01T09_00_00_000000")
	gone := strandTick(t, pool, "covsync-gone-5-abcd1234")
	opts := testOptions(nil)
	opts.LeaderElectionDisabled = true
	s := start(t, pool, (&recorder{}).runner("daemon"), opts)
	got, err := s.Reclaim(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range got {
		if r.JobID == old {
			t.Errorf("reclaimed %+v, the job of a client that never held a lock", r)
		}
	}
	if state, _ := jobState(t, pool, old); state != "running" {
		t.Errorf("the older covsync's job is %s, want still running", state)
	}
	if state, _ := jobState(t, pool, gone); state == "running" {
		t.Errorf("the dead client's tick is still running, want reclaimed (by the start's sweep or this one)")
	}
	if id := defaultClientID(); riverDefaultID.MatchString(id) || !strings.HasPrefix(id, "covsync-") {
		t.Errorf("covsync's own client id %q would be taken for River's", id)
	}
}
