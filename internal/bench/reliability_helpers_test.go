package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/covsync/covsync/config"
	"github.com/covsync/covsync/connectors/postgres"
	"github.com/covsync/covsync/internal/benchload"
	"github.com/covsync/covsync/internal/pgtest"
	"github.com/covsync/covsync/internal/syncbuf"
	"github.com/covsync/covsync/sync/engine"
	"github.com/covsync/covsync/sync/ledger"
	"github.com/covsync/covsync/sync/push"
	"github.com/covsync/covsync/sync/report"
)

// A reliability scenario runs real cycles of every target kind, through the config loader, the wired
// connectors and their httpx clients, against the simulators with a fault injected, then recovers and
// checks that the target state is the desired state and the ledger is true (docs/reliability.md).

// scenario is one reliability test's world.
type scenario struct {
	t   *testing.T
	env *benchEnv
	b   *bencher
	log *syncbuf.Buffer
}

// smallSizes keep a scenario to a second or two: enough items for several workers and a failure among many.
var smallSizes = benchload.Sizes{Stories: 24, Releases: 3, Runs: 6, Results: 144}

// newScenario starts a scenario on a fresh pgtest database (or its own server when ownServer, for a
// PostgreSQL restart), with debug logging captured. tune adjusts the flags first.
func newScenario(t *testing.T, ownServer bool, tune func(*Options)) *scenario {
	t.Helper()
	f := Options{Sizes: smallSizes, Rate: 1000, Workers: 4, LogLevel: "debug", Timeout: 5 * time.Second}
	if !ownServer {
		f.DatabaseURL = pgtest.URL(t)
	}
	if tune != nil {
		tune(&f)
	}
	env, err := startBenchEnv(context.Background(), f, t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(env.close)
	s := &scenario{t: t, env: env, log: &syncbuf.Buffer{}}
	s.b = &bencher{env: env, rate: f.Rate, logf: t.Logf, errw: s.log}
	if err := s.b.loadRunner(); err != nil {
		t.Fatal(err)
	}
	return s
}

// run runs one cycle of kinds (all when none) and returns the summaries and the cycle-level error.
func (s *scenario) run(ctx context.Context, kinds ...string) ([]engine.Summary, error) {
	return s.b.runner.RunProject(ctx, s.env.workload.Project, kinds, engine.Options{Trigger: ledger.TriggerResync})
}

// failed counts the failed items of sums.
func failed(sums []engine.Summary) int {
	n := 0
	for _, x := range sums {
		n += x.Failed
	}
	return n
}

// recover runs cycles of kinds until one completes with nothing failed, as the schedule would.
func (s *scenario) recover(kinds ...string) {
	s.t.Helper()
	var last []engine.Summary
	var err error
	for range 5 {
		last, err = s.run(context.Background(), kinds...)
		if err == nil && failed(last) == 0 {
			return
		}
	}
	s.t.Fatalf("no clean cycle after 5 attempts: err %v, summaries %+v", err, last)
}

// report reads the desired state's source.
func (s *scenario) report() *report.Project {
	s.t.Helper()
	p, err := postgres.NewReader(s.env.pool, "covsync_source").ReadProject(context.Background(), s.env.workload.Project)
	if err != nil {
		s.t.Fatal(err)
	}
	return p
}

// verify checks, for kinds (all when none), that every target holds what the report says and that the
// ledger agrees: a dry run finds nothing to push and nothing failing.
func (s *scenario) verify(kinds ...string) {
	s.t.Helper()
	if len(kinds) == 0 {
		kinds = push.TargetKinds()
	}
	p := s.report()
	for _, k := range kinds {
		switch k {
		case push.TargetJira:
			s.verifyJira(p)
		case push.TargetADO:
			s.verifyADO(p)
		case push.TargetLinkedRuns:
			s.verifyLinkedRuns(p)
		case push.TargetConfluence:
			s.verifyConfluence(p)
		}
	}
	sums, err := s.b.runner.RunProject(context.Background(), s.env.workload.Project, kinds, engine.Options{DryRun: true})
	if err != nil {
		s.t.Fatalf("dry run: %v", err)
	}
	for _, x := range sums {
		if len(x.WouldPush) != 0 || x.Unchanged != x.Planned {
			s.t.Errorf("ledger of %s is not true: %d of %d unchanged, would push %+v", x.Target, x.Unchanged, x.Planned, x.WouldPush)
		}
	}
}

func percent(st report.Story) string {
	if st.CoveragePercent == nil {
		return "<nil>"
	}
	return strconv.FormatFloat(*st.CoveragePercent, 'f', -1, 64)
}

func (s *scenario) verifyJira(p *report.Project) {
	id := s.env.jiraFieldIDs["Test Coverage"]
	for _, st := range p.Stories {
		got := fmt.Sprint(s.env.jira.IssueFields(st.Key)[id])
		if got != percent(st) {
			s.t.Errorf("jira %s: Test Coverage %s, want %s", st.Key, got, percent(st))
		}
	}
}

func (s *scenario) verifyADO(p *report.Project) {
	for _, st := range p.Stories {
		doc, ok := s.env.ado.Document(benchADOPublisher, benchADOExtension, benchADOCollection, strconv.Itoa(s.env.adoIDs[st.Key]))
		if !ok || doc["source"] != "covsync" || fmt.Sprint(doc["coveragePercent"]) != percent(st) {
			s.t.Errorf("ado %s: document %v, want coveragePercent %s from covsync", st.Key, doc, percent(st))
		}
	}
}

// linkedRuns is the part of the property the scenarios check.
type linkedRuns struct {
	Version  int `json:"version"`
	Releases map[string]struct {
		Name string `json:"name"`
		Runs []struct {
			ID     string `json:"id"`
			Source string `json:"source"`
		} `json:"runs"`
	} `json:"releases"`
}

func (s *scenario) linkedRuns() (linkedRuns, []byte) {
	s.t.Helper()
	raw := s.env.jira.Property(s.env.workload.Prefix, "jira-test-manager.linked-test-runs")
	var v linkedRuns
	if err := json.Unmarshal(raw, &v); err != nil {
		s.t.Fatalf("linked-test-runs property %q: %v", raw, err)
	}
	return v, raw
}

func (s *scenario) verifyLinkedRuns(p *report.Project) {
	v, raw := s.linkedRuns()
	if len(raw) > 32768 {
		s.t.Errorf("linked-test-runs property is %d bytes, over Jira's 32,768", len(raw))
	}
	ours := 0
	for _, r := range v.Releases {
		for _, run := range r.Runs {
			if run.Source == "covsync" {
				ours++
			}
		}
	}
	want := 0
	for _, r := range p.Releases {
		want += len(r.Runs)
	}
	if v.Version != 1 || ours != want {
		s.t.Errorf("linked-test-runs: version %d, %d covsync runs; want version 1 and the report's %d runs", v.Version, ours, want)
	}
}

func (s *scenario) page() (pageID, body string, version, propVersion int) {
	s.t.Helper()
	pages := s.env.confluence.PagesTitled(benchSpace, "Test coverage: Bench "+s.env.workload.Project)
	if len(pages) != 1 {
		s.t.Fatalf("%d pages titled for the project, want exactly 1", len(pages))
	}
	pg := pages[0]
	var prop struct {
		Version int `json:"version"`
	}
	if pr, ok := pg.Properties["covsync.sync"]; ok {
		_ = json.Unmarshal(pr.Value, &prop)
	}
	return pg.ID, pg.Body, pg.Version, prop.Version
}

// confluenceMaxRows is confluence[].max_rows's default.
const confluenceMaxRows = 500

func (s *scenario) verifyConfluence(p *report.Project) {
	_, body, version, propVersion := s.page()
	// The story table shows at most max_rows (default 500) stories and summarises the rest.
	shown := 0
	for _, st := range p.Stories {
		if strings.Contains(body, ">"+st.Key+"<") {
			shown++
		}
	}
	if want := min(len(p.Stories), confluenceMaxRows); shown < want {
		s.t.Errorf("confluence page shows %d stories, want %d", shown, want)
	}
	if propVersion != version {
		s.t.Errorf("confluence page at version %d, covsync.sync says covsync wrote version %d", version, propVersion)
	}
}

// checkAckedWereWritten checks that the ledger marks nothing pushed that the target did not acknowledge:
// every acked Jira and ADO item holds covsync's data at the target.
func (s *scenario) checkAckedWereWritten() {
	s.t.Helper()
	ctx := context.Background()
	l := ledger.New(s.env.pool, config.OwnSchema)
	jira, err := l.Load(ctx, "jira:bench-jira/"+s.env.workload.Prefix)
	if err != nil {
		s.t.Fatal(err)
	}
	id := s.env.jiraFieldIDs["Test Coverage"]
	for key, st := range jira {
		if st.Acked && !st.Failing && s.env.jira.IssueFields(key)[id] == nil {
			s.t.Errorf("ledger says jira %s was pushed; the issue has no coverage", key)
		}
	}
	ado, err := l.Load(ctx, "ado:bench-ado/Bench")
	if err != nil {
		s.t.Fatal(err)
	}
	for key, st := range ado {
		if _, ok := s.env.ado.Document(benchADOPublisher, benchADOExtension, benchADOCollection, strconv.Itoa(s.env.adoIDs[key])); st.Acked && !st.Failing && !ok {
			s.t.Errorf("ledger says ado %s was pushed; there is no document", key)
		}
	}
}

// checkNoSecretLogged fails if a credential of the scenario reached a log line.
func (s *scenario) checkNoSecretLogged() {
	s.t.Helper()
	out := s.log.String()
	if !strings.Contains(out, "level=debug") || !strings.Contains(strings.ToLower(out), "retry") {
		s.t.Fatalf("the log has no debug lines about retries: the check would prove nothing\n%.2000s", out)
	}
	for _, secret := range []string{"bench-jira-token", "bench-wiki-token", "bench-ado-pat"} {
		if strings.Contains(out, secret) {
			i := strings.Index(out, secret)
			s.t.Errorf("secret %q in the log: …%s…", secret, out[max(0, i-200):min(len(out), i+100)])
		}
	}
}

// faultyRounds runs rounds cycles of every kind, each after injecting faults at every site (scale× Jira
// 502s and dropped connections, Confluence write 503s, ADO 503s) and changing perRound stories.
func (s *scenario) faultyRounds(rounds, scale, perRound int) {
	s.t.Helper()
	for round := range rounds {
		s.env.jira.FailNext(3*scale, http.StatusBadGateway)
		s.env.jira.DropNext(2 * scale)
		s.env.confluence.FailNextWrites(scale, http.StatusServiceUnavailable)
		statuses := make([]int, scale)
		for i := range statuses {
			statuses[i] = http.StatusServiceUnavailable
		}
		s.env.ado.FailNext(statuses...)
		for i := range perRound {
			story := (round*perRound+i)%s.env.workload.Stories + 1
			if err := benchload.ChangeStory(context.Background(), s.env.pool, "covsync_source", s.env.workload, story); err != nil {
				s.t.Fatal(err)
			}
		}
		if _, err := s.run(context.Background()); err != nil {
			s.t.Logf("round %d: %v", round, err)
		}
	}
}
