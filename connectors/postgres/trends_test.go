package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/covsync/covsync/sync/report"
)

// ft is one result of a generated report with the fields the flaky list reads.
type ft struct {
	name, suite, status string
	flaky               bool
	retries             int
}

// ctrfFull builds a CTRF report that started at start, with consistent summary counts, and suites, flaky flags
// and retries where the tests have them.
func ctrfFull(t testing.TB, start time.Time, tests ...ft) []byte {
	t.Helper()
	counts := map[string]int{}
	list := []map[string]any{}
	for _, x := range tests {
		counts[x.status]++
		m := map[string]any{"name": x.name, "status": x.status, "duration": 10}
		if x.suite != "" {
			m["suite"] = x.suite
		}
		if x.flaky {
			m["flaky"] = true
		}
		if x.retries > 0 {
			m["retries"] = x.retries
		}
		list = append(list, m)
	}
	b, err := json.Marshal(map[string]any{"results": map[string]any{
		"tool": map[string]any{"name": "jest"},
		"summary": map[string]any{"tests": len(tests), "passed": counts["passed"], "failed": counts["failed"],
			"skipped": counts["skipped"], "pending": counts["pending"], "other": counts["other"],
			"start": start.UnixMilli(), "stop": start.Add(time.Minute).UnixMilli()},
		"tests":       list,
		"environment": map[string]any{"buildNumber": start.Hour()*100 + start.Minute()},
	}})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func trendLine(t *testing.T, p report.TrendPoint) string {
	return fmt.Sprintf("%s runs=%d tests=%d %d/%d pass=%s cov=%s", p.Release, p.Runs, p.Tests, p.Passed, p.Failed,
		js(t, p.PassRate), js(t, p.CoveragePercent))
}

func TestTrend(t *testing.T) {
	s := newSource(t)
	ctx := context.Background()
	cov := func(at time.Time, stories string) {
		t.Helper()
		doc := fmt.Sprintf(`{"project":"shop","measuredAt":%q,"stories":[%s]}`, at.Format(time.RFC3339), stories)
		if _, err := s.in.IngestCoverage(ctx, []byte(doc), ""); err != nil {
			t.Fatal(err)
		}
	}
	cov(t0.Add(-time.Hour), `{"ticket":"SHOP-1","coveredMethods":10,"totalMethods":20}`)
	cov(t0.Add(30*time.Minute), `{"ticket":"SHOP-2","coveredMethods":1,"totalMethods":4}`)
	cov(t0.Add(2*time.Hour), `{"ticket":"SHOP-1","coveredMethods":15,"totalMethods":20}`)
	cov(t0.Add(3*time.Hour), `{"ticket":"SHOP-2","coveredMethods":3,"totalMethods":4}`) // exactly at 1.2's start
	cov(t0.Add(5*time.Hour), `{"ticket":"SHOP-1","coveredMethods":20,"totalMethods":20}`)

	// Ingest order is not release order: a release's place is its newest run's start.
	s.ingest(t, ctrfAt(t, t0.Add(3*time.Hour), tc{"SHOP-1 a", "passed"}, tc{"SHOP-1 b", "failed"},
		tc{"SHOP-1 c", "failed"}), CTRFOptions{Release: "1.2"})
	s.ingest(t, ctrfAt(t, t0, tc{"SHOP-1 a", "failed"}), CTRFOptions{Release: "1.1"})
	s.ingest(t, ctrfAt(t, t0.Add(time.Hour), tc{"SHOP-1 a", "passed"}, tc{"SHOP-1 b", "passed"},
		tc{"SHOP-1 c", "passed"}, tc{"SHOP-1 d", "failed"}, tc{"SHOP-1 e", "skipped"}), CTRFOptions{Release: "1.1"})
	// Before any coverage, and neither passed nor failed: both nulls.
	s.ingest(t, ctrfAt(t, t0.Add(-2*time.Hour), tc{"SHOP-1 a", "skipped"}), CTRFOptions{Release: "1.0"})
	// A run of no release is in no trend point; a release without runs has no point.
	s.ingest(t, ctrfAt(t, t0.Add(6*time.Hour), tc{"SHOP-1 a", "passed"}), CTRFOptions{})
	if _, err := s.pool.Exec(ctx, `INSERT INTO "Source Data".releases (project_id, name) VALUES ('shop', '9.9')`); err != nil {
		t.Fatal(err)
	}

	p, err := s.rd.ReadProject(ctx, "shop")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, x := range p.Trend {
		got = append(got, trendLine(t, x))
	}
	want := []string{
		"1.0 runs=1 tests=1 0/0 pass=null cov=null",
		// At 09:00: SHOP-1 10/20 (07:00), SHOP-2 1/4 (08:30) → 11/24; newest run 3 passed, 1 failed.
		"1.1 runs=2 tests=5 3/1 pass=75 cov=45.8",
		// At 11:00: SHOP-1 15/20 (10:00), SHOP-2 3/4 measured at 11:00 exactly → 18/24; 13:00's is later.
		"1.2 runs=1 tests=3 1/2 pass=33.3 cov=75",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("trend:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"trend":[{"release":"1.0","runs":1,"tests":1,"passed":0,"failed":0,"passRate":null,"coveragePercent":null}`) {
		t.Errorf("JSON trend not as the contract spells it:\n%s", b)
	}
}

func TestTrendKeepsTheNewestTwelveReleasesOldestFirst(t *testing.T) {
	s := newSource(t)
	// 14 releases, ingested newest first; release i's run starts i hours after t0.
	for i := 14; i >= 1; i-- {
		s.ingest(t, ctrfAt(t, t0.Add(time.Duration(i)*time.Hour), tc{"SHOP-1 a", "passed"}),
			CTRFOptions{Release: fmt.Sprintf("r%02d", i)})
	}
	p, err := s.rd.ReadProject(context.Background(), "shop")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, x := range p.Trend {
		got = append(got, x.Release)
	}
	if g := strings.Join(got, " "); g != "r03 r04 r05 r06 r07 r08 r09 r10 r11 r12 r13 r14" {
		t.Errorf("trend releases %s, want r03 … r14", g)
	}
	if p.Trend[0].PassRate == nil || *p.Trend[0].PassRate != 100 || p.Trend[0].CoveragePercent != nil {
		t.Errorf("first point %s, want pass 100 and no coverage", trendLine(t, p.Trend[0]))
	}
}

// flakyLine prints a flaky entry as the tests compare it.
func flakyLine(f report.FlakyTest) string {
	return fmt.Sprintf("%s/%s flips=%d flaky=%d runs=%d %s", f.Suite, f.Name, f.Flips, f.FlakyRuns, f.Runs,
		strings.Join(f.Stories, ","))
}

func TestFlaky(t *testing.T) {
	s := newSource(t)
	const P, F, S, A = "passed", "failed", "skipped", "" // A: absent from the run
	// One row per test: its outcome in runs 1…5 (oldest first), and the run (1-based) it is flagged in.
	type history struct {
		suite, name string
		runs        [5]string
		flag, retry int // the run reporting flaky: true / retries 2 (0: none)
	}
	tests := []history{
		{"ui", "SHOP-1 flagged flaky, always passing", [5]string{P, P, P, P, P}, 3, 0},
		{"ui", "SHOP-1 flagged flaky on its failure", [5]string{F, F, F, F, F}, 2, 0},
		{"ui", "SHOP-2 passed on a retry", [5]string{P, P, P, P, P}, 0, 2},
		{"ui", "SHOP-2 failed despite retries", [5]string{F, F, F, F, F}, 0, 4},
		{"api", "SHOP-1 SHOP-3 flips twice", [5]string{P, F, P, P, P}, 0, 0},
		{"api", "SHOP-3 flips once", [5]string{P, F, F, F, F}, 0, 0},
		{"api", "SHOP-3 flips over skipped and absent runs", [5]string{P, S, F, A, P}, 0, 0},
		{"api", "SHOP-3 never flips between skips", [5]string{P, S, P, S, P}, 0, 0},
		{"api", "SHOP-4 always failing", [5]string{F, F, F, F, F}, 0, 0},
		{"api", "SHOP-4 always passing", [5]string{P, P, P, P, P}, 0, 0},
		{"api", "flips four times", [5]string{P, F, P, F, P}, 0, 0},
		// The same name in another suite is another test.
		{"other", "SHOP-1 SHOP-3 flips twice", [5]string{P, P, P, P, P}, 0, 0},
	}
	for run := range 5 {
		var results []ft
		for _, h := range tests {
			st := h.runs[run]
			if st == A {
				continue
			}
			x := ft{name: h.name, suite: h.suite, status: st, flaky: h.flag == run+1}
			if h.retry == run+1 {
				x.retries = 2
			}
			results = append(results, x)
		}
		// Two results of one test in one run count as one run, failed when one failed: a pass beside run 4's
		// failure neither adds a run nor removes two flips.
		if run == 3 {
			results = append(results, ft{name: "flips four times", suite: "api", status: P})
		}
		s.ingest(t, ctrfFull(t, t0.Add(time.Duration(run)*time.Hour), results...), CTRFOptions{})
	}
	p, err := s.rd.ReadProject(context.Background(), "shop")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range p.Flaky {
		got = append(got, flakyLine(f))
	}
	want := []string{
		"api/flips four times flips=4 flaky=0 runs=5 ",
		"api/SHOP-1 SHOP-3 flips twice flips=2 flaky=0 runs=5 SHOP-1,SHOP-3",
		"api/SHOP-3 flips over skipped and absent runs flips=2 flaky=0 runs=4 SHOP-3",
		"ui/SHOP-1 flagged flaky on its failure flips=0 flaky=1 runs=5 SHOP-1",
		"ui/SHOP-1 flagged flaky, always passing flips=0 flaky=1 runs=5 SHOP-1",
		"ui/SHOP-2 passed on a retry flips=0 flaky=1 runs=5 SHOP-2",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("flaky:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for key, n := range map[string]int{"SHOP-1": 3, "SHOP-2": 1, "SHOP-3": 2, "SHOP-4": 0} {
		if st := findStory(t, p, key); st.Flaky != n {
			t.Errorf("%s: flaky %d, want %d", key, st.Flaky, n)
		}
	}
}

func TestFlakyLooksAtTheNewestTwentyRunsAndListsFifty(t *testing.T) {
	s := newSource(t)
	// 22 runs. In the newest 20 (runs 3…22), 60 tests flip at every run: 19 flips each; "edge" failed in runs
	// 1–2 and passes since, and "old flag" was flagged flaky in run 1 only: neither is in the window's list.
	for run := 1; run <= 22; run++ {
		results := []ft{
			{name: "edge", suite: "s", status: map[bool]string{true: "failed", false: "passed"}[run <= 2]},
			{name: "old flag", suite: "s", status: "passed", flaky: run == 1},
		}
		for i := range 60 {
			st := "passed"
			if (run+i)%2 == 0 {
				st = "failed"
			}
			results = append(results, ft{name: fmt.Sprintf("t%02d", i), suite: "s", status: st})
		}
		s.ingest(t, ctrfFull(t, t0.Add(time.Duration(run)*time.Minute), results...), CTRFOptions{})
	}
	p, err := s.rd.ReadProject(context.Background(), "shop")
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Flaky) != report.MaxFlaky {
		t.Fatalf("%d flaky tests, want %d", len(p.Flaky), report.MaxFlaky)
	}
	for i, f := range p.Flaky {
		if want := fmt.Sprintf("s/t%02d flips=19 flaky=0 runs=20 ", i); flakyLine(f) != want {
			t.Errorf("flaky[%d] = %s, want %s", i, flakyLine(f), want)
		}
	}
}
