package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/covsync/covsync/connectors/confluence/confluencesim"
)

// confluenceWorld is a simulator with a space and a parent page, and a database with project shop
// ingested from testdata/ctrf, mapped to the simulator by the config at cfg.
type confluenceWorld struct {
	sim    *confluencesim.Server
	parent string
	cfg    string
	// output is everything the resyncs printed, debug logs included.
	output strings.Builder
}

func newConfluenceWorld(t *testing.T) *confluenceWorld {
	t.Helper()
	sim := confluencesim.New(confluencesim.Options{Email: "qa-bot@acme.example", Token: confluenceTestToken})
	home := sim.AddSpace("QA", "Quality")
	parent := sim.AddPage("QA", home, "Test reports", "<p>Reports live below.</p>", "admin")
	cfg := sourceConfig(t)
	confluenceConfig(t, cfg, confluencesim.Start(t, sim), parent, true)
	// Debug logs, so the check that the token never reaches the output has every log line to look at.
	writeFile(t, cfg, strings.Replace(mustReadFile(t, cfg), "level: warn", "level: debug", 1))
	ingestShopData(t, cfg)
	w := &confluenceWorld{sim: sim, parent: parent, cfg: cfg}
	t.Cleanup(func() {
		all := w.output.String()
		if !strings.Contains(all, `"msg":"http request"`) {
			t.Errorf("no debug line of an HTTP request to check:\n%s", all)
		}
		if strings.Contains(all, confluenceTestToken) {
			t.Errorf("resync printed the Confluence token:\n%s", all)
		}
	})
	return w
}

// resync runs `covsync resync --target confluence --output json` and returns the confluence target's summary.
func (w *confluenceWorld) resync(t *testing.T, extra ...string) map[string]any {
	t.Helper()
	var code int
	var out, errOut string
	logs := captureStderr(t, func() {
		code, out, errOut = execute(t, append([]string{"resync", "--config", w.cfg, "--target", "confluence", "--output", "json"}, extra...)...)
	})
	w.output.WriteString(out + errOut + logs)
	if code != exitOK {
		t.Fatalf("resync: exit %d: %s\n%s", code, errOut+logs, out)
	}
	var res struct {
		Targets []map[string]any `json:"targets"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("resync --output json: %v\n%s", err, out)
	}
	if len(res.Targets) != 1 || res.Targets[0]["target"] != "confluence:acme-wiki/QA/shop" {
		t.Fatalf("targets: %s", out)
	}
	return res.Targets[0]
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func mustReadFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func counts(s map[string]any) string {
	var b strings.Builder
	for _, k := range []string{"planned", "pushed", "unchanged", "skipped", "failed"} {
		b.WriteString(k + "=" + jsonNum(s[k]) + " ")
	}
	return strings.TrimSpace(b.String())
}

func jsonNum(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func TestResyncPublishesTheConfluencePageAndASecondSyncSendsNothing(t *testing.T) {
	w := newConfluenceWorld(t)

	if got := counts(w.resync(t)); got != "planned=1 pushed=1 unchanged=0 skipped=0 failed=0" {
		t.Fatalf("first resync: %s", got)
	}
	kids := w.sim.Children(w.parent)
	if len(kids) != 1 {
		t.Fatalf("%d pages under the parent, want 1", len(kids))
	}
	page := kids[0]
	if err := confluencesim.ParseStorage(page.Body); err != nil {
		t.Fatalf("published page: %v", err)
	}
	checkPageShowsReport(t, page.Body, mustRun(t, "report", "--config", w.cfg, "--project", "shop", "--output", "json"))
	want := mustReadFile(t, exampleConfluencePage)
	if page.Body != want {
		t.Errorf("the published page differs from %s (what covsync render confluence shows):\n%s", exampleConfluencePage, page.Body)
	}
	if strings.Join(page.Labels, ",") != "covsync,shop" || page.Properties["covsync.sync"].Version != 1 {
		t.Errorf("labels %v, properties %v", page.Labels, page.Properties)
	}

	// A second sync with the same data sends nothing at all: the ledger says the page is as planned.
	w.sim.ResetRequests()
	if got := counts(w.resync(t)); got != "planned=1 pushed=0 unchanged=1 skipped=0 failed=0" {
		t.Errorf("second resync: %s", got)
	}
	if rs := w.sim.Requests(); len(rs) != 0 {
		t.Errorf("the second sync sent %d requests, want none", len(rs))
	}

	// --force pushes anyway; the page already holds the hash, so that is the lookup and no write.
	w.sim.ResetRequests()
	if got := counts(w.resync(t, "--force")); got != "planned=1 pushed=1 unchanged=0 skipped=0 failed=0" {
		t.Errorf("forced resync: %s", got)
	}
	if ws := w.sim.Writes(); len(ws) != 0 {
		t.Errorf("a forced sync of an unchanged page wrote %d requests", len(ws))
	}
}

func TestResyncLeavesAPagePeopleEditedWhenTheConfigSaysSkip(t *testing.T) {
	w := newConfluenceWorld(t)
	w.resync(t)
	id := w.sim.Children(w.parent)[0].ID
	w.sim.EditPage(id, confluencesim.Edit{By: "jane.doe", Body: "<p>Jane's release notes</p>"})

	// New data: a newer coverage figure for SHOP-1 makes the page due.
	cov := filepath.Join(t.TempDir(), "coverage.json")
	writeFile(t, cov, `{"project":"shop","measuredAt":"2026-11-22T09:00:00Z","stories":[{"ticket":"SHOP-1","coveredMethods":190,"totalMethods":200}]}`)
	mustRun(t, "ingest", "coverage", "--config", w.cfg, cov)
	s := w.resync(t)
	if got := counts(s); got != "planned=1 pushed=0 unchanged=0 skipped=1 failed=0" {
		t.Errorf("resync after a manual edit: %s", got)
	}
	if pg, _ := w.sim.Page(id); pg.Body != "<p>Jane's release notes</p>" || pg.By != "jane.doe" {
		t.Errorf("the person's page was changed: %+v", pg)
	}
}

func TestCheckProbesTheConfluenceSpaceAndParentReadOnly(t *testing.T) {
	sim := confluencesim.New(confluencesim.Options{Email: "qa-bot@acme.example", Token: confluenceTestToken})
	home := sim.AddSpace("QA", "Quality")
	cfg := sourceConfig(t)
	confluenceConfig(t, cfg, confluencesim.Start(t, sim), home, false)
	mustRun(t, "migrate", "--config", cfg)
	code, out, errOut := execute(t, "check", "--config", cfg)
	if code != exitOK || !strings.Contains(out, "confluence:acme-wiki/QA/shop") || !strings.Contains(out, "space QA, parent page "+home) {
		t.Fatalf("check: exit %d\n%s\n%s", code, out, errOut)
	}
	if len(sim.Requests()) == 0 || len(sim.Writes()) != 0 {
		t.Errorf("check sent %d requests, %d of them writes; want reads only", len(sim.Requests()), len(sim.Writes()))
	}

	// A wrong token fails the probe with exit 3 and never shows the token.
	t.Setenv("COVSYNC_TEST_CONFLUENCE_TOKEN", "wrong-"+confluenceTestToken)
	code, out, errOut = execute(t, "check", "--config", cfg)
	if code != exitDependency || !strings.Contains(out, "401") || strings.Contains(out+errOut, confluenceTestToken) {
		t.Errorf("check with a wrong token: exit %d\n%s\n%s", code, out, errOut)
	}
}
