package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/covsync/covsync/connectors/ado/adosim"
	"github.com/covsync/covsync/internal/pgtest"
)

const adoTestPAT = "e2e-ado-pat-3c9d1f7a"

// adoWorld is a fresh database, a running ADO simulator with project Shop and the extension installed, and
// a config that maps project shop to it.
type adoWorld struct {
	cfg string
	sim *adosim.Sim
	srv *adosim.Servers
}

// newADOWorld writes a config whose ado mapping line is mapping (e.g. "match_field: Custom.JiraKey") and
// whose extension id is extID.
func newADOWorld(t *testing.T, o adosim.Options, mapping, extID string) *adoWorld {
	t.Helper()
	o.PAT = adoTestPAT
	sim := adosim.New(o)
	sim.AddProject("Shop")
	sim.AddCovsyncFields()
	sim.InstallExtension("acme", "story-coverage")
	srv := adosim.Start(t, sim)
	t.Setenv("COVSYNC_TEST_SOURCE_URL", pgtest.URL(t))
	t.Setenv("COVSYNC_TEST_ADO_URL", srv.OrgURL)
	t.Setenv("COVSYNC_TEST_ADO_PAT", adoTestPAT)
	cfg := fmt.Sprintf(`database:
  url: ${COVSYNC_TEST_SOURCE_URL}
log: {level: warn}
ado:
  - name: acme-ado
    organization_url: ${COVSYNC_TEST_ADO_URL}
    auth: {type: pat, token_env: COVSYNC_TEST_ADO_PAT}
    extension: {publisher: acme, id: %s, collection: coverage}
    requests_per_second: 200
projects:
  - id: shop
    ado: {target: acme-ado, project: Shop%s}
`, extID, mapping)
	p := filepath.Join(t.TempDir(), "covsync.yaml")
	if err := os.WriteFile(p, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return &adoWorld{cfg: p, sim: sim, srv: srv}
}

func TestCheckProbesTheADOProjectAndCollectionReadOnly(t *testing.T) {
	w := newADOWorld(t, adosim.Options{}, "", "story-coverage")
	mustRun(t, "migrate", "--config", w.cfg)
	out := mustRun(t, "check", "--config", w.cfg)
	if !strings.Contains(out, "ado:acme-ado/Shop") || strings.Contains(out, "❌") {
		t.Fatalf("check output:\n%s", out)
	}
	for _, r := range w.sim.Requests() {
		if r.Method != "GET" && r.Method != "OPTIONS" {
			t.Fatalf("check sent %s %s", r.Method, r.Path)
		}
	}

	bad := newADOWorld(t, adosim.Options{}, "", "not-installed")
	mustRun(t, "migrate", "--config", bad.cfg)
	code, out, errOut := execute(t, "check", "--config", bad.cfg)
	if code != exitDependency || !strings.Contains(out, "acme.not-installed") {
		t.Fatalf("check with an extension that is not installed: exit %d\n%s%s", code, out, errOut)
	}
	if strings.Contains(out+errOut, adoTestPAT) {
		t.Fatal("the PAT is in check's output")
	}
}

// resyncADO runs `covsync resync --target ado --output json` and decodes its output (docs/architecture.md,
// Contracts).
func resyncADO(t *testing.T, cfg string) (int, jsonTargets, string) {
	t.Helper()
	code, out, errOut := execute(t, "resync", "--config", cfg, "--target", "ado", "--output", "json")
	r := decode[jsonTargets](t, out)
	if len(r.Targets) != 1 || r.Targets[0].Target != "ado:acme-ado/Shop" {
		t.Fatalf("resync targets = %+v, want only ado:acme-ado/Shop", r.Targets)
	}
	return code, r, errOut
}

// TestResyncADOWritesTheDocumentsAndASecondRunWritesNothing is the ADO issue's "done when": data ingested
// from testdata/ctrf, `covsync resync --target ado` against adosim, then again.
func TestResyncADOWritesTheDocumentsAndASecondRunWritesNothing(t *testing.T) {
	w := newADOWorld(t, adosim.Options{}, ", match_field: Custom.JiraKey", "story-coverage")
	ids := map[string]int{}
	for _, key := range []string{"SHOP-1", "SHOP-2", "SHOP-3", "SHOP-12", "AB#101"} {
		ids[key] = w.sim.AddWorkItem("Shop", map[string]any{"Custom.JiraKey": key})
	} // SHOP-4 has no work item: reported as a miss, not failed
	ingestShopData(t, w.cfg)

	code, out, errOut := execute(t, "resync", "--config", w.cfg, "--target", "ado", "--dry-run", "--output", "json")
	dry := decode[jsonTargets](t, out)
	if code != exitOK || len(dry.Targets) != 1 || len(dry.Targets[0].WouldPush) != len(ids) {
		t.Fatalf("dry run: exit %d %+v %s", code, dry, errOut)
	}
	for _, q := range w.sim.Requests() {
		if q.IsDocumentWrite() || q.IsWorkItemWrite() {
			t.Fatalf("the dry run wrote: %s %s", q.Method, q.Path)
		}
	}
	w.sim.ResetRequests()

	code, r, errOut := resyncADO(t, w.cfg)
	if tr := r.Targets[0]; code != exitOK || tr.Planned != len(ids) || tr.Pushed != len(ids) || tr.Failed != 0 {
		t.Fatalf("first resync: exit %d %+v %s", code, r.Targets[0], errOut)
	}
	reqs := w.sim.Requests()
	t.Logf("first resync: %d requests for %d items = %.2f requests per item", len(reqs), len(ids), float64(len(reqs))/float64(len(ids)))

	var rep struct {
		Stories []struct {
			Key             string          `json:"key"`
			CoveragePercent *float64        `json:"coveragePercent"`
			CoveredMethods  *int            `json:"coveredMethods"`
			TotalMethods    *int            `json:"totalMethods"`
			Tests           json.RawMessage `json:"tests"`
			Status          string          `json:"status"`
			Flaky           int             `json:"flaky"`
		} `json:"stories"`
	}
	if err := json.Unmarshal([]byte(mustRun(t, "report", "--config", w.cfg, "--project", "shop", "--output", "json")), &rep); err != nil {
		t.Fatal(err)
	}
	checked, flaky := 0, 0
	for _, s := range rep.Stories {
		id, ok := ids[s.Key]
		if !ok {
			continue
		}
		d, found := w.sim.Document("acme", "story-coverage", "coverage", fmt.Sprint(id))
		if !found {
			t.Fatalf("no document for %s (work item %d)", s.Key, id)
		}
		tests, _ := json.Marshal(d["tests"])
		var wantTests, gotTests any
		_ = json.Unmarshal(s.Tests, &wantTests)
		_ = json.Unmarshal(tests, &gotTests)
		if fmt.Sprint(d["coveragePercent"]) != fmt.Sprint(derefOr(s.CoveragePercent)) || d["status"] != s.Status ||
			fmt.Sprint(wantTests) != fmt.Sprint(gotTests) || d["source"] != "covsync" || d["project"] != "shop" ||
			d["flakyTests"] != float64(s.Flaky) {
			t.Fatalf("document of %s = %v, report says %+v", s.Key, d, s)
		}
		checked++
		flaky += s.Flaky
	}
	if flaky == 0 {
		t.Fatal("no mapped story has a flaky test: the test data does not exercise flakyTests")
	}
	if checked != len(ids) {
		t.Fatalf("checked %d documents against the report, want %d", checked, len(ids))
	}

	w.sim.ResetRequests()
	code, r, errOut = resyncADO(t, w.cfg)
	if tr := r.Targets[0]; code != exitOK || tr.Pushed != 0 || tr.Failed != 0 {
		t.Fatalf("second resync: exit %d %+v %s", code, r.Targets[0], errOut)
	}
	for _, q := range w.sim.Requests() {
		if q.Method != "GET" && q.Method != "OPTIONS" && !strings.HasSuffix(strings.ToLower(q.Path), "/wiql") {
			t.Fatalf("the second, unchanged resync sent %s %s", q.Method, q.Path)
		}
	}
}

func TestResyncADOFailsAMissingWorkItemAloneWithExit1(t *testing.T) {
	w := newADOWorld(t, adosim.Options{}, "", "story-coverage") // id rule: AB#101 is work item 101, which does not exist
	ingestShopData(t, w.cfg)
	code, r, _ := resyncADO(t, w.cfg)
	tr := r.Targets[0]
	if code != exitItemFailed || tr.Failed != 1 || len(tr.Errors) != 1 || tr.Errors[0].Item != "AB#101" || !strings.Contains(tr.Errors[0].Error, "101") {
		t.Fatalf("resync with a missing work item: exit %d %+v", code, tr)
	}
}

func derefOr(p *float64) any {
	if p == nil {
		return nil
	}
	return *p
}

func TestResyncADOWithAnExpiredPATStopsTheTargetWithAClearMessage(t *testing.T) {
	w := newADOWorld(t, adosim.Options{}, "", "story-coverage")
	w.sim.AddWorkItem("Shop", nil) // work item 101, for AB#101
	ingestShopData(t, w.cfg)
	w.sim.ExpirePAT()
	w.sim.AlwaysSignInPage()
	code, out, errOut := execute(t, "resync", "--config", w.cfg, "--target", "ado", "--output", "json")
	if code != exitDependency || !strings.Contains(out+errOut, "personal access token is expired") {
		t.Fatalf("resync with an expired PAT: exit %d\n%s\n%s", code, out, errOut)
	}
	if strings.Contains(out+errOut, adoTestPAT) {
		t.Fatal("the PAT is in resync's output")
	}
	if n := w.sim.Documents("acme", "story-coverage", "coverage"); n != 0 {
		t.Fatalf("%d documents written with an expired PAT", n)
	}
}
