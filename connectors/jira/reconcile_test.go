package jira

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/covsync/covsync/connectors/jira/jirasim"
	"github.com/covsync/covsync/sync/push"
	"github.com/covsync/covsync/sync/report"
)

func TestDriftReadsJiraInBatchesAndComparesByMeaning(t *testing.T) {
	for _, dep := range []string{jirasim.DeploymentCloud, jirasim.DeploymentDataCenter} {
		t.Run(dep, func(t *testing.T) {
			e := newEnv(t, 250)
			e.sim.SetDeployment(dep)
			site := e.site(t)
			tg := site.IssueTarget("SHOP")
			stories := storiesN(250)
			stories[5].CoveredMethods, stories[5].CoveragePercent = ptr(190), report.CoveragePercent(190, 200) // 95
			stories[6].LastRun = nil                                                                           // no run URL: the field is cleared
			items := plan(t, tg, project(stories...))
			for k, o := range pushAll(t, tg.Push, items, 4) {
				if o.err != nil {
					t.Fatalf("push %s: %v", k, o.err)
				}
			}
			e.sim.SetIssueField("SHOP-1", e.percent, 12.0)     // a person overwrote the number
			e.sim.SetIssueField("SHOP-2", e.summary, nil)      // an automation cleared the summary
			e.sim.SetIssueField("SHOP-3", e.status, "passed")  // a select changed
			e.sim.SetIssueField("SHOP-4", e.percent, 78.5)     // set again to the same value: no drift
			e.sim.SetIssueField("SHOP-7", e.link, "")          // empty equals cleared
			e.sim.SetIssueField("SHOP-8", e.summary, "  "+"x") // text compares exactly
			e.sim.ResetRequests()

			drift, err := tg.Drift(context.Background(), items)
			if err != nil {
				t.Fatal(err)
			}
			got := map[string][]string{}
			for k, ds := range drift {
				for _, d := range ds {
					got[k] = append(got[k], d.String())
				}
			}
			want := map[string][]string{
				"SHOP-1": {`coverage_percent "Test Coverage" (` + e.percent + `): 12 → 78.5`},
				"SHOP-2": {`coverage_summary "Test Coverage Summary" (` + e.summary + `): (empty) → 78.5% covered (157/200 methods) · 12 tests: 11 passed, 1 failed · build 482 · 2026-11-20`},
				"SHOP-3": {`test_status "Test Status" (` + e.status + `): passed → failed`},
				"SHOP-8": {`coverage_summary "Test Coverage Summary" (` + e.summary + `):   x → 78.5% covered (157/200 methods) · 12 tests: 11 passed, 1 failed · build 482 · 2026-11-20`},
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("drift:\n got %q\nwant %q", got, want)
			}
			jql, legacy := e.sim.Searches()
			wantJQL, wantLegacy := 3, 0
			if dep == jirasim.DeploymentDataCenter {
				wantJQL, wantLegacy = 0, 3
			}
			if jql != wantJQL || legacy != wantLegacy || e.sim.Count("GET", "/rest/api/2/issue") != 0 {
				t.Fatalf("%s: %d search/jql and %d search requests, %d issue GETs; want %d and %d and none (250 keys in batches of 100)",
					dep, jql, legacy, e.sim.Count("GET", "/rest/api/2/issue"), wantJQL, wantLegacy)
			}
			// 95 was stored and Jira reads it back as 95.0: still equal (SHOP-6 is not in the drift).
			found := false
			for _, r := range e.sim.Requests() {
				found = found || bytes.Contains(r.Body, []byte("SHOP-6"))
			}
			if !found || e.sim.IssueFields("SHOP-6")[e.percent] != 95.0 {
				t.Fatal("SHOP-6 was not read back, or does not hold 95")
			}

			var drifted []push.Item
			for _, it := range items {
				if drift[it.Key] != nil {
					drifted = append(drifted, it)
				}
			}
			for k, o := range pushAll(t, tg.Push, drifted, 2) {
				if o.err != nil {
					t.Fatalf("heal %s: %v", k, o.err)
				}
			}
			if again, err := tg.Drift(context.Background(), items); err != nil || len(again) != 0 {
				t.Fatalf("drift after healing: %v, %v; want none", again, err)
			}

			// An issue deleted by a person is drift; the batch is asked again without it.
			e.sim.RemoveIssue("SHOP-150")
			e.sim.ResetRequests()
			drift, err = tg.Drift(context.Background(), items)
			if err != nil {
				t.Fatal(err)
			}
			keys := make([]string, 0, len(drift))
			for k := range drift {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			if !reflect.DeepEqual(keys, []string{"SHOP-150"}) || drift["SHOP-150"][0].Held != push.Missing {
				t.Fatalf("drift after deleting SHOP-150: %v", drift)
			}
			if jql, legacy = e.sim.Searches(); jql+legacy != 4 {
				t.Fatalf("%d searches with a deleted issue, want 4 (its batch asked again without it)", jql+legacy)
			}
		})
	}
}

func TestCloudAnswers410ToTheRemovedSearchAndDataCenterHasNoSearchJQL(t *testing.T) {
	e := newEnv(t, 1)
	post := func(path string) (int, string) {
		req, _ := http.NewRequest("POST", e.srv.URL+path, strings.NewReader(`{"jql":"issuekey in (SHOP-1)","fields":["summary"]}`))
		req.SetBasicAuth(testEmail, testToken)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b bytes.Buffer
		_, _ = b.ReadFrom(resp.Body)
		return resp.StatusCode, b.String()
	}
	if st, body := post("/rest/api/2/search"); st != http.StatusGone || !strings.Contains(body, "search/jql") {
		t.Fatalf("Cloud POST /rest/api/2/search: %d %s; want 410 pointing at search/jql", st, body)
	}
	if st, body := post("/rest/api/2/search/jql"); st != http.StatusOK || !strings.Contains(body, `"isLast":true`) {
		t.Fatalf("Cloud POST /rest/api/2/search/jql: %d %s", st, body)
	}
	e.sim.SetDeployment(jirasim.DeploymentDataCenter)
	if st, _ := post("/rest/api/2/search/jql"); st != http.StatusNotFound {
		t.Fatalf("Data Center POST /rest/api/2/search/jql: %d; want 404", st)
	}
	if st, body := post("/rest/api/2/search"); st != http.StatusOK || !strings.Contains(body, `"total":1`) {
		t.Fatalf("Data Center POST /rest/api/2/search: %d %s", st, body)
	}
}

func TestTheDeploymentIsAskedOnceAndAtlassianNetIsCloudWithoutAsking(t *testing.T) {
	e := newEnv(t, 3)
	e.sim.SetDeployment(jirasim.DeploymentDataCenter)
	site := e.site(t)
	tg := site.IssueTarget("SHOP")
	items := plan(t, tg, project(storiesN(3)...))
	for range 2 {
		if _, err := tg.Drift(context.Background(), items); err != nil {
			t.Fatal(err)
		}
	}
	if n := e.sim.Count("GET", "/rest/api/2/serverInfo"); n != 1 {
		t.Fatalf("serverInfo asked %d times over two reconciles, want once", n)
	}
	e.cfg.URL = "https://acme.atlassian.net"
	cloud, err := e.site(t).isCloud(context.Background())
	if err != nil || !cloud {
		t.Fatalf("acme.atlassian.net: cloud %v, err %v; want Cloud without a request", cloud, err)
	}
}

func TestAJiraReconcileOf5000StoriesReadsInAtMost60Requests(t *testing.T) {
	e := newEnv(t, 5000)
	tg := e.site(t).IssueTarget("SHOP")
	items := plan(t, tg, project(storiesN(5000)...))
	drift, err := tg.Drift(context.Background(), items)
	if err != nil {
		t.Fatal(err)
	}
	if len(drift) != 5000 { // nothing was ever pushed: every story is drift
		t.Fatalf("%d drifted of 5000 never-pushed stories", len(drift))
	}
	if n := len(e.sim.Requests()); n > 60 {
		t.Fatalf("plan and read-back of 5,000 stories took %d requests, want at most 60", n)
	}
	if jql, _ := e.sim.Searches(); jql != 50 {
		t.Fatalf("%d searches for 5,000 keys, want 50", jql)
	}
}

func TestPropertyDriftComparesCovsyncsEntriesAfterTheMerge(t *testing.T) {
	e := newEnv(t, 0)
	target := e.site(t).PropertyTarget("SHOP")
	p := releaseProject(3)
	pushProperty(t, target, p)
	items := plan(t, target, p)
	driftOf := func() push.Drift {
		t.Helper()
		e.sim.ResetRequests()
		d, err := target.Drift(context.Background(), items)
		if err != nil {
			t.Fatal(err)
		}
		if n := e.sim.Count("GET", "/rest/api/2/project/SHOP/properties/"); n != 1 || len(e.sim.Requests()) != 1 {
			t.Fatalf("read back in %d requests (%d property GETs), want the one property GET", len(e.sim.Requests()), n)
		}
		return d
	}
	if d := driftOf(); len(d) != 0 {
		t.Fatalf("drift of the property as covsync wrote it: %v", d)
	}

	// Someone else's key and run entry: kept by the merge, so not drift.
	var v map[string]any
	_ = json.Unmarshal(e.sim.Property("SHOP", PropertyKey), &v)
	v["owner"] = "qa-team"
	rel := v["releases"].(map[string]any)[e.v240].(map[string]any)
	rel["runs"] = append(rel["runs"].([]any), map[string]any{"id": "m1", "source": "manual", "startedAt": "2020-01-01T00:00:00Z"})
	raw, _ := json.Marshal(v)
	e.sim.SetProperty("SHOP", PropertyKey, raw)
	if d := driftOf(); len(d) != 0 {
		t.Fatalf("drift from content covsync does not own: %v", d)
	}

	// One of covsync's runs removed by a person: drift, named by release.
	runs := rel["runs"].([]any)
	rel["runs"] = runs[1:]
	raw, _ = json.Marshal(v)
	e.sim.SetProperty("SHOP", PropertyKey, raw)
	d := driftOf()
	if got := d["property:SHOP"]; len(got) != 1 || got[0].String() != "releases."+e.v240+" covsync runs: 2 runs → 3 runs" {
		t.Fatalf("drift after a covsync run was removed: %v", d)
	}
	if _, err := target.Push(context.Background(), items[0]); err != nil {
		t.Fatal(err)
	}
	if d := driftOf(); len(d) != 0 {
		t.Fatalf("drift after healing: %v", d)
	}
	if kept, _ := readProp(t, e); kept.Version != 1 || !bytes.Contains(e.sim.Property("SHOP", PropertyKey), []byte(`"owner":"qa-team"`)) {
		t.Fatalf("healing lost what covsync does not own: %s", e.sim.Property("SHOP", PropertyKey))
	}

	// The property deleted: missing.
	e.sim.SetProperty("SHOP", PropertyKey, nil)
	if d := driftOf(); len(d["property:SHOP"]) != 1 || d["property:SHOP"][0].Held != push.Missing {
		t.Fatalf("drift of a deleted property: %v", d)
	}
}
