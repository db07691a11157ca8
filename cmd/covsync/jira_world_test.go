package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/covsync/covsync/connectors/jira/jirasim"
	"github.com/covsync/covsync/internal/pgtest"
)

// jiraWorld is the whole loop of the Jira targets: a real PostgreSQL holding the shared CTRF reports (plus
// the ticket-linked ones of connectors/postgres/testdata) and a coverage file, a config pointing at a Jira
// simulator, and the real command line.
type jiraWorld struct {
	sim                *jirasim.Sim
	cfg                string
	percent, summary   string
	status, link, v240 string
	token              string
}

const jiraWorldToken = "jira-e2e-T0ken"

func newJiraWorld(t *testing.T) *jiraWorld {
	t.Helper()
	w := &jiraWorld{token: jiraWorldToken}
	w.sim = jirasim.New(jirasim.Options{Email: "qa-bot@acme.example", Token: w.token})
	srv := w.sim.Start()
	t.Cleanup(srv.Close)
	f := w.sim.AddCovsyncFields()
	w.percent, w.summary, w.status, w.link = f.Percent, f.Summary, f.Status, f.LastRun
	w.sim.AddProject("SHOP", "Shop")
	w.v240 = w.sim.AddVersion("SHOP", "2.4.0") // 2.5.0 has no Jira version: reported, not invented
	for _, k := range []string{"SHOP-1", "SHOP-2", "SHOP-3", "SHOP-4", "SHOP-12"} {
		w.sim.AddIssue(k)
	}
	w.sim.SetProperty("SHOP", "jira-test-manager.linked-test-runs", json.RawMessage(
		`{"version":1,"owner":"qa-team","releases":{"555":{"name":"1.0","runs":[{"id":"m1","source":"manual"}]}}}`))

	t.Setenv("COVSYNC_TEST_SOURCE_URL", pgtest.URL(t))
	t.Setenv("COVSYNC_TEST_JIRA_TOKEN", w.token)
	w.cfg = filepath.Join(t.TempDir(), "covsync.yaml")
	cfg := fmt.Sprintf(`database:
  url: ${COVSYNC_TEST_SOURCE_URL}
log: {level: debug, format: text}
jira:
  - name: acme
    url: %s
    auth: {type: basic, email: qa-bot@acme.example, token_env: COVSYNC_TEST_JIRA_TOKEN}
    requests_per_second: 200
    fields:
      coverage_percent: Test Coverage
      coverage_summary: Test Coverage Summary
      test_status: Test Status
      last_run_url: Last Test Run
projects:
  - id: shop
    jira: {target: acme, project_key: SHOP, linked_runs: true}
`, srv.URL)
	if err := os.WriteFile(w.cfg, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	ingestShopData(t, w.cfg)
	return w
}

// captureStderr runs f with os.Stderr redirected into a pipe and returns what was written.
func captureStderr(t *testing.T, f func()) string {
	t.Helper()
	r, wr, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	orig := os.Stderr
	os.Stderr = wr
	done := make(chan string)
	go func() {
		b, _ := io.ReadAll(r)
		done <- string(b)
	}()
	defer func() { os.Stderr = orig }()
	f()
	wr.Close()
	return <-done
}

func TestCheckProbesTheJiraSite(t *testing.T) {
	w := newJiraWorld(t)
	code, out, errOut := execute(t, "check", "--config", w.cfg)
	if code != exitOK || !strings.Contains(out, "jira:acme") || !strings.Contains(out, "project SHOP") {
		t.Fatalf("check exit %d:\n%s\n%s", code, out, errOut)
	}
	w.sim.ResetRequests()
	t.Setenv("COVSYNC_TEST_JIRA_TOKEN", "not-the-"+w.token)
	code, out, errOut = execute(t, "check", "--config", w.cfg)
	if code != exitDependency || !strings.Contains(out+errOut, "COVSYNC_TEST_JIRA_TOKEN") || strings.Contains(out+errOut, w.token) {
		t.Fatalf("check with a refused token: exit %d, want 3 naming the variable and not the token:\n%s\n%s", code, out, errOut)
	}
	for _, r := range w.sim.Requests() {
		if r.Method != "GET" {
			t.Errorf("check wrote: %s %s", r.Method, r.Path)
		}
	}
}
