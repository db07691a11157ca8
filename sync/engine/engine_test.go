package engine_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/sirupsen/logrus"
	logtest "github.com/sirupsen/logrus/hooks/test"
	"golang.org/x/time/rate"

	"github.com/covsync/covsync/internal/pgtest"
	"github.com/covsync/covsync/sync/engine"
	"github.com/covsync/covsync/sync/engine/enginetest"
	"github.com/covsync/covsync/sync/ledger"
	"github.com/covsync/covsync/sync/ledger/ledgertest"
	"github.com/covsync/covsync/sync/push"
	"github.com/covsync/covsync/sync/report"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

const tname = "jira:acme/SHOP"

type fixture struct {
	pool *pgxpool.Pool
	l    *ledger.Ledger
	e    *engine.Engine
	t    *enginetest.Target
	log  *logtest.Hook
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	pool := ledgertest.Pool(t)
	logger, hook := logtest.NewNullLogger()
	logger.SetLevel(logrus.DebugLevel)
	l := ledger.New(pool, "")
	return &fixture{pool: pool, l: l, e: engine.New(l, logger, nil), t: enginetest.NewTarget(tname, "jira"), log: hook}
}

func (f *fixture) takePushes() []string { return f.t.TakePushes() }

// acked returns the keys the ledger holds as acknowledged, with their hashes.
func (f *fixture) acked(t testing.TB) map[string][32]byte {
	t.Helper()
	m, err := f.l.Load(context.Background(), tname)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][32]byte{}
	for k, st := range m {
		if st.Acked {
			out[k] = st.Hash
		}
	}
	return out
}

func (f *fixture) rows(t testing.TB) (ledgerRows, cycleRows int) {
	t.Helper()
	ctx := context.Background()
	if err := f.pool.QueryRow(ctx, "SELECT count(*) FROM covsync.ledger").Scan(&ledgerRows); err != nil {
		t.Fatal(err)
	}
	if err := f.pool.QueryRow(ctx, "SELECT count(*) FROM covsync.cycles").Scan(&cycleRows); err != nil {
		t.Fatal(err)
	}
	return ledgerRows, cycleRows
}

func keys(from, to int) []string {
	var out []string
	for i := from; i <= to; i++ {
		out = append(out, fmt.Sprintf("SHOP-%d", i))
	}
	slices.Sort(out)
	return out
}

func mustRun(t testing.TB, f *fixture, ctx context.Context, p *report.Project, opts engine.Options) engine.Summary {
	t.Helper()
	s, err := f.e.Run(ctx, f.t, p, opts)
	if err != nil {
		t.Fatalf("cycle: %v", err)
	}
	return s
}

func TestASecondUnchangedCycleWritesNothing(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	p := enginetest.Project(50)
	first := mustRun(t, f, ctx, p, engine.Options{})
	if first.Pushed != 50 || first.Unchanged != 0 || len(f.takePushes()) != 50 {
		t.Fatalf("first cycle: %+v, want 50 pushed", first)
	}
	second := mustRun(t, f, ctx, p, engine.Options{})
	if got := f.takePushes(); len(got) != 0 {
		t.Fatalf("unchanged cycle pushed %v", got)
	}
	if second.Planned != 50 || second.Unchanged != 50 || second.Pushed != 0 || second.Failed != 0 {
		t.Errorf("unchanged cycle summary = %+v, want 50 planned, 50 unchanged", second)
	}
}

func TestOneChangedStoryIsTheOnlyPush(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	p := enginetest.Project(30)
	mustRun(t, f, ctx, p, engine.Options{})
	f.takePushes()
	f.log.Reset()

	s := mustRun(t, f, ctx, enginetest.WithCoverage(p, "SHOP-7", 157), engine.Options{})
	if got := f.takePushes(); !reflect.DeepEqual(got, []string{"SHOP-7"}) {
		t.Fatalf("pushes after one story changed = %v, want [SHOP-7]", got)
	}
	if s.Pushed != 1 || s.Unchanged != 29 {
		t.Errorf("summary = %+v, want 1 pushed, 29 unchanged", s)
	}
	// One log line answers "what did it push and why".
	want := "pushed SHOP-7 to jira:acme/SHOP: hash changed (coverage 78.5%)"
	var found bool
	for _, e := range f.log.AllEntries() {
		if e.Message == want && e.Data["item"] == "SHOP-7" && e.Data["target"] == tname && e.Data["outcome"] == engine.OutcomePushed {
			found = true
		}
	}
	if !found {
		t.Errorf("no log line %q with target/item/outcome fields; got %v", want, messages(f.log))
	}
}

func messages(h *logtest.Hook) []string {
	var out []string
	for _, e := range h.AllEntries() {
		out = append(out, e.Message)
	}
	return out
}

func TestACancelledCycleLeavesExactlyTheRestForTheNext(t *testing.T) {
	for _, workers := range []int{1, 4} {
		t.Run(fmt.Sprintf("%d workers", workers), func(t *testing.T) {
			f := newFixture(t)
			p := enginetest.Project(40)
			ctx, cancel := context.WithCancel(context.Background())
			var n atomic.Int32
			f.t.After = func(push.Item) {
				if n.Add(1) == 10 {
					cancel() // the process is told to stop while pushes are in flight
				}
			}
			s, err := f.e.Run(ctx, f.t, p, engine.Options{Workers: workers})
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("cancelled cycle returned %v, want context.Canceled", err)
			}
			first := f.takePushes()
			if len(first) < 10 || len(first) >= 40 {
				t.Fatalf("cancelled cycle pushed %d items, want at least 10 and not all", len(first))
			}
			// The ledger is true: exactly what the target acknowledged, with the hashes it holds.
			if got, want := f.acked(t), f.t.Stored(); !reflect.DeepEqual(got, want) {
				t.Fatalf("ledger after the cancelled cycle holds %d items, the target %d", len(got), len(want))
			}
			if s.Pushed != len(first) || s.Pushed+s.Remaining != 40 {
				t.Errorf("summary = %+v, want pushed %d and the rest remaining", s, len(first))
			}

			f.t.After = nil
			s2 := mustRun(t, f, context.Background(), p, engine.Options{Workers: workers})
			second := f.takePushes()
			if len(first)+len(second) != 40 || s2.Unchanged != len(first) {
				t.Fatalf("second cycle pushed %d after %d, want exactly the remaining %d", len(second), len(first), 40-len(first))
			}
			if all := slices.Sorted(slices.Values(append(first, second...))); !reflect.DeepEqual(all, keys(1, 40)) {
				t.Errorf("the two cycles together pushed %v, want every item once", all)
			}
		})
	}
}

func TestADrainLetsInFlightPushesFinishAfterCancellation(t *testing.T) {
	f := newFixture(t)
	p := enginetest.Project(8)
	ctx, cancel := context.WithCancel(context.Background())
	var started atomic.Int32
	release := make(chan struct{})
	f.t.Before = func(pctx context.Context, it push.Item) *enginetest.Verdict {
		if started.Add(1) == 2 {
			cancel()
			close(release)
		}
		<-release
		// The push context outlives the cycle's by Drain.
		if pctx.Err() != nil {
			return &enginetest.Verdict{Err: pctx.Err()}
		}
		return nil
	}
	s, err := f.e.Run(ctx, f.t, p, engine.Options{Workers: 2, Drain: time.Minute})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if got := f.takePushes(); len(got) != 2 || s.Pushed != 2 || s.Remaining != 6 {
		t.Fatalf("pushed %v, summary %+v; want the 2 in-flight pushes finished and 6 left", got, s)
	}
	if len(f.acked(t)) != 2 {
		t.Errorf("ledger holds %d acknowledged items, want the 2 that finished", len(f.acked(t)))
	}
}

func TestOneFailingItemDoesNotStopTheOthers(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		kind string
	}{
		{"a permanent failure", push.Permanentf("jira: issue SHOP-7: 400 field %q not on screen", "Test Status"), "permanent"},
		{"a retryable failure", push.Retryable(errors.New("jira: issue SHOP-7: 503 after 4 attempts")), "retryable"},
		{"an unclassified failure counts as retryable", errors.New("jira: issue SHOP-7: unexpected EOF"), "retryable"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			ctx := context.Background()
			p := enginetest.Project(20)
			f.t.Before = enginetest.On(map[string]*enginetest.Verdict{"SHOP-7": {Err: tc.err}})
			var obs recorder
			s := mustRun(t, f, ctx, p, engine.Options{Observer: &obs})
			if s.Pushed != 19 || s.Failed != 1 || len(f.takePushes()) != 19 {
				t.Fatalf("summary = %+v, want 19 pushed and 1 failed", s)
			}
			wantErr := []engine.ItemError{{Item: "SHOP-7", Error: tc.err.Error(), Kind: tc.kind}}
			if !reflect.DeepEqual(s.Errors, wantErr) {
				t.Errorf("errors = %+v, want %+v", s.Errors, wantErr)
			}
			fails, err := f.l.Failing(ctx, 0)
			if err != nil {
				t.Fatal(err)
			}
			if len(fails) != 1 || fails[0].Item != "SHOP-7" || fails[0].Error != tc.err.Error() || fails[0].Attempts != 1 {
				t.Errorf("ledger failing items = %+v, want SHOP-7 with its error", fails)
			}
			if _, ok := f.acked(t)["SHOP-7"]; ok {
				t.Errorf("the failed item is recorded as pushed")
			}
			if got := obs.outcomes(); got[engine.OutcomeFailed] != 1 || got[engine.OutcomePushed] != 19 || obs.cycles != 1 {
				t.Errorf("observer saw %v and %d cycles, want 19 pushed, 1 failed, 1 cycle", got, obs.cycles)
			}

			// Fixed at the target: the next cycle retries exactly the failed item.
			f.t.Before = nil
			s2 := mustRun(t, f, ctx, p, engine.Options{})
			if got := f.takePushes(); !reflect.DeepEqual(got, []string{"SHOP-7"}) || s2.Failed != 0 {
				t.Fatalf("retry cycle pushed %v (%+v), want [SHOP-7]", got, s2)
			}
			if fails, _ := f.l.Failing(ctx, 0); len(fails) != 0 {
				t.Errorf("still failing after the retry succeeded: %+v", fails)
			}
		})
	}
}

func TestAFatalErrorStopsTheCycleAndLeavesUntouchedItemsAlone(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	p := enginetest.Project(10)
	// Plan order is SHOP-1, SHOP-2, …: with one worker, SHOP-4 is the fourth push.
	f.t.Before = enginetest.On(map[string]*enginetest.Verdict{"SHOP-4": {Err: push.Fatalf("jira: 401 Unauthorized")}})
	s, err := f.e.Run(ctx, f.t, p, engine.Options{Workers: 1})
	if err == nil || !strings.Contains(err.Error(), "401 Unauthorized") {
		t.Fatalf("err = %v, want the fatal error", err)
	}
	if got := f.takePushes(); !reflect.DeepEqual(got, keys(1, 3)) {
		t.Errorf("pushed %v, want only the items before the fatal one", got)
	}
	if s.Pushed != 3 || s.Remaining != 7 || s.Failed != 0 || !strings.Contains(s.CycleError, "401") {
		t.Errorf("summary = %+v, want 3 pushed, 7 remaining and the cycle error", s)
	}
	m, _ := f.l.Load(ctx, tname)
	if len(m) != 3 {
		t.Errorf("ledger has %d rows, want only the 3 pushed (untouched and the fatal item not recorded)", len(m))
	}
	if attempted := f.t.Attempted(); attempted != 4 {
		t.Errorf("%d items attempted, want 4: no push after the fatal one", attempted)
	}
	cs, _ := f.l.Cycles(ctx, tname, 1)
	if len(cs) != 1 || !strings.Contains(cs[0].Error, "401 Unauthorized") || cs[0].Pushed != 3 {
		t.Errorf("cycle row = %+v, want the fatal error and 3 pushed", cs)
	}
}

func TestADryRunWritesNothingAndListsWhatItWouldPush(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	p := enginetest.Project(12)
	mustRun(t, f, ctx, p, engine.Options{})
	f.takePushes()
	changed := enginetest.WithCoverage(enginetest.WithCoverage(p, "SHOP-3", 1), "SHOP-11", 2)
	ledgerBefore, cyclesBefore := f.rows(t)
	var obs recorder

	s := mustRun(t, f, ctx, changed, engine.Options{DryRun: true, Observer: &obs})
	if got := f.takePushes(); len(got) != 0 {
		t.Fatalf("dry run pushed %v", got)
	}
	if l, c := f.rows(t); l != ledgerBefore || c != cyclesBefore {
		t.Errorf("dry run wrote: ledger rows %d → %d, cycle rows %d → %d", ledgerBefore, l, cyclesBefore, c)
	}
	want := []engine.Change{
		{Key: "SHOP-11", Summary: "coverage 1.0%", Reason: "hash changed"},
		{Key: "SHOP-3", Summary: "coverage 0.5%", Reason: "hash changed"},
	}
	got := slices.Clone(s.WouldPush)
	slices.SortFunc(got, func(a, b engine.Change) int { return strings.Compare(a.Key, b.Key) })
	if !reflect.DeepEqual(got, want) || s.Unchanged != 10 || !s.DryRun || s.Pushed != 0 {
		t.Errorf("dry run summary = %+v, want %+v and 10 unchanged", s, want)
	}
	if obs.cycles != 0 || len(obs.items) != 0 {
		t.Errorf("a dry run was observed (%d cycles, %d items); it must not move metrics", obs.cycles, len(obs.items))
	}
}

func TestForcePushesEverything(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	p := enginetest.Project(15)
	mustRun(t, f, ctx, p, engine.Options{})
	f.takePushes()
	s := mustRun(t, f, ctx, p, engine.Options{Force: true})
	if got := f.takePushes(); !reflect.DeepEqual(got, keys(1, 15)) || s.Pushed != 15 || s.Unchanged != 0 {
		t.Errorf("forced cycle pushed %d (%+v), want all 15", len(got), s)
	}
}

func TestConcurrencyIsBoundedByWorkers(t *testing.T) {
	const workers = 3
	f := newFixture(t)
	// Each push waits until `workers` pushes are in flight (or a while passes), so the pool is driven to its
	// bound, and any push beyond the bound would show in maxInFlight.
	var (
		mu      sync.Mutex
		waiting int
		full    = make(chan struct{})
	)
	f.t.Before = func(_ context.Context, _ push.Item) *enginetest.Verdict {
		mu.Lock()
		waiting++
		if waiting == workers {
			close(full)
		}
		mu.Unlock()
		select {
		case <-full:
		case <-time.After(5 * time.Second):
		}
		return nil
	}
	s := mustRun(t, f, context.Background(), enginetest.Project(30), engine.Options{Workers: workers})
	if s.Pushed != 30 {
		t.Fatalf("summary = %+v, want 30 pushed", s)
	}
	if f.t.MaxInFlight() != workers {
		t.Errorf("at most %d pushes were in flight, want exactly %d", f.t.MaxInFlight(), workers)
	}
}

func TestASkippedItemIsNotRecordedAsPushed(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	p := enginetest.Project(3)
	f.t.Before = enginetest.On(map[string]*enginetest.Verdict{"SHOP-2": {Result: push.Result{Skipped: true, Note: "manual edit by j.doe at version 7: skipped"}}})
	s := mustRun(t, f, ctx, p, engine.Options{})
	if s.Skipped != 1 || s.Pushed != 2 {
		t.Fatalf("summary = %+v, want 1 skipped, 2 pushed", s)
	}
	if _, ok := f.acked(t)["SHOP-2"]; ok {
		t.Fatal("a skipped item is recorded as pushed")
	}
	f.t.TakePushes()
	f.t.Before = nil
	mustRun(t, f, ctx, p, engine.Options{})
	if got := f.takePushes(); !reflect.DeepEqual(got, []string{"SHOP-2"}) {
		t.Errorf("next cycle pushed %v, want the skipped item looked at again", got)
	}
}

func TestEachCycleWritesOneHistoryRowWithItsCounts(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	p := enginetest.Project(6)
	f.t.Before = enginetest.On(map[string]*enginetest.Verdict{
		"SHOP-1": {Err: push.Permanentf("400")},
		"SHOP-2": {Result: push.Result{Skipped: true}},
	})
	mustRun(t, f, ctx, p, engine.Options{Trigger: ledger.TriggerResync})
	f.t.Before = nil
	mustRun(t, f, ctx, enginetest.WithCoverage(p, "SHOP-6", 3), engine.Options{})
	cs, err := f.l.Cycles(ctx, tname, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) != 2 {
		t.Fatalf("%d cycle rows, want 2", len(cs))
	}
	want := []ledger.Counts{
		{Planned: 6, Pushed: 3, Unchanged: 3}, // SHOP-1 retried, SHOP-2 looked at again, SHOP-6 changed
		{Planned: 6, Pushed: 4, Failed: 1, Skipped: 1},
	}
	for i, c := range cs {
		if c.Counts != want[i] || c.FinishedAt == nil || c.Error != "" || c.Kind != "jira" || c.Project != "shop" {
			t.Errorf("cycle %d = %+v, want counts %+v, finished, no error", i, c, want[i])
		}
	}
	if cs[1].Trigger != "resync" || cs[0].Trigger != "schedule" {
		t.Errorf("triggers = %q, %q; want resync then schedule", cs[1].Trigger, cs[0].Trigger)
	}
}

func TestABrokenPlanFailsTheCycleAndPushesNothing(t *testing.T) {
	for _, tc := range []struct {
		name string
		p    *report.Project
		want string
	}{
		{"two items with one key", enginetest.WithKey(enginetest.Project(3), 2, "SHOP-1"), `plan has item "SHOP-1" twice`},
		{"an item without a key", enginetest.WithKey(enginetest.Project(3), 1, ""), "an item without a key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			_, err := f.e.Run(context.Background(), f.t, tc.p, engine.Options{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
			if got := f.takePushes(); len(got) != 0 {
				t.Errorf("pushed %v from a broken plan", got)
			}
			cs, _ := f.l.Cycles(context.Background(), tname, 0)
			if len(cs) != 1 || !strings.Contains(cs[0].Error, tc.want) {
				t.Errorf("cycle rows = %+v, want one carrying the plan error", cs)
			}
		})
	}
}

func TestALimiterPacesPushes(t *testing.T) {
	f := newFixture(t)
	// A limiter that admits its burst of 2 and then nothing for an hour: the third push waits until the
	// cycle is cancelled, so exactly 2 items are pushed.
	lim := rate.NewLimiter(rate.Every(time.Hour), 2)
	ctx, cancel := context.WithCancel(context.Background())
	var n atomic.Int32
	f.t.After = func(push.Item) {
		if n.Add(1) == 2 {
			go func() { time.Sleep(50 * time.Millisecond); cancel() }()
		}
	}
	s, _ := f.e.Run(ctx, f.t, enginetest.Project(5), engine.Options{Workers: 2, Limiter: lim})
	if got := f.takePushes(); len(got) != 2 || s.Remaining != 3 {
		t.Errorf("pushed %v, summary %+v; want the limiter's burst of 2 and 3 left", got, s)
	}
}

func TestALedgerThatFailsMidCycleStopsTheCycle(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	p := enginetest.Project(10)
	f.t.After = func(it push.Item) {
		if it.Key == "SHOP-4" {
			// The database loses the table under the running cycle: no later outcome can be recorded.
			if _, err := f.pool.Exec(ctx, "ALTER TABLE covsync.ledger RENAME TO ledger_away"); err != nil {
				t.Error(err)
			}
		}
	}
	s, err := f.e.Run(ctx, f.t, p, engine.Options{Workers: 1})
	if err == nil || s.Pushed != 3 || s.Remaining != 7 {
		t.Fatalf("err = %v, summary %+v; want a cycle error with 3 recorded and the rest remaining", err, s)
	}
	if _, err := f.pool.Exec(ctx, "ALTER TABLE covsync.ledger_away RENAME TO ledger"); err != nil {
		t.Fatal(err)
	}
	f.takePushes()
	f.t.After = nil
	mustRun(t, f, ctx, p, engine.Options{Workers: 1})
	// SHOP-4 was written but never recorded, so it is pushed again (idempotently): the safe side.
	if got := f.takePushes(); !reflect.DeepEqual(got, keys(4, 10)) {
		t.Errorf("next cycle pushed %v, want SHOP-4…SHOP-10", got)
	}
}

// recorder is an Observer that keeps what it is told.
type recorder struct {
	mu        sync.Mutex
	items     []engine.ItemEvent
	plans     []engine.PlanEvent
	cycles    int
	remaining int // the cycles' Summary.Remaining, summed
}

func (r *recorder) CyclePlanned(e engine.PlanEvent) {
	r.mu.Lock()
	r.plans = append(r.plans, e)
	r.mu.Unlock()
}
func (r *recorder) ItemDone(e engine.ItemEvent) {
	r.mu.Lock()
	r.items = append(r.items, e)
	r.mu.Unlock()
}
func (r *recorder) CycleDone(s engine.Summary) {
	r.mu.Lock()
	r.cycles++
	r.remaining += s.Remaining
	r.mu.Unlock()
}

func (r *recorder) outcomes() map[engine.Outcome]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[engine.Outcome]int{}
	for _, e := range r.items {
		out[e.Outcome]++
	}
	return out
}

func TestItemsThePlanDroppedAreCountedStaleAndLeftAlone(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	mustRun(t, f, ctx, enginetest.Project(5), engine.Options{})
	f.takePushes()
	var obs recorder
	s := mustRun(t, f, ctx, enginetest.Project(3), engine.Options{Observer: &obs})
	if s.Stale != 2 || s.Unchanged != 3 || s.Pushed != 0 {
		t.Errorf("summary = %+v, want 2 stale, 3 unchanged", s)
	}
	if got := f.acked(t); len(got) != 5 {
		t.Errorf("ledger holds %d items, want all 5: stale items are not forgotten", len(got))
	}
	if got := f.t.Stored(); len(got) != 5 {
		t.Errorf("target holds %d items, want all 5: nothing is deleted at the target", len(got))
	}
	want := []engine.PlanEvent{{Target: tname, Kind: "jira", Project: "shop", Planned: 3, ToPush: 0}}
	if !reflect.DeepEqual(obs.plans, want) || obs.cycles != 1 {
		t.Errorf("observer saw plans %+v and %d cycles, want %+v and 1", obs.plans, obs.cycles, want)
	}
}

// deadlineLedger records how far off the deadlines of the cycle's first reads were.
type deadlineLedger struct {
	engine.Ledger
	start, load time.Duration
}

func deadlineOf(ctx context.Context) time.Duration {
	if dl, ok := ctx.Deadline(); ok {
		return time.Until(dl)
	}
	return 0
}

func (d *deadlineLedger) StartCycle(ctx context.Context, target, kind, project, trigger string, reconcile bool) (int64, error) {
	d.start = deadlineOf(ctx)
	return d.Ledger.StartCycle(ctx, target, kind, project, trigger, reconcile)
}

func (d *deadlineLedger) Load(ctx context.Context, target string) (map[string]ledger.State, error) {
	d.load = deadlineOf(ctx)
	return d.Ledger.Load(ctx, target)
}

func TestTheLedgerReadsOfACycleHaveADeadline(t *testing.T) {
	f := newFixture(t)
	dl := &deadlineLedger{Ledger: f.l}
	// The cycle's own context has no deadline: a database that stops answering must still not hang it.
	if _, err := engine.New(dl, nil, nil).Run(context.Background(), f.t, enginetest.Project(3), engine.Options{}); err != nil {
		t.Fatal(err)
	}
	for what, d := range map[string]time.Duration{"StartCycle": dl.start, "Load": dl.load} {
		if d <= 0 || d > 2*time.Minute {
			t.Errorf("%s ran with deadline %v from now, want one within 2 minutes", what, d)
		}
	}
}

func TestAnItemStoppedByAFatalErrorIsCountedOnceByTheObserver(t *testing.T) {
	f := newFixture(t)
	// Every push fails fatally, so the in-flight pushes of all workers hit it at once.
	f.t.Before = func(context.Context, push.Item) *enginetest.Verdict {
		return &enginetest.Verdict{Err: push.Fatalf("jira: 401 Unauthorized")}
	}
	var obs recorder
	s, err := f.e.Run(context.Background(), f.t, enginetest.Project(10), engine.Options{Workers: 3, Observer: &obs})
	if push.KindOf(err) != push.KindFatal {
		t.Fatalf("err = %v, want the fatal error", err)
	}
	// A progress bar adds ItemDone events and takes Remaining off the total: an item in both counts twice.
	if len(obs.items)+obs.remaining != obs.plans[0].ToPush || s.Remaining != 10 {
		t.Errorf("observer saw %d items done and %d remaining (summary: %d remaining), want them to add up to the %d to push",
			len(obs.items), obs.remaining, s.Remaining, obs.plans[0].ToPush)
	}
}
