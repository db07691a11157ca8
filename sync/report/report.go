// Package report holds covsync's domain types: what one project's test evidence looks like after it has been
// read from PostgreSQL and before any target plans from it. It does no I/O and imports nothing of the project,
// so every target, renderer and golden file agrees on one shape.
//
// The JSON encoding of Project is the contract of `covsync report --output json` (docs/architecture.md, Contracts).
package report

import (
	"encoding/json"
	"time"
)

// Story statuses, from the newest run that has tests linked to the story (StoryStatus).
const (
	StatusFailed  = "failed"   // a linked test failed
	StatusPassed  = "passed"   // one passed, none failed
	StatusSkipped = "skipped"  // linked tests, none passed or failed
	StatusNoTests = "no tests" // no linked test in any run
)

// Project is the report of one source project: everything a target plans from.
type Project struct {
	ID   string // the source project's id or slug, as the config's projects[].id names it
	Name string

	// RunCount is the number of runs stored for the project.
	RunCount int
	// LatestRun is the newest run (by start time), or nil when the project has none.
	LatestRun *Run
	// Stories are sorted by Key. A story exists when it has coverage data or a linked test.
	Stories []Story
	// Releases are sorted newest first (by their newest run); each holds its runs newest first.
	Releases []Release
	// DataAsOf is the newest time found in the data (a run's start or a coverage measurement); zero when
	// the project has no data. Renderers show it as the freshness of the data; it is never the sync time.
	DataAsOf time.Time
	// Trend holds one point per release, oldest first, at most MaxTrend (see TrendPoint).
	Trend []TrendPoint
	// Flaky lists the tests that flipped or were reported flaky in the newest FlakyWindow runs, most flips +
	// flaky runs first, at most MaxFlaky (see FlakyTest).
	Flaky []FlakyTest
}

// Bounds of the trend and the flaky list, as `report --output json` promises them.
const (
	MaxTrend    = 12 // releases in the trend, the newest by their newest run's start
	FlakyWindow = 20 // the project's newest runs the flaky list looks at
	MaxFlaky    = 50 // tests in the flaky list
)

// TrendPoint is one release of the trend.
type TrendPoint struct {
	Release string `json:"release"`
	// Runs counts the release's runs; Tests, Passed and Failed are its newest run's.
	Runs   int `json:"runs"`
	Tests  int `json:"tests"`
	Passed int `json:"passed"`
	Failed int `json:"failed"`
	// PassRate is passed ÷ (passed + failed) × 100 of the newest run, one decimal; nil when 0 ÷ 0.
	PassRate *float64 `json:"passRate"`
	// CoveragePercent is Σ covered ÷ Σ total methods over the project's stories, each at its newest coverage
	// measured at or before the newest run's start, one decimal; nil when there is none (or Σ total is 0).
	CoveragePercent *float64 `json:"coveragePercent"`
}

// FlakyTest is a test (suite + name) that was reported flaky, or flipped between passed and failed at least
// twice, in the project's newest FlakyWindow runs.
type FlakyTest struct {
	Name  string `json:"name"`
	Suite string `json:"suite"`
	// Flips counts status changes between consecutive window runs in which the test passed or failed.
	Flips int `json:"flips"`
	// FlakyRuns counts window runs that reported the test flaky (CTRF flaky, or retries with a final pass).
	FlakyRuns int `json:"flakyRuns"`
	// Runs counts window runs that reported the test.
	Runs int `json:"runs"`
	// Stories are the tickets the test is linked to in the window's runs, sorted.
	Stories []string `json:"stories"`
}

// Run is one test run (one CTRF report).
type Run struct {
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	Status      string    `json:"status"` // failed if any test failed, else passed if any passed, else skipped
	Tests       int       `json:"tests"`
	Passed      int       `json:"passed"`
	Failed      int       `json:"failed"`
	Skipped     int       `json:"skipped"`
	Pending     int       `json:"pending"`
	Other       int       `json:"other"`
	StartedAt   time.Time `json:"startedAt"`
	URL         string    `json:"url"` // always present, "" when the run has none
	Build       string    `json:"build,omitempty"`
	Branch      string    `json:"branch,omitempty"`
	Commit      string    `json:"commit,omitempty"`
	Environment string    `json:"environment,omitempty"`
	Release     string    `json:"release,omitempty"` // the release name the run belongs to, if any
}

// RunRef names a run from a story: the newest run that has tests linked to the story.
type RunRef struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	URL       string    `json:"url,omitempty"`
	StartedAt time.Time `json:"startedAt"`
	Release   string    `json:"release,omitempty"`
}

// TestCounts counts a story's linked tests in one run.
type TestCounts struct {
	Passed  int `json:"passed"`
	Failed  int `json:"failed"`
	Skipped int `json:"skipped"` // skipped, pending and other: neither passed nor failed
}

// Total is the number of linked tests counted.
func (c TestCounts) Total() int { return c.Passed + c.Failed + c.Skipped }

// Story is one ticket (a Jira issue key such as SHOP-1, or an Azure Boards mention such as AB#123).
type Story struct {
	Key string `json:"key"`
	// CoveragePercent is covered ÷ total methods × 100 rounded to one decimal; nil when there is no coverage
	// data or total methods is 0.
	CoveragePercent *float64 `json:"coveragePercent"`
	CoveredMethods  *int     `json:"coveredMethods"`
	TotalMethods    *int     `json:"totalMethods"`
	// CoverageMeasuredAt is when the newest coverage figure was measured; nil without coverage data.
	CoverageMeasuredAt *time.Time `json:"coverageMeasuredAt,omitempty"`
	// Tests counts the linked tests of LastRun.
	Tests  TestCounts `json:"tests"`
	Status string     `json:"status"`
	// LastRun is the newest run that has tests linked to the story; nil when there is none.
	LastRun *RunRef `json:"lastRun"`
	// Flaky is the number of the project's flaky tests (Project.Flaky) linked to the story.
	Flaky int `json:"flaky"`
}

// Release is a release (a Jira fix version, an ADO iteration or release name) and its runs.
type Release struct {
	Name string `json:"name"`
	// JiraVersionID is the Jira version id when the source data knows it; otherwise the Jira target looks
	// the name up in the project's versions.
	JiraVersionID string `json:"jiraVersionId,omitempty"`
	// Runs newest first.
	Runs []Run `json:"runs"`
}

// projectJSON is the wire shape of Project (`report --output json`; docs/architecture.md, Contracts).
type projectJSON struct {
	Project   projectRef   `json:"project"`
	Runs      int          `json:"runs"`
	LatestRun *Run         `json:"latestRun"`
	Stories   []Story      `json:"stories"`
	Releases  []Release    `json:"releases"`
	Trend     []TrendPoint `json:"trend"`
	Flaky     []FlakyTest  `json:"flaky"`
	DataAsOf  *time.Time   `json:"dataAsOf,omitempty"`
}

type projectRef struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// MarshalJSON encodes the report in the shape of `covsync report --output json`. Empty lists encode as [].
func (p Project) MarshalJSON() ([]byte, error) {
	out := projectJSON{
		Project:   projectRef{ID: p.ID, Name: p.Name},
		Runs:      p.RunCount,
		LatestRun: p.LatestRun,
		Stories:   p.Stories,
		Releases:  p.Releases,
		Trend:     p.Trend,
		Flaky:     p.Flaky,
	}
	if out.Trend == nil {
		out.Trend = []TrendPoint{}
	}
	if out.Flaky == nil {
		out.Flaky = []FlakyTest{}
	}
	for i := range out.Flaky {
		if out.Flaky[i].Stories == nil {
			out.Flaky[i].Stories = []string{}
		}
	}
	if out.Stories == nil {
		out.Stories = []Story{}
	}
	if out.Releases == nil {
		out.Releases = []Release{}
	}
	for i := range out.Releases {
		if out.Releases[i].Runs == nil {
			out.Releases[i].Runs = []Run{}
		}
	}
	if !p.DataAsOf.IsZero() {
		t := p.DataAsOf
		out.DataAsOf = &t
	}
	return json.Marshal(out)
}

// UnmarshalJSON reads what MarshalJSON wrote (golden files, `report --output json` consumers in tests).
func (p *Project) UnmarshalJSON(b []byte) error {
	var in projectJSON
	if err := json.Unmarshal(b, &in); err != nil {
		return err
	}
	*p = Project{
		ID: in.Project.ID, Name: in.Project.Name, RunCount: in.Runs, LatestRun: in.LatestRun,
		Stories: in.Stories, Releases: in.Releases, Trend: in.Trend, Flaky: in.Flaky,
	}
	if in.DataAsOf != nil {
		p.DataAsOf = *in.DataAsOf
	}
	return nil
}

// CoveragePercent returns covered ÷ total × 100 rounded half away from zero to one decimal, or nil when total
// is not positive. It is the one place the rule lives; the SQL reader and the tests call it, and a trend's
// pass rate is CoveragePercent(passed, passed+failed).
func CoveragePercent(covered, total int) *float64 {
	if total <= 0 {
		return nil
	}
	// Integer arithmetic avoids binary rounding surprises such as 78.45 → 78.4.
	tenths := (int64(covered)*1000 + int64(total)/2) / int64(total)
	v := float64(tenths) / 10
	return &v
}
