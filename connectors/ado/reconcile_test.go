package ado_test

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"testing"

	"github.com/covsync/covsync/connectors/ado"
	"github.com/covsync/covsync/connectors/ado/adosim"
	"github.com/covsync/covsync/sync/push"
	"github.com/covsync/covsync/sync/report"
)

func TestDriftReadsDocumentsAndFieldsInBatchesAndHealsOnlyWhatDrifted(t *testing.T) {
	f := newFixture(t, adosim.Options{})
	var stories []report.Story
	for range 450 {
		id := f.sim.AddWorkItem("Shop", map[string]any{"Custom.TestCoverage": 0.0, "Custom.TestStatus": ""})
		stories = append(stories, story(fmt.Sprint(id), 19, 20, 3, 0)) // 95%
	}
	tg := f.target(t, func(o *ado.Options) {
		o.Fields = map[string]string{ado.FieldCoveragePercent: "Custom.TestCoverage", ado.FieldTestStatus: "Custom.TestStatus"}
	})
	items := plan(t, tg, project(stories...))
	if _, errs := pushAll(t, tg, items); len(errs) != len(items) {
		t.Fatal("pushAll lost results")
	} else {
		for k, err := range errs {
			if err != nil {
				t.Fatalf("push %s: %v", k, err)
			}
		}
	}
	key := func(i int) string { return stories[i].Key }
	id := func(i int) int { var n int; fmt.Sscan(key(i), &n); return n }
	f.sim.DeleteDocument(ext.Publisher, ext.ID, ext.Collection, key(0)) // a document deleted
	d1 := f.doc(t, id(1))
	d1["coveragePercent"] = 12.0 // a covsync key changed
	f.sim.PutDocument(ext.Publisher, ext.ID, ext.Collection, d1)
	d2 := f.doc(t, id(2))
	d2["reviewedBy"] = "a.person" // a key not covsync's
	f.sim.PutDocument(ext.Publisher, ext.ID, ext.Collection, d2)
	f.sim.EditWorkItem(id(3), map[string]any{"Custom.TestStatus": "blocked"}) // a field changed
	f.sim.EditWorkItem(id(4), map[string]any{"Custom.TestCoverage": 95.0})    // the same value again
	f.sim.ResetRequests()

	// Plan again, as a reconcile cycle does, then read back.
	items = plan(t, tg, project(stories...))
	f.sim.ResetRequests()
	drift, err := tg.Drift(context.Background(), items)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for k, ds := range drift {
		for _, d := range ds {
			got = append(got, k+" "+d.String())
		}
	}
	sort.Strings(got)
	want := []string{
		key(0) + " document " + key(0) + ": (missing) → " + items[0].Summary,
		key(1) + " document.coveragePercent: 12 → 95",
		key(3) + " Custom.TestStatus: blocked → passed",
	}
	sort.Strings(want)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("drift:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	batches, listings, other := 0, 0, 0
	for _, r := range f.sim.Requests() {
		p := strings.ToLower(r.Path)
		switch {
		case r.Method == http.MethodOptions:
		case r.Method == http.MethodPost && strings.HasSuffix(p, "/_apis/wit/workitemsbatch"):
			batches++
		case r.Method == http.MethodGet && strings.HasSuffix(p, "/documents"):
			listings++
		default:
			other++
		}
	}
	if batches != 3 || listings != 1 || other != 0 {
		t.Fatalf("read back 450 items in %d workitemsbatch requests, %d listings and %d others; want 3 (200 ids each), 1 and 0", batches, listings, other)
	}

	f.sim.ResetRequests()
	var drifted []push.Item
	for _, it := range items {
		if drift[it.Key] != nil {
			drifted = append(drifted, it)
		}
	}
	if _, errs := pushAll(t, tg, drifted); errs[key(0)] != nil || errs[key(1)] != nil || errs[key(3)] != nil {
		t.Fatalf("heal: %v", errs)
	}
	docs, wis := f.writes()
	if docs != 2 || wis != 1 {
		t.Fatalf("healing wrote %d documents and %d work items; want 2 and 1", docs, wis)
	}
	if reads := len(f.statuses(http.MethodGet, "/documents/")) + len(f.statuses(http.MethodGet, "/workitems/")); reads != 0 {
		t.Fatalf("healing read %d items one by one; the read-back already had them", reads)
	}
	if d := f.doc(t, id(2)); d["reviewedBy"] != "a.person" {
		t.Fatalf("a key covsync does not own was lost: %v", d)
	}
	items = plan(t, tg, project(stories...))
	if again, err := tg.Drift(context.Background(), items); err != nil || len(again) != 0 {
		t.Fatalf("drift after healing: %v, %v", again, err)
	}
}
