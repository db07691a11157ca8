package jira

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/covsync/covsync/connectors/fieldtext"
	"github.com/covsync/covsync/sync/report"
	"github.com/covsync/covsync/templates"
)

var update = flag.Bool("update", false, "rewrite golden files")

func defaultSummary(t testing.TB) func(report.Story) string {
	t.Helper()
	src, err := templates.Default("jira/summary.tmpl")
	if err != nil {
		t.Fatal(err)
	}
	tmpl, err := parseSummary(string(src))
	if err != nil {
		t.Fatal(err)
	}
	return func(st report.Story) string {
		out, err := renderSummary(tmpl, project(st), st)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
}

// TestSummaryGolden renders the default template for the situations a story can be in; the golden file is
// what the text field shows (go test -run SummaryGolden -update rewrites it on purpose).
func TestSummaryGolden(t *testing.T) {
	render := defaultSummary(t)
	skipped := story("SHOP-3")
	skipped.Tests, skipped.Status = report.TestCounts{Skipped: 4}, report.StatusSkipped
	flaky := story("SHOP-7")
	flaky.Flaky = 2
	cases := []struct {
		name string
		st   report.Story
	}{
		{"covered story with a failed test", story("SHOP-1")},
		{"coverage but no linked tests", report.Story{Key: "SHOP-2", CoveragePercent: report.CoveragePercent(1, 3), CoveredMethods: ptr(1), TotalMethods: ptr(3), Status: report.StatusNoTests}},
		{"tests but no coverage data", report.Story{Key: "SHOP-4", Tests: report.TestCounts{Passed: 3}, Status: report.StatusPassed,
			LastRun: &report.RunRef{Name: "build 7", StartedAt: time.Date(2026, 1, 2, 23, 59, 0, 0, time.FixedZone("x", -5*3600))}}},
		{"only skipped tests", skipped},
		{"one passing test from a run without a name", report.Story{Key: "SHOP-6", Tests: report.TestCounts{Passed: 1}, Status: report.StatusPassed,
			LastRun: &report.RunRef{StartedAt: dataTime}}},
		{"nothing at all", report.Story{Key: "SHOP-5", Status: report.StatusNoTests}},
		{"two of its tests are flaky", flaky},
	}
	var b strings.Builder
	for _, c := range cases {
		b.WriteString(c.name + "\n\t" + render(c.st) + "\n")
	}
	path := filepath.Join("testdata", "summary.golden")
	if *update {
		if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if b.String() != string(want) {
		t.Errorf("summaries differ from %s:\n got:\n%s\nwant:\n%s", path, b.String(), want)
	}
}

// FuzzSummaryFitsATextField: whatever the data, the value sent to a single-line text field is valid UTF-8,
// one line, and at most 255 characters as Jira counts them (UTF-16 code units).
func FuzzSummaryFitsATextField(f *testing.F) {
	f.Add("build 482", 157, 200, 11, 1, 0)
	f.Add(strings.Repeat("é", 300), 0, 0, 0, 0, 0)
	f.Add(strings.Repeat("🚀", 200), 0, 0, 0, 0, 0) // astral: two UTF-16 units each, as Jira counts
	f.Add("release 🎉 "+strings.Repeat("x", 250), 1, 2, 3, 4, 5)
	f.Add("a\nb\tc\xff\xfe", -5, 3, 1<<30, -1, 7)
	render := defaultSummary(f)
	text := field{Role: roleCoverageSummary, Kind: kindText}
	f.Fuzz(func(t *testing.T, runName string, covered, total, passed, failed, skipped int) {
		st := report.Story{Key: "SHOP-1", Status: report.StatusFailed, Tests: report.TestCounts{Passed: passed, Failed: failed, Skipped: skipped},
			LastRun: &report.RunRef{Name: runName, StartedAt: dataTime}, Flaky: failed}
		if total != 0 {
			st.CoveragePercent, st.CoveredMethods, st.TotalMethods = report.CoveragePercent(covered, total), &covered, &total
		}
		v := text.shape(values{summary: render(st)})
		s, _ := v.(string)
		if !utf8.ValidString(s) || fieldtext.UTF16Len(s) > MaxTextChars || strings.ContainsAny(s, "\n\r\t") {
			t.Fatalf("bad value for a text field (%d UTF-16 units): %q", fieldtext.UTF16Len(s), s)
		}
	})
}

func TestASummaryTemplateInTheTemplatesDirOverridesTheDefault(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "jira"), 0o755)
	os.WriteFile(filepath.Join(dir, "jira", "summary.tmpl"), []byte(`{{ .Project.Name }}: {{ .Story.Key }} is {{ .Story.Status }}`), 0o644)
	e := newEnv(t, 1)
	s, err := NewSite(e.cfg, Options{Templates: templates.Set{Dir: dir}})
	if err != nil {
		t.Fatal(err)
	}
	target := s.IssueTarget("SHOP")
	items := plan(t, target, project(story("SHOP-1")))
	if _, err := target.Push(t.Context(), items[0]); err != nil {
		t.Fatal(err)
	}
	if got := e.sim.IssueFields("SHOP-1")[e.summary]; got != "Shop: SHOP-1 is failed" {
		t.Errorf("summary = %q", got)
	}

	os.WriteFile(filepath.Join(dir, "jira", "summary.tmpl"), []byte(`{{ .Story.Key `), 0o644)
	if _, err := NewSite(e.cfg, Options{Templates: templates.Set{Dir: dir}}); err == nil || !strings.Contains(err.Error(), "jira/summary.tmpl") {
		t.Errorf("a broken override: err = %v, want one naming jira/summary.tmpl", err)
	}
	os.WriteFile(filepath.Join(dir, "jira", "summary.tmpl"), []byte(`{{ .Story.Nope }}`), 0o644)
	s, _ = NewSite(e.cfg, Options{Templates: templates.Set{Dir: dir}})
	if _, err := s.IssueTarget("SHOP").Plan(t.Context(), project(story("SHOP-1"))); err == nil || !strings.Contains(err.Error(), "SHOP-1") {
		t.Errorf("a template that fails on a story: err = %v, want one naming the story", err)
	}
}
