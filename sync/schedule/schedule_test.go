package schedule

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river/rivertype"

	"github.com/covsync/covsync/config"
	"github.com/covsync/covsync/internal/pgtest"
	"github.com/covsync/covsync/sync/push"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// acme is a Jira site that names a field, so its projects have the jira kind.
var acme = []config.Jira{{Conn: config.Conn{Name: "acme"}, Fields: config.JiraFields{CoveragePercent: "Test Coverage"}}}

func TestEntries(t *testing.T) {
	off := false
	tests := []struct {
		name    string
		cfg     config.Config
		want    []string
		wantErr string
	}{
		{
			name: "a project with every target gets one cycle per scheduled kind",
			cfg: config.Config{
				Schedules: config.Schedules{Jira: "*/15 * * * *", LinkedRuns: "@every 5m", ADO: "@hourly", Confluence: "0 * * * *"},
				Jira:      acme,
				Projects: []config.Project{{ID: "shop",
					Jira: &config.ProjectJira{Target: "acme", LinkedRuns: true}, ADO: &config.ProjectADO{}, Confluence: &config.ProjectConfluence{}}},
			},
			want: []string{"shop/jira", "shop/linked-runs", "shop/ado", "shop/confluence",
				"shop/jira/reconcile", "shop/linked-runs/reconcile", "shop/ado/reconcile", "shop/confluence/reconcile"},
		},
		{
			name: "schedules.reconcile set empty schedules no reconcile",
			cfg: config.Config{
				Schedules: config.Schedules{Jira: "@every 1m", Reconcile: new(string)},
				Jira:      acme,
				Projects:  []config.Project{{ID: "shop", Jira: &config.ProjectJira{Target: "acme"}}},
			},
			want: []string{"shop/jira"},
		},
		{
			name: "an empty schedule disables that kind",
			cfg: config.Config{
				Schedules: config.Schedules{Jira: "@every 1m"},
				Jira:      acme,
				Projects:  []config.Project{{ID: "shop", Jira: &config.ProjectJira{Target: "acme", LinkedRuns: true}, ADO: &config.ProjectADO{}}},
			},
			want: []string{"shop/jira", "shop/jira/reconcile", "shop/linked-runs/reconcile", "shop/ado/reconcile"},
		},
		{
			name: "jira fields off leaves only the linked runs",
			cfg: config.Config{
				Schedules: config.Schedules{Jira: "@every 1m", LinkedRuns: "@every 1m"},
				Jira:      acme,
				Projects:  []config.Project{{ID: "a", Jira: &config.ProjectJira{Target: "acme", LinkedRuns: true, Fields: &off}}, {ID: "b"}},
			},
			want: []string{"a/linked-runs", "a/linked-runs/reconcile"},
		},
		{
			name: "a jira site without fields gives its projects only the linked runs",
			cfg: config.Config{
				Schedules: config.Schedules{Jira: "@every 1m", LinkedRuns: "@every 1m"},
				Jira:      []config.Jira{{Conn: config.Conn{Name: "acme"}}},
				Projects:  []config.Project{{ID: "a", Jira: &config.ProjectJira{Target: "acme", LinkedRuns: true}}},
			},
			want: []string{"a/linked-runs", "a/linked-runs/reconcile"},
		},
		{
			name:    "a bad spec names its key",
			cfg:     config.Config{Schedules: config.Schedules{LinkedRuns: "every five"}, Projects: []config.Project{{ID: "a", Jira: &config.ProjectJira{Target: "acme", LinkedRuns: true}}}},
			wantErr: `schedules.linked_runs: cron spec "every five"`,
		},
		{
			name:    "six fields are refused",
			cfg:     config.Config{Schedules: config.Schedules{ADO: "0 */5 * * * *"}, Projects: []config.Project{{ID: "a", ADO: &config.ProjectADO{}}}},
			wantErr: "schedules.ado:",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			es, err := Entries(&tt.cfg)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want it to contain %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, e := range es {
				got = append(got, e.ID())
			}
			if strings.Join(got, ",") != strings.Join(tt.want, ",") {
				t.Errorf("entries = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestRetryPolicyGrowsAndCaps(t *testing.T) {
	p := retryPolicy{base: 30 * time.Second, max: 10 * time.Minute, jitter: func() float64 { return 0.5 }}
	for _, tt := range []struct {
		attempt int
		want    time.Duration
	}{{1, 30 * time.Second}, {2, 2 * time.Minute}, {3, 8 * time.Minute}, {4, 10 * time.Minute}, {25, 10 * time.Minute}} {
		got := time.Until(p.NextRetry(&rivertype.JobRow{Attempt: tt.attempt}))
		if got < tt.want-time.Second || got > tt.want+time.Second {
			t.Errorf("attempt %d: retry in %v, want %v", tt.attempt, got, tt.want)
		}
	}
}

// migrated returns a pool on a fresh database with River's schema applied.
func migrated(t *testing.T) *pgxpool.Pool {
	t.Helper()
	pool := pgtest.Pool(t)
	if _, err := Migrate(context.Background(), pool); err != nil {
		t.Fatal(err)
	}
	return pool
}

func TestMigrateIsIdempotentAndStatusSeesIt(t *testing.T) {
	ctx := context.Background()
	pool := pgtest.Pool(t)
	cur, avail, err := MigrationStatus(ctx, pool)
	if err != nil {
		t.Fatal(err)
	}
	if cur != 0 || avail == 0 {
		t.Fatalf("before migrate: current %d available %d", cur, avail)
	}
	for i := 0; i < 2; i++ {
		v, err := Migrate(ctx, pool)
		if err != nil {
			t.Fatalf("migrate #%d: %v", i+1, err)
		}
		if v != avail {
			t.Errorf("migrate #%d: version %d, want %d", i+1, v, avail)
		}
	}
	cur, _, err = MigrationStatus(ctx, pool)
	if err != nil || cur != avail {
		t.Fatalf("after migrate: current %d (err %v), want %d", cur, err, avail)
	}
	var n int
	if err := pool.QueryRow(ctx, "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'covsync' AND table_name = 'river_job'").Scan(&n); err != nil || n != 1 {
		t.Fatalf("covsync.river_job: %d tables (err %v)", n, err)
	}
}

// span is one run of a cycle as the test runner saw it.
type span struct {
	key        string
	start, end time.Time
	replica    string
	force      bool
	reconcile  bool
}

// recorder is an in-test Runner: it records when each cycle ran, on which replica.
type recorder struct {
	mu    sync.Mutex
	spans []span
	hold  time.Duration
	// gate, when not nil, is waited on by each cycle before it returns (or its ctx ends).
	gate chan struct{}
}

func (r *recorder) runner(replica string) Runner {
	return RunnerFunc(func(ctx context.Context, c Cycle) (any, error) {
		s := span{key: c.Project + "/" + c.Kind, start: time.Now(), replica: replica, force: c.Force, reconcile: c.Reconcile}
		var err error
		select {
		case <-time.After(r.hold):
		case <-ctx.Done():
			err = ctx.Err()
		}
		if r.gate != nil && err == nil {
			select {
			case <-r.gate:
			case <-ctx.Done():
				err = ctx.Err()
			}
		}
		s.end = time.Now()
		r.mu.Lock()
		r.spans = append(r.spans, s)
		r.mu.Unlock()
		if err != nil {
			return nil, err
		}
		return map[string]any{"key": s.key, "replica": replica}, nil
	})
}

func (r *recorder) snapshot() []span {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]span(nil), r.spans...)
}

func testOptions(entries []Entry) Options {
	return Options{Entries: entries, Work: true, TestOnly: true, FetchPollInterval: 100 * time.Millisecond,
		RetryBackoff: 100 * time.Millisecond, StopTimeout: 2 * time.Second}
}

func start(t *testing.T, pool *pgxpool.Pool, r Runner, opts Options) *Scheduler {
	t.Helper()
	s, err := New(pool, r, opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = s.Stop(ctx)
	})
	return s
}

func mustEntries(t *testing.T, spec string, ids ...string) []Entry {
	t.Helper()
	var out []Entry
	for _, id := range ids {
		p, k, _ := strings.Cut(id, "/")
		e, err := NewEntry(p, k, spec)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, e)
	}
	return out
}

func TestTwoReplicasRunEachCycleOncePerTickNeverTwiceAtOnce(t *testing.T) {
	pool := migrated(t)
	keys := []string{"shop/jira", "shop/confluence", "bank/jira", "bank/ado"}
	// Each cycle takes longer than the 1s interval, so ticks find it still running: the unique job must make
	// them skip rather than start a second copy on the other replica.
	rec := &recorder{hold: 1300 * time.Millisecond}
	start(t, pool, rec.runner("a"), testOptions(mustEntries(t, "@every 1s", keys...)))
	start(t, pool, rec.runner("b"), testOptions(mustEntries(t, "@every 1s", keys...)))
	began := time.Now()
	time.Sleep(7 * time.Second)
	// A loaded 2-core CI machine may elect the leader or fetch late: wait for two runs of every cycle rather
	// than assume 7 s bring them. The bound below grows with the wait, so it stays exact.
	waitFor(t, time.Minute, func() bool {
		n := map[string]int{}
		for _, s := range rec.snapshot() {
			n[s.key]++
		}
		for _, k := range keys {
			if n[k] < 2 {
				return false
			}
		}
		return true
	})
	elapsed := time.Since(began)

	spans := rec.snapshot()
	byKey := map[string][]span{}
	replicas := map[string]bool{}
	for _, s := range spans {
		byKey[s.key] = append(byKey[s.key], s)
		replicas[s.replica] = true
	}
	for _, k := range keys {
		ss := byKey[k]
		sort.Slice(ss, func(i, j int) bool { return ss[i].start.Before(ss[j].start) })
		if len(ss) < 2 {
			t.Errorf("%s ran %d times in %v, want at least 2", k, len(ss), elapsed)
		}
		// At most one run per tick (RunOnStart plus one per second), never more.
		if max := int(elapsed/time.Second) + 1; len(ss) > max {
			t.Errorf("%s ran %d times in %v, want at most %d (one per tick)", k, len(ss), elapsed, max)
		}
		for i := 1; i < len(ss); i++ {
			if ss[i].start.Before(ss[i-1].end) {
				t.Errorf("%s: run %d on %s started %v before run %d on %s ended", k, i, ss[i].replica,
					ss[i-1].end.Sub(ss[i].start), i-1, ss[i-1].replica)
			}
		}
	}
	t.Logf("%d cycles on replicas %v", len(spans), replicas)
}

func TestResyncWaitsForTheRunningCycleThenRunsItsOwn(t *testing.T) {
	ctx := context.Background()
	pool := migrated(t)
	rec := &recorder{gate: make(chan struct{})}
	s := start(t, pool, rec.runner("a"), testOptions(mustEntries(t, "@every 1h", "shop/jira")))

	// RunOnStart: the scheduled cycle starts and holds at the gate.
	waitFor(t, 10*time.Second, func() bool { return len(rec.snapshot()) == 0 && running(t, pool) == 1 })

	// While it runs, an API resync of the same (project, kind) is the running job, not a second one.
	enq, err := s.Enqueue(ctx, []Request{{Project: "shop", Kind: push.TargetJira, Trigger: TriggerAPI}})
	if err != nil {
		t.Fatal(err)
	}
	if len(enq) != 1 || !enq[0].Duplicate {
		t.Fatalf("enqueue during a running cycle = %+v, want the running job marked duplicate", enq)
	}

	done := make(chan []Outcome)
	go func() {
		os, err := s.Resync(ctx, []Request{{Project: "shop", Kind: push.TargetJira, Force: true}, {Project: "bank", Kind: push.TargetADO}})
		if err != nil {
			t.Error(err)
		}
		done <- os
	}()
	time.Sleep(500 * time.Millisecond)
	close(rec.gate) // release the scheduled cycle (and every later one)
	var outs []Outcome
	select {
	case outs = <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("resync did not finish")
	}
	for _, o := range outs {
		if !o.OK() {
			t.Errorf("%s/%s: state %s error %q", o.Project, o.Kind, o.State, o.Error)
		}
		var out map[string]string
		if err := json.Unmarshal(o.Output, &out); err != nil || out["key"] != o.Project+"/"+o.Kind {
			t.Errorf("%s/%s: output %s (%v)", o.Project, o.Kind, o.Output, err)
		}
	}
	var shop []span
	for _, sp := range rec.snapshot() {
		if sp.key == "shop/jira" {
			shop = append(shop, sp)
		}
	}
	if len(shop) != 2 || shop[0].force || !shop[1].force {
		t.Fatalf("shop/jira runs = %+v, want the scheduled one, then the forced resync", shop)
	}
	if shop[1].start.Before(shop[0].end) {
		t.Errorf("the resync started %v before the scheduled cycle ended", shop[0].end.Sub(shop[1].start))
	}
}

func TestStopMidCycleReturnsWithinTheDeadlineAndTheNextStartFinishesTheCycle(t *testing.T) {
	pool := migrated(t)
	rec := &recorder{hold: time.Hour}
	opts := testOptions(mustEntries(t, "@every 1h", "shop/confluence"))
	opts.StopTimeout = 500 * time.Millisecond
	s, err := New(pool, rec.runner("first"), opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, func() bool { return running(t, pool) == 1 })

	began := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(began); d > 3*time.Second {
		t.Errorf("stop took %v with a 500ms deadline", d)
	}
	// Cancelled at the deadline by the shutdown, the cycle goes back to available for the next replica
	// (River does not count a shutdown as a failed attempt).
	var state string
	if err := pool.QueryRow(ctx, "SELECT state FROM covsync.river_job").Scan(&state); err != nil {
		t.Fatal(err)
	}
	if state != "available" {
		t.Fatalf("the interrupted cycle is %q, want available", state)
	}

	// The next start (its periodic entry is an hour away) picks the interrupted cycle up again.
	rec2 := &recorder{}
	opts.Entries = mustEntries(t, "@every 1h", "shop/confluence")
	start(t, pool, rec2.runner("second"), opts)
	waitFor(t, 15*time.Second, func() bool { return len(rec2.snapshot()) >= 1 })
	waitFor(t, 5*time.Second, func() bool { return count(t, pool, "running") == 0 })
	if n := len(rec2.snapshot()); n != 1 {
		t.Errorf("after restart shop/confluence ran %d times, want once (the retry and the start-up tick are one job)", n)
	}
}

func TestPermanentErrorCancelsAndPlainErrorRetriesWithinTheCap(t *testing.T) {
	ctx := context.Background()
	pool := migrated(t)
	var mu sync.Mutex
	calls := map[string]int{}
	r := RunnerFunc(func(ctx context.Context, c Cycle) (any, error) {
		mu.Lock()
		calls[c.Project]++
		mu.Unlock()
		if c.Project == "gone" {
			return nil, Permanent(errors.New("project gone is not configured"))
		}
		return nil, fmt.Errorf("database unreachable")
	})
	opts := testOptions(nil)
	opts.RetryBackoff, opts.RetryBackoffMax = 50*time.Millisecond, 50*time.Millisecond
	s := start(t, pool, r, opts)
	outs, err := s.Resync(ctx, []Request{{Project: "gone", Kind: push.TargetADO}, {Project: "down", Kind: push.TargetADO}})
	if err != nil {
		t.Fatal(err)
	}
	if outs[0].State != "cancelled" || !strings.Contains(outs[0].Error, "not configured") {
		t.Errorf("permanent: %+v", outs[0])
	}
	// A resync is someone waiting: one attempt, then its error, no retries behind their back.
	if outs[1].State != "discarded" || !strings.Contains(outs[1].Error, "database unreachable") {
		t.Errorf("resync failure: %+v", outs[1])
	}

	// A scheduled cycle gets MaxAttempts (3) and no more.
	e := mustEntries(t, "@every 1h", "down/jira")
	if err := s.SetEntries(e); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, func() bool { return count(t, pool, "discarded") == 2 })
	mu.Lock()
	defer mu.Unlock()
	if calls["down"] != 1+3 {
		t.Errorf("down ran %d times, want 1 (resync) + 3 (scheduled, capped)", calls["down"])
	}
}

func running(t *testing.T, pool *pgxpool.Pool) int { return count(t, pool, "running") }

func count(t *testing.T, pool *pgxpool.Pool, state string) int {
	t.Helper()
	var n int
	if err := pool.QueryRow(context.Background(), "SELECT count(*) FROM covsync.river_job WHERE state = $1", state).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func waitFor(t *testing.T, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %v", d)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestRequests(t *testing.T) {
	c := &config.Config{Jira: acme, Projects: []config.Project{
		{ID: "shop", Jira: &config.ProjectJira{Target: "acme", LinkedRuns: true}, Confluence: &config.ProjectConfluence{}},
		{ID: "bank", ADO: &config.ProjectADO{}},
	}}
	tests := []struct {
		name            string
		projects, kinds []string
		want, wantErr   string
	}{
		{name: "no scope is every project and every kind it maps", want: "shop/jira shop/linked-runs shop/confluence bank/ado"},
		{name: "a project scope keeps its kinds", projects: []string{"bank"}, want: "bank/ado"},
		{name: "a kind scope skips projects without it", kinds: []string{"confluence", "ado"}, want: "shop/confluence bank/ado"},
		{name: "an unknown project is named", projects: []string{"shop", "bnak"}, wantErr: `project "bnak": not configured`},
		{name: "an unknown kind is named", kinds: []string{"jria"}, wantErr: `target kind "jria"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rs, err := Requests(c, tt.projects, tt.kinds, true, TriggerAPI)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, r := range rs {
				if !r.Force || r.Trigger != TriggerAPI {
					t.Errorf("%+v lost force or trigger", r)
				}
				got = append(got, r.Project+"/"+r.Kind)
			}
			if strings.Join(got, " ") != tt.want {
				t.Errorf("got %v, want %s", got, tt.want)
			}
		})
	}
}

func TestShutdownWaitsForTheCyclesItCancelledToBeRecorded(t *testing.T) {
	pool := migrated(t)
	opts := testOptions(mustEntries(t, "@every 1h", "shop/ado"))
	opts.StopTimeout = 300 * time.Millisecond
	running1 := make(chan struct{})
	// A cycle that takes a moment to give up once cancelled, as one finishing its current HTTP request does.
	slow := RunnerFunc(func(ctx context.Context, _ Cycle) (any, error) {
		close(running1)
		<-ctx.Done()
		time.Sleep(time.Second)
		return nil, ctx.Err()
	})
	s, err := New(pool, slow, opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	select {
	case <-running1:
	case <-time.After(30 * time.Second):
		t.Fatal("the cycle never started")
	}
	// An interrupted caller (Ctrl-C): its context is already cancelled.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	// Left "running", the job would hold shop/ado's uniqueness until River's rescuer, long after this process
	// is gone.
	if n := running(t, pool); n != 0 {
		t.Errorf("%d cycle jobs still running after Shutdown returned", n)
	}
}

func TestAReconcileTickOnARunningCycleWaitsAndRunsTheReconcileAfterIt(t *testing.T) {
	ctx := context.Background()
	pool := migrated(t)
	rec := &recorder{gate: make(chan struct{})}
	s := start(t, pool, rec.runner("a"), testOptions(mustEntries(t, "@every 1h", "shop/jira")))
	waitFor(t, 10*time.Second, func() bool { return running(t, pool) == 1 }) // RunOnStart, held at the gate

	// The tick a periodic reconcile entry inserts, falling on the running ordinary cycle.
	if _, err := s.client.Insert(ctx, reconcileTickArgs{Project: "shop", Target: push.TargetJira}, s.tickOpts()); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	if n := len(rec.snapshot()); n != 0 {
		t.Fatalf("%d cycles ended while the first was held", n)
	}
	close(rec.gate)
	waitFor(t, 20*time.Second, func() bool { return len(rec.snapshot()) == 2 })
	spans := rec.snapshot()
	if spans[0].reconcile || !spans[1].reconcile || spans[1].start.Before(spans[0].end) {
		t.Fatalf("runs = %+v, want the ordinary cycle, then the reconcile after it (not lost as a duplicate)", spans)
	}

	// A reconcile entry is a periodic job of its own beside the (project, kind)'s ordinary one.
	es := mustEntries(t, "@every 1h", "shop/ado")
	es[0].Reconcile = true
	if es[0].ID() != "shop/ado/reconcile" {
		t.Fatalf("reconcile entry id %q", es[0].ID())
	}
}
