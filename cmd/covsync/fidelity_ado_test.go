package main

import (
	"net/http"
	"strings"
	"testing"

	"github.com/covsync/covsync/connectors/ado/adosim"
)

func TestAFullADOResyncAgainstEveryServerVersion(t *testing.T) {
	for _, server := range append([]string{""}, adosim.ServerVersions...) {
		name := "Server " + server
		if server == "" {
			name = "Services"
		}
		t.Run(name, func(t *testing.T) {
			w := newADOWorld(t, adosim.Options{Server: server}, ", match_field: Custom.JiraKey", "story-coverage")
			editConfig(t, w.cfg, "    requests_per_second: 200\n",
				"    fields: {coverage_percent: Custom.TestCoverage, test_status: Custom.TestStatus, coverage_summary: Custom.CoverageSummary}\n")
			keys := []string{"SHOP-1", "SHOP-2", "SHOP-3", "SHOP-12"}
			for _, key := range keys {
				w.sim.AddWorkItem("Shop", map[string]any{"Custom.JiraKey": key})
			}
			ingestShopData(t, w.cfg)
			if code, out, errOut := execute(t, "check", "--config", w.cfg); code != exitOK {
				t.Fatalf("check: exit %d\n%s%s", code, out, errOut)
			}
			code, r, errOut := resyncADO(t, w.cfg)
			if tr := r.Targets[0]; code != exitOK || tr.Pushed != len(keys) || tr.Failed != 0 {
				t.Fatalf("resync: exit %d %+v\n%s", code, tr, errOut)
			}
			for _, q := range w.sim.Requests() {
				if q.Status == http.StatusBadRequest {
					t.Errorf("%s %s answered 400", q.Method, q.Path)
				}
			}
		})
	}
}

func TestAnADOFieldThatDoesNotFitStopsCheckAndResyncWithOneConfigurationError(t *testing.T) {
	w := newADOWorld(t, adosim.Options{}, ", match_field: Custom.JiraKey", "story-coverage")
	editConfig(t, w.cfg, "    requests_per_second: 200\n", "    fields: {coverage_percent: Custom.TestCoverag}\n")
	w.sim.AddWorkItem("Shop", map[string]any{"Custom.JiraKey": "SHOP-1"})
	ingestShopData(t, w.cfg)
	code, out, errOut := execute(t, "check", "--config", w.cfg)
	if code != exitUsage || !strings.Contains(out, "fields.coverage_percent") || !strings.Contains(out, "TF51535") {
		t.Fatalf("check: exit %d, want 2 naming fields.coverage_percent\n%s%s", code, out, errOut)
	}
	code, out, errOut = execute(t, "resync", "--config", w.cfg, "--target", "ado", "--output", "json")
	r := decode[struct {
		Targets []struct {
			Pushed, Failed int
			CycleError     string `json:"cycleError"`
		}
	}](t, out)
	if len(r.Targets) != 1 || code != exitUsage || r.Targets[0].Pushed != 0 || r.Targets[0].Failed != 0 ||
		!strings.Contains(r.Targets[0].CycleError, "fields.coverage_percent") {
		t.Fatalf("resync: exit %d %+v, want 2, one cycle error naming fields.coverage_percent and no item failed\n%s", code, r, errOut)
	}
	for _, q := range w.sim.Requests() {
		if q.IsDocumentWrite() || q.IsWorkItemWrite() {
			t.Fatalf("wrote %s %s", q.Method, q.Path)
		}
	}
}
