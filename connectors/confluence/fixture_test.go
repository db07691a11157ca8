package confluence_test

import (
	"fmt"
	"time"

	"github.com/covsync/covsync/sync/report"
)

func ptr[T any](v T) *T { return &v }

var t0 = time.Date(2026, 11, 20, 14, 3, 0, 0, time.UTC)

// shopProject is a small project with every status, a story without coverage, an Azure Boards key, two
// releases and values that need escaping.
func shopProject() *report.Project {
	r482 := report.Run{ID: "r482", Name: "build 482", Status: report.StatusFailed, Tests: 120, Passed: 117, Failed: 2, Skipped: 1,
		StartedAt: t0, URL: "https://ci.example/build/482?x=1&y=2", Build: "482", Branch: "main", Environment: "staging", Release: "2.4.0"}
	r481 := report.Run{ID: "r481", Name: "build 481", Status: report.StatusPassed, Tests: 118, Passed: 118,
		StartedAt: t0.Add(-24 * time.Hour), URL: "https://ci.example/build/481", Build: "481", Branch: "main", Release: "2.4.0"}
	r470 := report.Run{ID: "r470", Name: "build <470> & \"friends\"", Status: report.StatusSkipped, Tests: 3, Skipped: 3,
		StartedAt: t0.Add(-10 * 24 * time.Hour), Release: "2.3.1"}
	ref := func(r report.Run) *report.RunRef {
		return &report.RunRef{ID: r.ID, Name: r.Name, URL: r.URL, StartedAt: r.StartedAt, Release: r.Release}
	}
	return &report.Project{
		ID: "shop", Name: "Shop & Co <web>", RunCount: 3, LatestRun: &r482, DataAsOf: t0.Add(2 * time.Hour),
		Stories: []report.Story{
			{Key: "SHOP-1", CoveragePercent: ptr(78.5), CoveredMethods: ptr(157), TotalMethods: ptr(200),
				Tests: report.TestCounts{Passed: 11, Failed: 1}, Status: report.StatusFailed, LastRun: ref(r482)},
			{Key: "SHOP-2", CoveragePercent: ptr(95.0), CoveredMethods: ptr(19), TotalMethods: ptr(20),
				Tests: report.TestCounts{Passed: 4}, Status: report.StatusPassed, LastRun: ref(r482)},
			{Key: "SHOP-3", CoveragePercent: ptr(12.0), CoveredMethods: ptr(3), TotalMethods: ptr(25),
				Tests: report.TestCounts{Passed: 2}, Status: report.StatusPassed, LastRun: ref(r481)},
			{Key: "SHOP-4", Tests: report.TestCounts{Skipped: 3}, Status: report.StatusSkipped, LastRun: ref(r470)},
			{Key: "AB#101", CoveragePercent: ptr(50.0), CoveredMethods: ptr(5), TotalMethods: ptr(10), Status: report.StatusNoTests},
		},
		Releases: []report.Release{
			{Name: "2.4.0", Runs: []report.Run{r482, r481}},
			{Name: "2.3.1", Runs: []report.Run{r470}},
		},
		Trend: []report.TrendPoint{
			{Release: "2.3.1", Runs: 1, Tests: 3, PassRate: nil, CoveragePercent: nil},
			{Release: "2.4.0", Runs: 2, Tests: 120, Passed: 117, Failed: 2, PassRate: report.CoveragePercent(117, 119),
				CoveragePercent: report.CoveragePercent(184, 255)},
		},
		Flaky: []report.FlakyTest{
			{Name: "SHOP-1 checkout <retries> & \"pays\"", Suite: "e2e > checkout", Flips: 3, FlakyRuns: 1, Runs: 12,
				Stories: []string{"SHOP-1", "SHOP-2"}},
			{Name: "search suggests", Suite: "ui", FlakyRuns: 1, Runs: 20, Stories: []string{}},
		},
	}
}

// bigProject has n stories, a mix of statuses and coverage.
func bigProject(n int) *report.Project {
	p := shopProject()
	p.Stories = nil
	statuses := []string{report.StatusPassed, report.StatusFailed, report.StatusSkipped, report.StatusNoTests}
	for i := range n {
		total := 100 + i%50
		p.Stories = append(p.Stories, report.Story{
			Key: fmt.Sprintf("SHOP-%d", i+1), CoveragePercent: report.CoveragePercent(i%total, total),
			CoveredMethods: ptr(i % total), TotalMethods: ptr(total),
			Tests: report.TestCounts{Passed: i % 7, Failed: i % 3}, Status: statuses[i%4],
			LastRun: &report.RunRef{ID: "r482", Name: "build 482 — ünïcödé 日本語", StartedAt: t0, Release: "2.4.0"},
		})
	}
	return p
}
