package bench

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	"github.com/covsync/covsync/connectors/confluence/confluencesim"
	"github.com/covsync/covsync/sync/engine"
	"github.com/covsync/covsync/sync/ledger"
	"github.com/covsync/covsync/sync/push"
)

// reconcile runs one reconcile cycle of kinds (all when none).
func (s *scenario) reconcile(dry bool, kinds ...string) map[string]engine.Summary {
	s.t.Helper()
	sums, err := s.b.runner.RunProject(context.Background(), s.env.workload.Project, kinds,
		engine.Options{Reconcile: true, DryRun: dry, Trigger: ledger.TriggerResync})
	if err != nil {
		s.t.Fatalf("reconcile (dry run %v): %v", dry, err)
	}
	out := map[string]engine.Summary{}
	for _, x := range sums {
		out[x.Kind] = x
	}
	return out
}

// writes counts the acknowledged writes of every target kind since the last resetTraffic.
func (s *scenario) writes() map[string]int {
	return map[string]int{
		push.TargetJira: s.env.traffic(push.TargetJira).writes, push.TargetADO: s.env.traffic(push.TargetADO).writes,
		push.TargetConfluence: s.env.traffic(push.TargetConfluence).writes,
	}
}

func TestReconcileHealsOutOfBandChangesInEveryTargetAndNothingElse(t *testing.T) {
	s := newScenario(t, false, nil)
	s.recover()
	p := s.report()
	ids := s.env.jiraFieldIDs
	key := func(i int) string { return p.Stories[i].Key }

	// Out-of-band changes of several kinds, and some that are equal by meaning or not covsync's.
	s.env.jira.SetIssueField(key(0), ids["Test Coverage"], 1.5)                                                  // a number overwritten
	s.env.jira.SetIssueField(key(1), ids["Test Coverage Summary"], nil)                                          // a text cleared
	s.env.jira.SetIssueField(key(2), ids["Test Status"], "flaky")                                                // a text changed
	s.env.jira.SetIssueField(key(3), ids["Test Coverage Summary"], "")                                           // cleared too (empty equals cleared)
	s.env.jira.SetIssueField(key(4), ids["Test Coverage"], s.env.jira.IssueFields(key(4))[ids["Test Coverage"]]) // same value
	prefix := s.env.workload.Prefix
	var prop map[string]any
	_ = json.Unmarshal(s.env.jira.Property(prefix, "jira-test-manager.linked-test-runs"), &prop)
	prop["owner"] = "qa-team" // a key covsync does not own: kept, never drift
	for _, rel := range prop["releases"].(map[string]any) {
		rel.(map[string]any)["runs"] = []any{} // a person emptied one release's runs
		break
	}
	raw, _ := json.Marshal(prop)
	s.env.jira.SetProperty(prefix, "jira-test-manager.linked-test-runs", raw)
	docID := func(i int) string { return strconv.Itoa(s.env.adoIDs[key(i)]) }
	s.env.ado.DeleteDocument(benchADOPublisher, benchADOExtension, benchADOCollection, docID(5)) // deleted
	d6, _ := s.env.ado.Document(benchADOPublisher, benchADOExtension, benchADOCollection, docID(6))
	d6["status"] = "hacked" // a covsync key changed
	s.env.ado.PutDocument(benchADOPublisher, benchADOExtension, benchADOCollection, d6)
	d7, _ := s.env.ado.Document(benchADOPublisher, benchADOExtension, benchADOCollection, docID(7))
	d7["note"] = "a key of someone else" // not covsync's: not drift
	s.env.ado.PutDocument(benchADOPublisher, benchADOExtension, benchADOCollection, d7)
	pageID, _, _, _ := s.page()
	s.env.confluence.EditPage(pageID, confluencesim.Edit{By: "j.doe", Body: "<p>my notes</p>"})
	s.env.resetTraffic()

	// A normal cycle trusts the ledger and misses all of it.
	if sums, err := s.run(context.Background()); err != nil || pushedTotal(sums) != 0 {
		t.Fatalf("normal cycle after out-of-band changes: %+v, err %v; want nothing pushed", sums, err)
	}

	dry := s.reconcile(true)
	if w := s.writes(); w[push.TargetJira]+w[push.TargetADO]+w[push.TargetConfluence] != 0 {
		t.Fatalf("dry run wrote: %v", w)
	}
	want := map[string]int{push.TargetJira: 4, push.TargetLinkedRuns: 1, push.TargetADO: 2, push.TargetConfluence: 1}
	for k, n := range want {
		if dry[k].Drifted != n || len(dry[k].WouldPush) != n {
			t.Errorf("dry run %s: drifted %d, lists %+v; want %d", k, dry[k].Drifted, dry[k].WouldPush, n)
		}
	}
	var listed []string
	for _, c := range dry[push.TargetJira].WouldPush {
		for _, d := range c.Drift {
			listed = append(listed, c.Key+" "+d.String())
		}
	}
	if got := strings.Join(listed, "\n"); !strings.Contains(got, key(0)+` coverage_percent "Test Coverage"`) || !strings.Contains(got, ": 1.5 → ") ||
		!strings.Contains(got, key(2)+` test_status "Test Status"`) || !strings.Contains(got, "flaky → ") {
		t.Errorf("dry run does not name the fields (held → desired):\n%s", got)
	}
	if d := dry[push.TargetADO].WouldPush; len(d) == 2 && (d[0].Drift[0].Held != "(missing)" && d[1].Drift[0].Held != "(missing)") {
		t.Errorf("ado dry run: %+v; want the deleted document listed as missing", d)
	}

	s.env.resetTraffic()
	healed := s.reconcile(false)
	w := s.writes()
	for k, n := range want {
		if healed[k].Drifted != n || healed[k].Pushed != n || healed[k].Failed != 0 {
			t.Errorf("reconcile %s: %+v; want %d drifted and pushed", k, healed[k], n)
		}
	}
	// Writes are the drifted items exactly: one PUT per Jira issue and the property's one PUT; one
	// document write each; the page and its mark.
	if w[push.TargetJira] != 4+1 || w[push.TargetADO] != 2 || w[push.TargetConfluence] != 2 {
		t.Errorf("reconcile writes %v; want jira 5 (4 issues + the property), ado 2, confluence 2 (page + mark)", w)
	}
	if jq, _ := s.env.jira.Searches(); jq != 1 || s.env.jira.Count("GET", "/rest/api/2/issue/") != 0 {
		t.Errorf("jira read back in %d searches and %d issue GETs; want 1 search (24 keys) and none", jq, s.env.jira.Count("GET", "/rest/api/2/issue/"))
	}
	listings, batches, oneByOne := 0, 0, 0
	for _, r := range s.env.ado.Requests() {
		path := strings.ToLower(r.Path)
		switch {
		case r.Method == "GET" && strings.HasSuffix(path, "/documents"):
			listings++
		case r.Method == "POST" && strings.HasSuffix(path, "/_apis/wit/workitemsbatch"):
			batches++
		case r.Method == "GET" && (strings.Contains(path, "/documents/") || strings.Contains(path, "/_apis/wit/workitems")):
			oneByOne++
		}
	}
	// The drifted documents' work items (mapped from the cache) are checked in one batch, not each alone.
	if listings != 1 || batches != 1 || oneByOne != 0 {
		t.Errorf("ado read back in %d listings, %d workitemsbatch and %d other reads; want 1, 1 and 0", listings, batches, oneByOne)
	}
	s.verify()
	var kept map[string]any
	_ = json.Unmarshal(s.env.jira.Property(prefix, "jira-test-manager.linked-test-runs"), &kept)
	if kept["owner"] != "qa-team" {
		t.Errorf("the property lost a key covsync does not own: %v", kept)
	}
	if d, _ := s.env.ado.Document(benchADOPublisher, benchADOExtension, benchADOCollection, docID(7)); d["note"] != "a key of someone else" {
		t.Errorf("document %s lost a key covsync does not own: %v", docID(7), d)
	}

	// A second reconcile, then a normal cycle: nothing to write.
	s.env.resetTraffic()
	again := s.reconcile(false)
	for k, x := range again {
		if x.Drifted != 0 || x.Pushed != 0 {
			t.Errorf("second reconcile %s: %+v; want nothing drifted or pushed", k, x)
		}
	}
	if sums, err := s.run(context.Background()); err != nil || pushedTotal(sums) != 0 {
		t.Fatalf("normal cycle after the reconcile: %+v, err %v", sums, err)
	}
	if w := s.writes(); w[push.TargetJira]+w[push.TargetADO]+w[push.TargetConfluence] != 0 {
		t.Fatalf("second reconcile and the next cycle wrote %v; want nothing", w)
	}

	// A page deleted by a person is created again.
	s.env.confluence.DeletePage(pageID)
	if x := s.reconcile(false, push.TargetConfluence)[push.TargetConfluence]; x.Drifted != 1 || x.Pushed != 1 {
		t.Fatalf("reconcile after the page was deleted: %+v", x)
	}
	s.verify(push.TargetConfluence)
}

func pushedTotal(sums []engine.Summary) int {
	n := 0
	for _, x := range sums {
		n += x.Pushed
	}
	return n
}
