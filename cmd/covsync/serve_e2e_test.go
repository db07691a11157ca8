package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/covsync/covsync/connectors/jira/jirasim"
	"github.com/covsync/covsync/connectors/postgres"
	"github.com/covsync/covsync/internal/pgtest"
	"github.com/covsync/covsync/internal/testwait"
)

// TestServeSyncsOnScheduleAndExportsMetrics runs `covsync serve` with the engine, against a rate-limited
// jirasim: the start-up tick's cycle writes every story's fields, and /metrics shows the pushes, the 429s
// the site answered and the cycle's success time.
func TestServeSyncsOnScheduleAndExportsMetrics(t *testing.T) {
	ctx := context.Background()
	dbURL := pgtest.URL(t)
	pool, err := pgxpool.New(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()

	sim := jirasim.New(jirasim.Options{Email: demoEmail, Token: demoJiraToken, RequestsPerSecond: 4, Burst: 1})
	sim.AddProject("SHOP", "Shop")
	sim.AddIssues("SHOP", demoStories)
	sim.AddField("Test Coverage", jirasim.KindNumber)
	srv := sim.Start()
	defer srv.Close()

	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "jira_token"), []byte(demoJiraToken), 0o600); err != nil {
		t.Fatal(err)
	}
	port := testwait.ClosedPort(t)
	t.Setenv("COVSYNC_TEST_E2E_URL", dbURL)
	cfg := filepath.Join(dir, "covsync.yaml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(`database:
  url: ${COVSYNC_TEST_E2E_URL}
http: {listen: "127.0.0.1:%d"}
log: {level: warn}
schedules: {jira: "@every 1h"}
jira:
  - name: demo
    url: %s
    auth: {type: basic, email: %s, token_file: jira_token}
    requests_per_second: 50
    fields: {coverage_percent: Test Coverage}
projects:
  - id: shop
    jira: {target: demo, project_key: SHOP}
`, port, srv.URL, demoEmail)), 0o600); err != nil {
		t.Fatal(err)
	}
	mustRun(t, "migrate", "--config", cfg)
	if err := ingestDemoData(ctx, postgres.NewIngester(pool, "covsync_source")); err != nil {
		t.Fatal(err)
	}

	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	exit := make(chan int, 1)
	go func() { exit <- run(sctx, []string{"serve", "--config", cfg}) }()

	// RunOnStart: the first tick comes at start, not in an hour.
	testwait.Until(t, 60*time.Second, "every story's coverage field written", func() bool {
		for i := 1; i <= demoStories; i++ {
			if len(sim.IssueFields(fmt.Sprintf("SHOP-%d", i))) == 0 {
				return false
			}
		}
		return true
	})
	var metrics string
	testwait.Until(t, 60*time.Second, "the cycle on /metrics", func() bool {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", port))
		if err != nil {
			return false
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		metrics = string(b)
		return strings.Contains(metrics, `covsync_last_successful_cycle_timestamp_seconds{target="jira:demo/SHOP"}`)
	})
	for _, want := range []string{
		`covsync_items_total{outcome="pushed",target="jira:demo/SHOP"} 8`,
		`covsync_cycles_total{kind="jira",result="ok",target="jira:demo/SHOP"} 1`,
		`covsync_items_failing{target="jira:demo/SHOP"} 0`,
		`covsync_push_duration_seconds_count{target="jira:demo/SHOP"} 8`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if sim.CountStatus(http.StatusTooManyRequests) == 0 {
		t.Fatal("the site never answered 429: the rate-limit metric proves nothing")
	}
	if !strings.Contains(metrics, `covsync_rate_limited_total{target="jira:demo"} `) || strings.Contains(metrics, `covsync_rate_limited_total{target="jira:demo"} 0`) {
		t.Errorf("/metrics does not count the %d 429s:\n%s", sim.CountStatus(http.StatusTooManyRequests), grep(metrics, "rate_limited"))
	}

	cancel()
	select {
	case code := <-exit:
		if code != exitOK {
			t.Errorf("serve exited %d, want 0", code)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop")
	}
}

func grep(text, word string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(l, word) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
