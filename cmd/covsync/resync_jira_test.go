package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

type resyncJSON struct {
	Targets []struct {
		Target                                     string
		Planned, Pushed, Unchanged, Failed, Pruned int
		Errors                                     []struct{ Item, Error string }
	}
}

// resync runs `covsync resync --output json` with args and returns its result, exit code and what it wrote
// to stderr, the daemon's log included (the logger writes to os.Stderr, captured here).
func (w *jiraWorld) resync(t *testing.T, args ...string) (resyncJSON, int, string) {
	t.Helper()
	var code int
	var out, errOut string
	logs := captureStderr(t, func() {
		code, out, errOut = execute(t, append([]string{"resync", "--config", w.cfg, "--output", "json"}, args...)...)
	})
	errOut += logs
	var res resyncJSON
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("resync exit %d, output is not JSON: %v\n%s\n%s", code, err, out, errOut)
	}
	return res, code, errOut
}

func (r resyncJSON) target(t *testing.T, name string) (planned, pushed, unchanged, failed int) {
	t.Helper()
	for _, x := range r.Targets {
		if x.Target == name {
			return x.Planned, x.Pushed, x.Unchanged, x.Failed
		}
	}
	t.Fatalf("no target %s in %+v", name, r)
	return
}

func TestResyncJiraAndLinkedRunsAgainstTheSimulator(t *testing.T) {
	w := newJiraWorld(t)

	// First resync: every SHOP story is written (AB#101 belongs to Azure Boards), the property is merged.
	both := []string{"--target", "jira", "--target", "linked-runs"}
	res, code, errOut := w.resync(t, both...)
	if code != exitOK {
		t.Fatalf("first resync exit %d: %+v\n%s", code, res, errOut)
	}
	if p, pu, _, f := res.target(t, "jira:acme/SHOP"); p != 5 || pu != 5 || f != 0 {
		t.Errorf("jira target: planned %d pushed %d failed %d, want 5 5 0", p, pu, f)
	}
	if p, pu, _, f := res.target(t, "linked-runs:acme/SHOP"); p != 1 || pu != 1 || f != 0 {
		t.Errorf("linked-runs target: planned %d pushed %d failed %d, want 1 1 0", p, pu, f)
	}
	f := w.sim.IssueFields("SHOP-1")
	if f[w.percent] != 78.5 || f[w.status].(map[string]any)["value"] != "failed" || !strings.HasPrefix(f[w.summary].(string), "78.5% covered") {
		t.Errorf("SHOP-1 fields = %v", f)
	}
	// SHOP-12's linked test was reported flaky (the report's flaky list): its summary says so.
	if sum, _ := w.sim.IssueFields("SHOP-12")[w.summary].(string); !strings.Contains(sum, " · 1 flaky") {
		t.Errorf("SHOP-12 summary %q lacks its flaky test count", sum)
	}
	if _, ok := w.sim.IssueFields("SHOP-4")[w.percent]; ok {
		t.Errorf("SHOP-4 has no coverage data, yet its coverage field is set")
	}
	prop := string(w.sim.Property("SHOP", "jira-test-manager.linked-test-runs"))
	for _, want := range []string{`"owner":"qa-team"`, `"m1"`, `"` + w.v240 + `":{`, `"source":"covsync"`, `"updatedAt":"20`} {
		if !strings.Contains(prop, want) {
			t.Errorf("property lacks %s: %s", want, prop)
		}
	}
	if strings.Contains(prop, `"2.5.0"`) {
		t.Errorf("release 2.5.0 has no Jira version but was written: %s", prop)
	}
	if strings.Contains(errOut, w.token) || !strings.Contains(errOut, "level=debug") {
		t.Errorf("debug log leaks the token, or is not at debug level:\n%s", errOut)
	}

	// Second resync, nothing changed: no write at all.
	w.sim.ResetRequests()
	res, code, _ = w.resync(t, both...)
	if _, pu, un, _ := res.target(t, "jira:acme/SHOP"); code != exitOK || pu != 0 || un != 5 {
		t.Errorf("unchanged resync: exit %d pushed %d unchanged %d", code, pu, un)
	}
	for _, r := range w.sim.Requests() {
		if r.Method != "GET" {
			t.Errorf("unchanged resync sent %s %s", r.Method, r.Path)
		}
	}

	// One story changes (new coverage): exactly one PUT, for that story.
	cov := filepath.Join(t.TempDir(), "cov.json")
	os.WriteFile(cov, []byte(`{"project":"shop","measuredAt":"2026-11-21T08:00:00Z","stories":[{"ticket":"SHOP-2","coveredMethods":2,"totalMethods":3}]}`), 0o600)
	mustRun(t, "ingest", "coverage", "--config", w.cfg, cov)
	w.sim.ResetRequests()
	w.resync(t, "--target", "jira")
	var puts []string
	for _, r := range w.sim.Requests() {
		if r.Method == "PUT" {
			puts = append(puts, r.Path)
		}
	}
	if len(puts) != 1 || puts[0] != "/rest/api/2/issue/SHOP-2" {
		t.Errorf("after one story changed, PUTs = %v, want exactly SHOP-2", puts)
	}

	// An issue deleted in Jira fails alone; the exit code says some items failed.
	w.sim.RemoveIssue("SHOP-12")
	res, code, _ = w.resync(t, "--target", "jira", "--force")
	_, pu, _, failed := res.target(t, "jira:acme/SHOP")
	if code != exitItemFailed || failed != 1 || pu != 4 {
		t.Errorf("forced resync with SHOP-12 gone: exit %d pushed %d failed %d, want 1, 4, 1", code, pu, failed)
	}
	for _, x := range res.Targets {
		for _, e := range x.Errors {
			if e.Item != "SHOP-12" || !strings.Contains(e.Error, "Issue does not exist") {
				t.Errorf("error %+v, want SHOP-12 with Jira's message", e)
			}
		}
	}
}

func TestResyncWithAJiraFieldNameMatchingNoFieldExits2(t *testing.T) {
	w := newJiraWorld(t)
	b, err := os.ReadFile(w.cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(w.cfg, []byte(strings.Replace(string(b), "test_status: Test Status", "test_status: Tset Status", 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	w.sim.ResetRequests()
	res, code, errOut := w.resync(t, "--target", "jira")
	if code != exitUsage {
		t.Fatalf("exit %d, want 2 (a configuration error, not an outage): %+v\n%s", code, res, errOut)
	}
	if !strings.Contains(errOut, "fields.test_status: no field named") || !strings.Contains(errOut, "Tset Status") {
		t.Errorf("the log does not name the field:\n%s", errOut)
	}
	for _, r := range w.sim.Requests() {
		if r.Method != "GET" {
			t.Errorf("a misconfigured target wrote: %s %s", r.Method, r.Path)
		}
	}
}
