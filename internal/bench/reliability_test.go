package bench

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/covsync/covsync/connectors/confluence/confluencesim"
	"github.com/covsync/covsync/internal/benchload"
	"github.com/covsync/covsync/sync/ledger"
	"github.com/covsync/covsync/sync/push"
)

// The reliability suite (docs/reliability.md). Each scenario injects a fault through the simulators' own
// fault injection, runs real cycles, recovers as the schedule would (more cycles), and ends with the
// target state equal to the desired state, the ledger true, and no credential in the debug log.

func TestReliabilityA429StormSlowsCovsyncDownAndEveryItemLands(t *testing.T) {
	// covsync believes it may send 1000 requests/s; every site allows 8 with a one-second burst.
	s := newScenario(t, false, func(f *Options) { f.SiteRate, f.Workers = 8, 8 })
	sums, err := s.run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	tooMany := s.env.jira.CountStatus(http.StatusTooManyRequests)
	for _, r := range s.env.ado.Requests() {
		if r.Status == http.StatusTooManyRequests {
			tooMany++
		}
	}
	if tooMany == 0 {
		t.Fatal("no 429 was answered: the storm did not happen")
	}
	t.Logf("%d 429s; first cycle: %d failed", tooMany, failed(sums))
	s.recover()
	s.verify()
	s.checkNoSecretLogged()
}

func TestReliabilityA5xxBurstAtEverySiteIsRetriedOrRetriedNextCycle(t *testing.T) {
	s := newScenario(t, false, nil)
	s.env.jira.FailNext(6, http.StatusServiceUnavailable)
	s.env.confluence.FailNext(3, http.StatusBadGateway)
	s.env.ado.FailNext(http.StatusServiceUnavailable, http.StatusInternalServerError, http.StatusServiceUnavailable)
	if _, err := s.run(context.Background()); err != nil {
		t.Logf("first cycle: %v", err) // a 5xx on a target's first call may fail its cycle: the next one recovers
	}
	if s.env.jira.CountStatus(http.StatusServiceUnavailable) != 6 {
		t.Fatalf("jira answered %d 503s, want the 6 injected", s.env.jira.CountStatus(http.StatusServiceUnavailable))
	}
	s.recover()
	s.verify()
	s.checkAckedWereWritten()
	s.checkNoSecretLogged()
}

func TestReliabilityDroppedConnectionsAreRetried(t *testing.T) {
	s := newScenario(t, false, nil)
	s.env.jira.DropNext(5)
	if _, err := s.run(context.Background(), push.TargetJira, push.TargetLinkedRuns); err != nil {
		t.Logf("first cycle: %v", err)
	}
	dropped := 0
	for _, r := range s.env.jira.Requests() {
		if r.Status == 0 {
			dropped++
		}
	}
	if dropped != 5 {
		t.Fatalf("%d connections dropped, want the 5 injected", dropped)
	}
	s.recover(push.TargetJira, push.TargetLinkedRuns)
	s.verify(push.TargetJira, push.TargetLinkedRuns)
	s.checkNoSecretLogged()
}

func TestReliabilityResponsesSlowerThanTheTimeoutAreAbandonedAndRetried(t *testing.T) {
	s := newScenario(t, false, func(f *Options) { f.Timeout = 150 * time.Millisecond })
	for _, sim := range []interface{ SetLatency(time.Duration) }{s.env.jira, s.env.ado, s.env.confluence} {
		sim.SetLatency(400 * time.Millisecond)
	}
	// The sites recover while the first attempts are timing out.
	go func() {
		time.Sleep(500 * time.Millisecond)
		for _, sim := range []interface{ SetLatency(time.Duration) }{s.env.jira, s.env.ado, s.env.confluence} {
			sim.SetLatency(0)
		}
	}()
	if _, err := s.run(context.Background()); err != nil {
		t.Logf("first cycle: %v", err)
	}
	if n := len(s.env.jira.Requests()); n <= s.env.workload.Stories+1 {
		t.Fatalf("jira saw %d requests for %d items: nothing timed out and was retried", n, s.env.workload.Stories)
	}
	s.recover()
	s.verify()
	s.checkAckedWereWritten()
}

func TestReliabilityPostgreSQLRestartedMidCycle(t *testing.T) {
	s := newScenario(t, true, func(f *Options) { f.Workers = 2 })
	s.env.jira.SetLatency(60 * time.Millisecond)
	s.env.ado.SetLatency(60 * time.Millisecond)
	restarted := make(chan error, 1)
	go func() {
		time.Sleep(250 * time.Millisecond)
		restarted <- s.env.pg.Restart(context.Background(), 500*time.Millisecond)
	}()
	sums, err := s.run(context.Background(), push.TargetJira, push.TargetADO)
	if rerr := <-restarted; rerr != nil {
		t.Fatalf("restart: %v", rerr)
	}
	t.Logf("cycle across the restart: err %v; %d failed", err, failed(sums))
	s.env.jira.SetLatency(0)
	s.env.ado.SetLatency(0)
	s.checkAckedWereWritten()
	s.recover(push.TargetJira, push.TargetADO)
	s.verify(push.TargetJira, push.TargetADO)
}

func TestReliabilityACancelledCycleLeavesATrueLedgerAndTheNextOneFinishes(t *testing.T) {
	// SIGTERM in serve and Ctrl-C in resync both cancel the cycle's context.
	s := newScenario(t, false, func(f *Options) { f.Workers = 2 })
	s.env.jira.SetLatency(50 * time.Millisecond)
	s.env.ado.SetLatency(50 * time.Millisecond)
	ctx, cancel := context.WithCancel(context.Background())
	go func() { // cancel once both targets are a few pushes in
		for s.env.jira.Count("PUT", "/rest/api/2/issue/") < 3 || adoDocumentWrites(s) < 3 {
			time.Sleep(5 * time.Millisecond)
		}
		cancel()
	}()
	sums, err := s.run(ctx, push.TargetJira, push.TargetADO)
	if err == nil {
		t.Fatal("the cancelled cycle reported success")
	}
	for _, x := range sums {
		if x.Pushed == 0 || x.Pushed >= x.Planned {
			t.Errorf("%s: pushed %d of %d before the cancel; want some, not all", x.Target, x.Pushed, x.Planned)
		}
	}
	s.checkAckedWereWritten()
	s.env.jira.SetLatency(0)
	s.env.ado.SetLatency(0)
	s.recover(push.TargetJira, push.TargetADO)
	s.verify(push.TargetJira, push.TargetADO)
}

func TestReliabilityAPersonEditsThePageBetweenCovsyncsReadAndWrite(t *testing.T) {
	s := newScenario(t, false, nil)
	s.recover(push.TargetConfluence)
	id, _, before, _ := s.page()
	if err := benchload.ChangeStory(context.Background(), s.env.pool, "covsync_source", s.env.workload, 1); err != nil {
		t.Fatal(err)
	}
	s.env.confluence.EditBeforeNextWrite(id, confluencesim.Edit{By: "Alice", Body: "<p>Alice was here</p>"})
	if _, err := s.run(context.Background(), push.TargetConfluence); err != nil {
		t.Logf("cycle with the edit: %v", err)
	}
	s.recover(push.TargetConfluence)
	_, body, after, _ := s.page()
	if after < before+2 || strings.Contains(body, "Alice was here") {
		t.Errorf("page went from version %d to %d and reads %q: Alice's version should be there, overwritten (on_manual_edit: overwrite)", before, after, body[:min(80, len(body))])
	}
	s.verify(push.TargetConfluence)
}

func TestReliabilityAnotherToolWritesThePropertyBetweenCovsyncsReadAndWrite(t *testing.T) {
	s := newScenario(t, false, nil)
	// The property exists (another tool made it), so covsync reads, merges and writes.
	s.env.jira.SetProperty(s.env.workload.Prefix, "jira-test-manager.linked-test-runs", json.RawMessage(`{"version":1,"releases":{}}`))
	s.env.jira.WriteBetweenGetAndPut(func(_, _ string, current []byte) []byte {
		var v map[string]any
		if json.Unmarshal(current, &v) != nil || v == nil {
			v = map[string]any{"version": 1, "releases": map[string]any{}}
		}
		v["otherTool"] = map[string]any{"kept": true}
		b, _ := json.Marshal(v)
		return b
	})
	if _, err := s.run(context.Background(), push.TargetLinkedRuns); err != nil {
		t.Logf("cycle with the concurrent write: %v", err)
	}
	s.recover(push.TargetLinkedRuns)
	_, raw := s.linkedRuns()
	if !strings.Contains(string(raw), `"otherTool"`) {
		t.Errorf("the other tool's key was lost: %s", raw)
	}
	s.verify(push.TargetLinkedRuns)
}

func TestReliabilityAnotherWriterChangesTheADODocumentBetweenReadAndWrite(t *testing.T) {
	s := newScenario(t, false, nil)
	s.recover(push.TargetADO)
	if err := benchload.ChangeStory(context.Background(), s.env.pool, "covsync_source", s.env.workload, 1); err != nil {
		t.Fatal(err)
	}
	id := s.env.adoIDs[s.env.workload.Key(1)]
	s.env.ado.WriteAfterNextRead(benchADOPublisher, benchADOExtension, benchADOCollection, strconv.Itoa(id), map[string]any{"otherTool": "kept"})
	if _, err := s.run(context.Background(), push.TargetADO); err != nil {
		t.Logf("cycle with the concurrent write: %v", err)
	}
	s.recover(push.TargetADO)
	doc, _ := s.env.ado.Document(benchADOPublisher, benchADOExtension, benchADOCollection, strconv.Itoa(id))
	if doc["otherTool"] != "kept" {
		t.Errorf("the other writer's key was lost: %v", doc)
	}
	s.verify(push.TargetADO)
}

func TestReliabilityThePropertyOverflowsAndCovsyncPrunesItsOldestRuns(t *testing.T) {
	// 400 runs in 4 releases: far more than 32 KB of linked runs.
	s := newScenario(t, false, func(f *Options) {
		f.Sizes = benchload.Sizes{Stories: 4, Releases: 4, Runs: 400, Results: 400}
	})
	sums, err := s.run(context.Background(), push.TargetLinkedRuns)
	if err != nil || failed(sums) != 0 || sums[0].Pruned == 0 {
		t.Fatalf("err %v, summaries %+v; want the property written with runs pruned", err, sums)
	}
	_, raw := s.linkedRuns()
	if len(raw) > 32768 || len(raw) < 16384 {
		t.Errorf("property is %d bytes; want it filled up to, never over, 32,768", len(raw))
	}
	// The ledger is true: the pruned property is what covsync planned, so the next cycle writes nothing.
	again, err := s.run(context.Background(), push.TargetLinkedRuns)
	if err != nil || again[0].Unchanged != 1 {
		t.Errorf("second cycle: err %v, %+v", err, again)
	}
}

func TestReliabilityOneBadIssueFailsAloneAndTheRestLand(t *testing.T) {
	s := newScenario(t, false, nil)
	bad := s.env.workload.Key(5)
	s.env.jira.RemoveIssue(bad)
	sums, err := s.run(context.Background(), push.TargetJira)
	if err != nil {
		t.Fatal(err)
	}
	x := sums[0]
	if x.Failed != 1 || x.Pushed != x.Planned-1 || len(x.Errors) != 1 || x.Errors[0].Item != bad {
		t.Fatalf("summary %+v; want %s alone failed and every other story pushed", x, bad)
	}
	states, err := ledger.New(s.env.pool, "covsync").Load(context.Background(), x.Target)
	if err != nil || !states[bad].Failing {
		t.Fatalf("ledger of %s: %+v, %v; want it failing", bad, states[bad], err)
	}
	s.checkAckedWereWritten()
	s.env.jira.AddIssue(bad) // someone restores the issue: the next cycle retries it
	s.recover(push.TargetJira)
	s.verify(push.TargetJira)
}

// TestReliabilityRepeatedFaultyCyclesConverge is the long variant's shape at CI size: faults of every kind
// at once, on every target, for several cycles.
func TestReliabilityRepeatedFaultyCyclesConverge(t *testing.T) {
	s := newScenario(t, false, func(f *Options) { f.SiteRate, f.Workers = 60, 6 })
	s.faultyRounds(3, 1, 1)
	s.recover()
	s.verify()
	s.checkAckedWereWritten()
	s.checkNoSecretLogged()
}

func adoDocumentWrites(s *scenario) int {
	n := 0
	for _, r := range s.env.ado.Requests() {
		if r.IsDocumentWrite() && r.Status < 300 {
			n++
		}
	}
	return n
}
