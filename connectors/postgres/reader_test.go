package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/covsync/covsync/sync/report"
)

// tc is one test of a generated report: its name (holding ticket keys) and status.
type tc struct{ name, status string }

// ctrfAt builds a CTRF report that started at t, with consistent summary counts.
func ctrfAt(t testing.TB, start time.Time, tests ...tc) []byte {
	t.Helper()
	full := make([]ft, len(tests))
	for i, x := range tests {
		full[i] = ft{name: x.name, status: x.status}
	}
	return ctrfFull(t, start, full...)
}

var t0 = time.Date(2026, 11, 20, 8, 0, 0, 0, time.UTC)

func TestStoryStatus(t *testing.T) {
	type run struct {
		at    time.Duration // after t0
		tests []tc
	}
	for _, c := range []struct {
		name    string
		runs    []run // in ingest order
		status  string
		counts  report.TestCounts
		lastRun string // run name, "" for none
	}{
		{"a failed linked test fails the story",
			[]run{{0, []tc{{"SHOP-1 a", "passed"}, {"SHOP-1 b", "failed"}, {"SHOP-9 c", "passed"}}}},
			report.StatusFailed, report.TestCounts{Passed: 1, Failed: 1}, "build 800"},
		{"one passed and none failed passes it",
			[]run{{0, []tc{{"SHOP-1 a", "passed"}, {"SHOP-1 b", "skipped"}}}},
			report.StatusPassed, report.TestCounts{Passed: 1, Skipped: 1}, "build 800"},
		{"skipped, pending and other all count as skipped",
			[]run{{0, []tc{{"SHOP-1 a", "skipped"}, {"SHOP-1 b", "pending"}, {"SHOP-1 c", "other"}}}},
			report.StatusSkipped, report.TestCounts{Skipped: 3}, "build 800"},
		{"a story only other tests mention has no tests",
			[]run{{0, []tc{{"SHOP-9 a", "failed"}}}},
			report.StatusNoTests, report.TestCounts{}, ""},
		{"the newest run decides, not the worst",
			[]run{{0, []tc{{"SHOP-1 a", "failed"}}}, {time.Hour, []tc{{"SHOP-1 a", "passed"}}}},
			report.StatusPassed, report.TestCounts{Passed: 1}, "build 900"},
		{"a run ingested later that started earlier does not win",
			[]run{{time.Hour, []tc{{"SHOP-1 a", "passed"}}}, {0, []tc{{"SHOP-1 a", "failed"}}}},
			report.StatusPassed, report.TestCounts{Passed: 1}, "build 900"},
		{"a newer run without the story's tests keeps its last run",
			[]run{{0, []tc{{"SHOP-1 a", "failed"}}}, {time.Hour, []tc{{"SHOP-9 a", "passed"}}}},
			report.StatusFailed, report.TestCounts{Failed: 1}, "build 800"},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := newSource(t)
			ctx := context.Background()
			for _, r := range c.runs {
				s.ingest(t, ctrfAt(t, t0.Add(r.at), r.tests...), CTRFOptions{})
			}
			// Coverage makes SHOP-1 a story even when no test links to it.
			if _, err := s.in.IngestCoverage(ctx, []byte(`{"project":"shop","measuredAt":"2026-11-20T09:00:00Z",
				"stories":[{"ticket":"SHOP-1","coveredMethods":1,"totalMethods":2}]}`), ""); err != nil {
				t.Fatal(err)
			}
			p, err := s.rd.ReadProject(ctx, "shop")
			if err != nil {
				t.Fatal(err)
			}
			st := findStory(t, p, "SHOP-1")
			if st.Status != c.status || st.Tests != c.counts {
				t.Errorf("status %q %+v, want %q %+v", st.Status, st.Tests, c.status, c.counts)
			}
			switch {
			case c.lastRun == "" && st.LastRun != nil:
				t.Errorf("last run %+v, want none", st.LastRun)
			case c.lastRun != "" && (st.LastRun == nil || st.LastRun.Name != c.lastRun):
				t.Errorf("last run %+v, want %q", st.LastRun, c.lastRun)
			}
		})
	}
}

func TestStoryCoverage(t *testing.T) {
	s := newSource(t)
	ctx := context.Background()
	cov := func(at string, stories string) {
		t.Helper()
		doc := fmt.Sprintf(`{"project":"shop","measuredAt":%q,"stories":[%s]}`, at, stories)
		if _, err := s.in.IngestCoverage(ctx, []byte(doc), ""); err != nil {
			t.Fatal(err)
		}
	}
	s.ingest(t, ctrfAt(t, t0, tc{"SHOP-6 linked, never measured", "passed"}), CTRFOptions{})
	// The newer measurement arrives first; the older one must not replace it.
	cov("2026-11-21T00:00:00Z", `{"ticket":"SHOP-1","coveredMethods":157,"totalMethods":200},
		{"ticket":"SHOP-2","coveredMethods":1,"totalMethods":3},{"ticket":"SHOP-3","coveredMethods":2,"totalMethods":3},
		{"ticket":"SHOP-4","coveredMethods":0,"totalMethods":0},{"ticket":"SHOP-5","coveredMethods":0,"totalMethods":7}`)
	cov("2026-11-19T00:00:00Z", `{"ticket":"SHOP-1","coveredMethods":1,"totalMethods":200}`)

	p, err := s.rd.ReadProject(ctx, "shop")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		key            string
		percent        string // "null" or the JSON number
		covered, total string
	}{
		{"SHOP-1", "78.5", "157", "200"}, // the newest measurement, not the last ingested
		{"SHOP-2", "33.3", "1", "3"},
		{"SHOP-3", "66.7", "2", "3"},
		{"SHOP-4", "null", "0", "0"}, // total 0: no percent, but the figures are data
		{"SHOP-5", "0", "0", "7"},
		{"SHOP-6", "null", "null", "null"}, // no coverage data
	} {
		st := findStory(t, p, c.key)
		got := fmt.Sprintf("%s %s %s", js(t, st.CoveragePercent), js(t, st.CoveredMethods), js(t, st.TotalMethods))
		if want := c.percent + " " + c.covered + " " + c.total; got != want {
			t.Errorf("%s: coverage %s, want %s", c.key, got, want)
		}
		if st.CoveredMethods != nil {
			if w := report.CoveragePercent(*st.CoveredMethods, *st.TotalMethods); js(t, w) != js(t, st.CoveragePercent) {
				t.Errorf("%s: reader says %s, report.CoveragePercent %s", c.key, js(t, st.CoveragePercent), js(t, w))
			}
		}
	}
	if want := time.Date(2026, 11, 21, 0, 0, 0, 0, time.UTC); !p.DataAsOf.Equal(want) {
		t.Errorf("data as of %v, want the newest measurement %v", p.DataAsOf, want)
	}
}

func TestReleasesRunsAndStoryOrder(t *testing.T) {
	s := newSource(t)
	ctx := context.Background()
	s.ingest(t, ctrfAt(t, t0, tc{"SHOP-10 a", "passed"}), CTRFOptions{Release: "2.4.0"})
	s.ingest(t, ctrfAt(t, t0.Add(2*time.Hour), tc{"SHOP-2 a", "failed"}), CTRFOptions{Release: "2.4.0"})
	s.ingest(t, ctrfAt(t, t0.Add(time.Hour), tc{"AB#7 a", "passed"}), CTRFOptions{Release: "2.5.0"})
	s.ingest(t, ctrfAt(t, t0.Add(3*time.Hour), tc{"SHOP-1 a", "skipped"}), CTRFOptions{})
	// A release with a known Jira version and no runs yet, as a deployment's own data may have.
	if _, err := s.pool.Exec(ctx, `INSERT INTO "Source Data".releases (project_id, name, jira_version_id)
		VALUES ('shop', '3.0.0', '10042')`); err != nil {
		t.Fatal(err)
	}
	p, err := s.rd.ReadProject(ctx, "shop")
	if err != nil {
		t.Fatal(err)
	}
	if p.RunCount != 4 || p.LatestRun == nil || p.LatestRun.Name != "build 1100" || p.LatestRun.Status != report.StatusSkipped {
		t.Errorf("%d runs, latest %+v; want 4, build 1100 skipped", p.RunCount, p.LatestRun)
	}
	var got []string
	for _, rel := range p.Releases {
		var runs []string
		for _, r := range rel.Runs {
			runs = append(runs, r.Name+"/"+r.Status+"/"+r.Release)
		}
		got = append(got, rel.Name+rel.JiraVersionID+": "+strings.Join(runs, ", "))
	}
	want := []string{"2.4.0: build 1000/failed/2.4.0, build 800/passed/2.4.0", "2.5.0: build 900/passed/2.5.0", "3.0.010042: "}
	if strings.Join(got, "; ") != strings.Join(want, "; ") {
		t.Errorf("releases %q, want %q", got, want)
	}
	var keys []string
	for _, st := range p.Stories {
		keys = append(keys, st.Key)
	}
	if k := strings.Join(keys, " "); k != "AB#7 SHOP-1 SHOP-2 SHOP-10" {
		t.Errorf("stories %s, want AB#7 SHOP-1 SHOP-2 SHOP-10", k)
	}
	if st := findStory(t, p, "SHOP-2"); st.LastRun.Release != "2.4.0" {
		t.Errorf("SHOP-2 last run %+v, want release 2.4.0", st.LastRun)
	}
	if !p.DataAsOf.Equal(t0.Add(3 * time.Hour)) {
		t.Errorf("data as of %v", p.DataAsOf)
	}
}

func TestAnUnknownProjectIsAnError(t *testing.T) {
	s := newSource(t)
	_, err := s.rd.ReadProject(context.Background(), "shpo")
	if !errors.Is(err, ErrUnknownProject) || !strings.Contains(err.Error(), `"shpo"`) {
		t.Errorf("got %v, want ErrUnknownProject naming shpo", err)
	}
	s.ingest(t, []byte(validCTRF), CTRFOptions{Project: "web"})
	ps, err := s.rd.ListProjects(context.Background())
	if err != nil || len(ps) != 1 || ps[0].ID != "web" {
		t.Errorf("projects %+v, %v", ps, err)
	}
}

func findStory(t *testing.T, p *report.Project, key string) report.Story {
	t.Helper()
	for _, s := range p.Stories {
		if s.Key == key {
			return s
		}
	}
	t.Fatalf("no story %s in %+v", key, p.Stories)
	return report.Story{}
}

func js(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
