package main

import (
	"encoding/json"
	"fmt"
	"html"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/covsync/covsync/connectors/confluence/confluencesim"
	"github.com/covsync/covsync/sync/report"
)

// confluenceConfig adds a Confluence site at siteURL and project shop's mapping to it (space QA under parent)
// to the source config at cfg. With jira, shop is also mapped to a Jira site, so story keys link to it;
// nothing here contacts that site.
func confluenceConfig(t *testing.T, cfg, siteURL, parent string, jira bool) {
	t.Helper()
	t.Setenv("COVSYNC_TEST_CONFLUENCE_TOKEN", confluenceTestToken)
	b, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	jiraSite, jiraMapping := "", ""
	if jira {
		jiraSite = `jira:
  - name: acme
    url: https://acme.atlassian.net
    auth: {type: basic, email: qa-bot@acme.example, token_env: COVSYNC_TEST_CONFLUENCE_TOKEN}
`
		jiraMapping = `
    jira: {target: acme, project_key: SHOP, linked_runs: true}`
	}
	b = fmt.Appendf(b, `%sconfluence:
  - name: acme-wiki
    url: %s
    auth: {type: basic, email: qa-bot@acme.example, token_env: COVSYNC_TEST_CONFLUENCE_TOKEN}
    on_manual_edit: skip
projects:
  - id: shop%s
    confluence: {target: acme-wiki, space: QA, parent_page_id: "%s"}
`, jiraSite, siteURL, jiraMapping, parent)
	if err := os.WriteFile(cfg, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

const confluenceTestToken = "conf-t0ken-never-logged"

// exampleConfluencePage is the page covsync publishes for testdata/ctrf: the docs show it, and the
// render and resync tests check they produce exactly it.
const exampleConfluencePage = "../../docs/confluence-page.example.html"

func TestRenderConfluenceShowsThePageASyncWouldPublish(t *testing.T) {
	cfg := sourceConfig(t)
	confluenceConfig(t, cfg, "http://127.0.0.1:9/wiki", "98765", true)
	ingestShopData(t, cfg)
	out := filepath.Join(t.TempDir(), "page.html")
	code, stdout, stderr := execute(t, "render", "confluence", "--config", cfg, "--project", "shop", "--out", out)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(stderr, "Test coverage: ") || stdout != "" {
		t.Errorf("stdout %q, stderr %q", stdout, stderr)
	}
	page, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if err := confluencesim.ParseStorage(string(page)); err != nil {
		t.Fatalf("rendered page: %v", err)
	}
	checkPageShowsReport(t, string(page), mustRun(t, "report", "--config", cfg, "--project", "shop", "--output", "json"))

	if updateGolden() {
		if err := os.WriteFile(exampleConfluencePage, page, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(exampleConfluencePage)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if string(page) != string(want) {
		t.Errorf("the rendered page differs from %s (run with -update after checking the change):\n%s", exampleConfluencePage, page)
	}

	// Without --out the page goes to stdout after a comment naming it.
	code, stdout, stderr = execute(t, "render", "confluence", "--config", cfg, "--project", "shop")
	if code != exitOK || !strings.HasPrefix(stdout, `<!-- covsync page "Test coverage: `) || !strings.HasSuffix(stdout, string(page)) {
		t.Errorf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
}

func TestRenderConfluenceRefusesAProjectWithoutAMapping(t *testing.T) {
	cfg := sourceConfig(t)
	confluenceConfig(t, cfg, "http://127.0.0.1:9/wiki", "98765", true)
	for _, args := range [][]string{
		{"--project", "web"},
		{},
	} {
		code, _, stderr := execute(t, append([]string{"render", "confluence", "--config", cfg}, args...)...)
		if code != exitUsage || !strings.Contains(stderr, "project") {
			t.Errorf("%v: exit %d, stderr %q", args, code, stderr)
		}
	}
}

// checkPageShowsReport checks that page shows every story of the report JSON with its numbers.
func checkPageShowsReport(t *testing.T, page, reportJSON string) {
	t.Helper()
	var p report.Project
	if err := json.Unmarshal([]byte(reportJSON), &p); err != nil {
		t.Fatal(err)
	}
	if len(p.Stories) == 0 {
		t.Fatal("the report has no stories: the test data did not load")
	}
	for _, s := range p.Stories {
		row := ""
		for _, line := range strings.Split(page, "\n") {
			if strings.Contains(line, ">"+s.Key+"<") {
				row = line
			}
		}
		if row == "" {
			t.Errorf("story %s is not on the page", s.Key)
			continue
		}
		want := []string{fmt.Sprintf("<td>%d</td><td>%d</td><td>%d</td>", s.Tests.Passed, s.Tests.Failed, s.Tests.Skipped), `"title">` + s.Status + "<"}
		if s.CoveragePercent != nil {
			want = append(want, fmt.Sprintf("<td>%.1f%%</td><td>%d/%d</td>", *s.CoveragePercent, *s.CoveredMethods, *s.TotalMethods))
		}
		for _, w := range want {
			if !strings.Contains(row, w) {
				t.Errorf("story %s: row lacks %q:\n%s", s.Key, w, row)
			}
		}
	}
	if p.LatestRun != nil && !strings.Contains(page, "latest run ") {
		t.Error("the page does not show the latest run")
	}
	// The chart's rows are the report's trend, oldest first, and the flaky table its flaky list.
	if len(p.Trend) == 0 || len(p.Flaky) == 0 {
		t.Fatalf("the report has %d trend points and %d flaky tests: the test data does not exercise them", len(p.Trend), len(p.Flaky))
	}
	pct := func(v *float64) string {
		if v == nil {
			return ""
		}
		return fmt.Sprintf("%.1f", *v)
	}
	var want []string
	for _, x := range p.Trend {
		want = append(want, fmt.Sprintf("<tr><td>%s</td><td>%s</td><td>%s</td></tr>", html.EscapeString(x.Release),
			pct(x.CoveragePercent), pct(x.PassRate)))
	}
	chart := page[strings.Index(page, `<ac:structured-macro ac:name="chart">`)+1:]
	chart = chart[:strings.Index(chart, "</ac:rich-text-body>")]
	if !strings.Contains(chart, "<tr><th>Release</th><th>Coverage %</th><th>Pass rate %</th></tr>\n"+strings.Join(want, "\n")+"\n") {
		t.Errorf("chart rows differ from the report's trend %q:\n%s", want, chart)
	}
	for _, f := range p.Flaky {
		row := fmt.Sprintf("<tr><td>%s</td><td>%s</td><td>%d</td><td>%d</td><td>%s</td></tr>", html.EscapeString(f.Name),
			html.EscapeString(f.Suite), f.Flips, f.Runs, html.EscapeString(strings.Join(f.Stories, ", ")))
		if !strings.Contains(page, row) {
			t.Errorf("flaky test %s/%s: no row %s", f.Suite, f.Name, row)
		}
	}
}
