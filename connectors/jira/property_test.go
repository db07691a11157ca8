package jira

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/covsync/covsync/connectors/jira/jirasim"
	"github.com/covsync/covsync/sync/push"
	"github.com/covsync/covsync/sync/report"
)

func run(id string, at time.Time) report.Run {
	return report.Run{ID: id, Name: "build " + id, Status: report.StatusPassed, Tests: 120, Passed: 118, Failed: 2,
		StartedAt: at, URL: "https://ci.example/builds/" + id + "?tab=tests&x=1"}
}

// releaseProject has release 2.4.0 with n runs one hour apart, newest first, and release 9.9.9 that Jira
// does not know.
func releaseProject(n int) *report.Project {
	p := project()
	rel := report.Release{Name: "2.4.0"}
	for i := 0; i < n; i++ {
		rel.Runs = append(rel.Runs, run(fmt.Sprintf("r%03d", n-1-i), dataTime.Add(-time.Duration(i)*time.Hour)))
	}
	p.Releases = []report.Release{rel, {Name: "9.9.9", Runs: []report.Run{run("x1", dataTime)}}}
	return p
}

type propValue struct {
	Version   int    `json:"version"`
	UpdatedAt string `json:"updatedAt"`
	Releases  map[string]struct {
		Name string `json:"name"`
		Runs []any  `json:"runs"`
	} `json:"releases"`
}

func readProp(t *testing.T, e *env) (propValue, json.RawMessage) {
	t.Helper()
	raw := e.sim.Property("SHOP", PropertyKey)
	var v propValue
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatalf("property %s: %v", raw, err)
	}
	return v, raw
}

func pushProperty(t *testing.T, target *PropertyTarget, p *report.Project) push.Result {
	t.Helper()
	items := plan(t, target, p)
	if len(items) != 1 || items[0].Key != "property:SHOP" {
		t.Fatalf("planned %v", items)
	}
	res, err := target.Push(context.Background(), items[0])
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestPropertyIsWrittenInTheDocumentedShape(t *testing.T) {
	e := newEnv(t, 0)
	target := e.site(t).PropertyTarget("SHOP")
	res := pushProperty(t, target, releaseProject(3))
	v, raw := readProp(t, e)
	if v.Version != 1 || v.UpdatedAt != "2026-11-20T09:30:00Z" {
		t.Errorf("version %d updatedAt %q", v.Version, v.UpdatedAt)
	}
	rel, ok := v.Releases[e.v240]
	if !ok || rel.Name != "2.4.0" || len(rel.Runs) != 3 {
		t.Fatalf("release %s: %+v", e.v240, v.Releases)
	}
	first := rel.Runs[0].(map[string]any)
	if first["id"] != "r002" || first["source"] != "covsync" || first["tests"] != 120.0 || first["startedAt"] != "2026-11-20T09:30:00Z" {
		t.Errorf("newest run = %v", first)
	}
	if !strings.Contains(string(raw), "tab=tests&x=1") {
		t.Errorf("URL was escaped: %s", raw)
	}
	if len(v.Releases) != 1 || !strings.Contains(res.Note, "9.9.9") {
		t.Errorf("release unknown to Jira: releases %v, note %q (want it reported, not invented)", v.Releases, res.Note)
	}
}

func TestForeignContentIsKeptAcrossASync(t *testing.T) {
	e := newEnv(t, 0)
	foreign := fmt.Sprintf(`{"version":1,"owner":"qa-team","settings":{"colour":"green"},
	 "releases":{
	  "777":{"name":"1.0.0","pinned":true,"runs":[{"id":"manual-1","name":"manual","status":"passed"}]},
	  %q:{"name":"2.4.0","note":"keep me","runs":[
	     {"id":"ext-1","name":"nightly","status":"failed","startedAt":"2026-11-20T08:00:00Z","source":"jenkins"},
	     {"id":"old","name":"stale covsync","status":"passed","startedAt":"2026-01-01T00:00:00Z","source":"covsync"},
	     "not an object"]}}}`, e.v240)
	e.sim.SetProperty("SHOP", PropertyKey, json.RawMessage(foreign))
	target := e.site(t).PropertyTarget("SHOP")
	pushProperty(t, target, releaseProject(2))
	v, raw := readProp(t, e)
	for _, w := range []string{`"owner":"qa-team"`, `"colour":"green"`, `"pinned":true`, `"manual-1"`, `"note":"keep me"`, `"ext-1"`, `"source":"jenkins"`, `"not an object"`} {
		if !strings.Contains(string(raw), w) {
			t.Errorf("lost %s: %s", w, raw)
		}
	}
	if strings.Contains(string(raw), `"stale covsync"`) {
		t.Error("covsync's own stale run was kept; covsync's entries must be replaced")
	}
	var ids []string
	for _, r := range v.Releases[e.v240].Runs {
		m, _ := r.(map[string]any)
		ids = append(ids, fmt.Sprint(m["id"]))
	}
	// Newest first: r001 (09:30), ext-1 (08:00), r000 (08:30)… r000 is 08:30, so r001, r000, ext-1; the
	// entry without a start time last.
	if got := strings.Join(ids, ","); got != "r001,r000,ext-1,<nil>" {
		t.Errorf("run order = %s", got)
	}
}

func TestAnUnchangedPropertyIsNotWritten(t *testing.T) {
	e := newEnv(t, 0)
	target := e.site(t).PropertyTarget("SHOP")
	pushProperty(t, target, releaseProject(3))
	puts := e.sim.Count("PUT", "/rest/api/2/project/SHOP/properties/")
	res := pushProperty(t, target, releaseProject(3))
	if !res.NoChange || e.sim.Count("PUT", "/rest/api/2/project/SHOP/properties/") != puts {
		t.Errorf("second push of the same data: NoChange=%v, PUTs %d → %d", res.NoChange, puts, e.sim.Count("PUT", "/rest/api/2/project/SHOP/properties/"))
	}
	a, b := plan(t, target, releaseProject(3)), plan(t, target, releaseProject(3))
	if a[0].Hash != b[0].Hash {
		t.Error("the property item's hash depends on something other than the report")
	}
	newerCoverage := releaseProject(3)
	newerCoverage.DataAsOf = dataTime.Add(24 * time.Hour) // a coverage measurement: not the property's data
	if c := plan(t, target, newerCoverage); c[0].Hash != a[0].Hash {
		t.Error("a newer coverage measurement changed the property item")
	}
}

func TestThreeHundredRunsStayWithinTheCapAndKeepTheNewest(t *testing.T) {
	e := newEnv(t, 0)
	e.sim.SetProperty("SHOP", PropertyKey, json.RawMessage(`{"keep":"`+strings.Repeat("f", 2000)+`"}`))
	target := e.site(t).PropertyTarget("SHOP")
	res := pushProperty(t, target, releaseProject(300))
	v, raw := readProp(t, e)
	if len(raw) > MaxPropertyBytes {
		t.Fatalf("stored %d bytes", len(raw))
	}
	for _, r := range e.sim.Requests() {
		if r.Method == "PUT" && len(r.Body) > MaxPropertyBytes {
			t.Fatalf("sent %d bytes", len(r.Body))
		}
	}
	runs := v.Releases[e.v240].Runs
	if res.Pruned == 0 || res.Pruned+len(runs) != 300 {
		t.Fatalf("pruned %d, kept %d, of 300", res.Pruned, len(runs))
	}
	id := func(r any) any { return r.(map[string]any)["id"] }
	if id(runs[0]) != "r299" || id(runs[len(runs)-1]) != fmt.Sprintf("r%03d", 300-len(runs)) {
		t.Errorf("kept %v … %v, want the newest", id(runs[0]), id(runs[len(runs)-1]))
	}
	if !strings.Contains(res.Note, "pruned") || !strings.Contains(string(raw), strings.Repeat("f", 2000)) {
		t.Errorf("note %q; foreign key kept: %v", res.Note, strings.Contains(string(raw), strings.Repeat("f", 2000)))
	}
	if MaxPropertyBytes-len(raw) > 400 {
		t.Errorf("pruned too much: %d bytes free", MaxPropertyBytes-len(raw))
	}
}

func TestForeignContentAloneOverTheCapIsNotOverwritten(t *testing.T) {
	e := newEnv(t, 0)
	huge := json.RawMessage(`{"keep":"` + strings.Repeat("f", MaxPropertyBytes-20) + `"}`)
	e.sim.SetProperty("SHOP", PropertyKey, huge)
	target := e.site(t).PropertyTarget("SHOP")
	items := plan(t, target, releaseProject(2))
	_, err := target.Push(context.Background(), items[0])
	if err == nil || push.KindOf(err) != push.KindPermanent || !strings.Contains(err.Error(), "does not own") {
		t.Fatalf("err = %v", err)
	}
	if string(e.sim.Property("SHOP", PropertyKey)) != string(huge) {
		t.Error("the stored value changed")
	}
}

func TestAConcurrentWriteBetweenReadAndWriteIsKept(t *testing.T) {
	e := newEnv(t, 0)
	e.sim.SetProperty("SHOP", PropertyKey, json.RawMessage(`{"version":1}`))
	e.sim.WriteBetweenGetAndPut(func(_, _ string, cur []byte) []byte {
		return []byte(`{"version":1,"other-tool":{"written":"meanwhile"}}`)
	})
	target := e.site(t).PropertyTarget("SHOP")
	pushProperty(t, target, releaseProject(2))
	_, raw := readProp(t, e)
	if !strings.Contains(string(raw), `"written":"meanwhile"`) || !strings.Contains(string(raw), `"r001"`) {
		t.Fatalf("property = %s", raw)
	}
}

func TestAPropertyWithoutPermissionIsFatal(t *testing.T) {
	e := newEnv(t, 0)
	e.sim.Deny(jirasim.PermAdministerProject)
	target := e.site(t).PropertyTarget("SHOP")
	items := plan(t, target, releaseProject(1))
	_, err := target.Push(context.Background(), items[0])
	if err == nil || push.KindOf(err) != push.KindFatal || !strings.Contains(err.Error(), "Administer Projects") {
		t.Fatalf("err = %v", err)
	}
}

func TestReleaseVersionIDFromTheDataWins(t *testing.T) {
	e := newEnv(t, 0)
	p := releaseProject(1)
	p.Releases[1].JiraVersionID = "424242"
	target := e.site(t).PropertyTarget("SHOP")
	res := pushProperty(t, target, p)
	v, _ := readProp(t, e)
	if _, ok := v.Releases["424242"]; !ok || res.Note != "" {
		t.Errorf("releases %v, note %q", v.Releases, res.Note)
	}
}

func TestMergeKeepsNonCovsyncReleasesByteForByte(t *testing.T) {
	stored := json.RawMessage(`{"releases":{"5":{"runs":[{"id":"a","x":[1,2,3]}],"z":{"deep":true}}}}`)
	out, pruned, err := mergeProperty(stored, propertyPayload{Releases: map[string]desiredRelease{}})
	if err != nil || pruned != 0 {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), `"5":{"runs":[{"id":"a","x":[1,2,3]}],"z":{"deep":true}}`) {
		t.Errorf("out = %s", out)
	}
	for _, bad := range []string{`[]`, `{"releases":[]}`, `{"releases":{"1":{"runs":{}}}}`} {
		if _, _, err := mergeProperty(json.RawMessage(bad), propertyPayload{}); err == nil {
			t.Errorf("%s: want an error, not an overwrite", bad)
		}
	}
}
