package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/covsync/covsync/connectors/jira/jirasim"
	"github.com/covsync/covsync/internal/fixture"
	"github.com/covsync/covsync/internal/pgtest"
)

// BenchmarkResync500StoriesAgainstJiraAt10PerSecond runs `covsync resync --target jira --target
// linked-runs` end to end: 500 stories ingested from a shared CTRF report (its tests repeated and tagged
// SHOP-1 … SHOP-500, one release) plus their coverage, against a Jira simulator that allows 10 requests/s,
// with covsync configured at 10/s. It reports requests per planned item, the 429s the site answered, the
// resync time and the writes of a second, unchanged resync.
//
//	go test -run XXX -bench Resync500StoriesAgainstJira -benchtime 1x ./cmd/covsync/   (about a minute)
func BenchmarkResync500StoriesAgainstJiraAt10PerSecond(b *testing.B) {
	const stories = 500
	for range b.N {
		b.StopTimer()
		sim := jirasim.New(jirasim.Options{Email: "qa-bot@acme.example", Token: "bench-token", RequestsPerSecond: 10})
		srv := sim.Start()
		sim.AddCovsyncFields()
		sim.AddProject("SHOP", "Shop")
		sim.AddVersion("SHOP", "2.4.0")
		sim.AddIssues("SHOP", stories)

		dir := b.TempDir()
		b.Setenv("COVSYNC_BENCH_DB", pgtest.URL(b))
		b.Setenv("COVSYNC_BENCH_JIRA_TOKEN", "bench-token")
		cfg := filepath.Join(dir, "covsync.yaml")
		write(b, cfg, fmt.Sprintf(`database: {url: "${COVSYNC_BENCH_DB}"}
log: {level: warn}
jira:
  - name: acme
    url: %s
    auth: {type: basic, email: qa-bot@acme.example, token_env: COVSYNC_BENCH_JIRA_TOKEN}
    requests_per_second: 10
    fields: {coverage_percent: Test Coverage, coverage_summary: Test Coverage Summary, test_status: Test Status, last_run_url: Last Test Run}
projects:
  - id: shop
    jira: {target: acme, project_key: SHOP, linked_runs: true}
`, srv.URL))
		report, coverage := fiveHundredStories(b, dir, stories)
		benchRun(b, "migrate", "--config", cfg)
		benchRun(b, "ingest", "ctrf", "--config", cfg, "--project", "shop", "--release", "2.4.0", report)
		benchRun(b, "ingest", "coverage", "--config", cfg, coverage)
		args := []string{"resync", "--config", cfg, "--output", "json", "--target", "jira", "--target", "linked-runs"}
		sim.ResetRequests()
		b.StartTimer()

		start := time.Now()
		out := benchRun(b, args...)
		took := time.Since(start)

		b.StopTimer()
		var res resyncJSON
		if err := json.Unmarshal([]byte(out), &res); err != nil {
			b.Fatalf("%v: %s", err, out)
		}
		planned, pushed := 0, 0
		for _, t := range res.Targets {
			planned += t.Planned
			pushed += t.Pushed
		}
		if pushed != stories+1 {
			b.Fatalf("pushed %d items, want %d: %s", pushed, stories+1, out)
		}
		requests, tooMany := len(sim.Requests()), sim.CountStatus(429)
		sim.ResetRequests()
		benchRun(b, args...)
		writes := 0
		for _, r := range sim.Requests() {
			if r.Method != "GET" {
				writes++
			}
		}
		srv.Close()
		b.ReportMetric(float64(requests)/float64(planned), "requests/item")
		b.ReportMetric(float64(tooMany), "429s")
		b.ReportMetric(took.Seconds(), "s/resync")
		b.ReportMetric(float64(writes), "writes-unchanged")
	}
}

// fiveHundredStories writes a CTRF report made from the shared vitest report, its tests repeated until there
// are n, test i tagged SHOP-i, and a coverage file for the same stories.
func fiveHundredStories(b *testing.B, dir string, n int) (reportPath, coveragePath string) {
	var doc map[string]any
	if err := json.Unmarshal(readFile(b, fixture.CTRF(b, "vitest-testream-reporter.json")), &doc); err != nil {
		b.Fatal(err)
	}
	results := doc["results"].(map[string]any)
	orig := results["tests"].([]any)
	tests := make([]any, n)
	passed, failed, skipped := 0, 0, 0
	for i := range tests {
		tc := map[string]any{}
		for k, v := range orig[i%len(orig)].(map[string]any) {
			tc[k] = v
		}
		tc["name"] = fmt.Sprintf("%s #%d", tc["name"], i)
		tc["tags"] = []string{fmt.Sprintf("SHOP-%d", i+1)}
		switch tc["status"] {
		case "passed":
			passed++
		case "failed":
			failed++
		default:
			tc["status"] = "skipped"
			skipped++
		}
		tests[i] = tc
	}
	results["tests"] = tests
	sum := results["summary"].(map[string]any)
	sum["tests"], sum["passed"], sum["failed"], sum["skipped"], sum["pending"], sum["other"] = n, passed, failed, skipped, 0, 0
	delete(doc, "reportId")
	reportPath = filepath.Join(dir, "ctrf-500.json")
	raw, _ := json.Marshal(doc)
	write(b, reportPath, string(raw))

	var cov strings.Builder
	cov.WriteString(`{"project":"shop","measuredAt":"2026-11-20T09:00:00Z","stories":[`)
	for i := 1; i <= n; i++ {
		if i > 1 {
			cov.WriteString(",")
		}
		fmt.Fprintf(&cov, `{"ticket":"SHOP-%d","coveredMethods":%d,"totalMethods":200}`, i, i%201)
	}
	cov.WriteString("]}")
	coveragePath = filepath.Join(dir, "coverage-500.json")
	write(b, coveragePath, cov.String())
	return reportPath, coveragePath
}

func write(b testing.TB, path, s string) {
	if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
		b.Fatal(err)
	}
}

func readFile(b testing.TB, path string) []byte {
	data, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	return data
}

// benchRun runs covsync in-process and fails unless it exits 0.
func benchRun(b *testing.B, args ...string) string {
	var out, errOut bytes.Buffer
	root := newRootCmd()
	root.SetArgs(args)
	root.SetOut(&out)
	root.SetErr(&errOut)
	if err := root.ExecuteContext(context.Background()); err != nil {
		b.Fatalf("covsync %s: %v\n%s", strings.Join(args, " "), err, errOut.String())
	}
	return out.String()
}
