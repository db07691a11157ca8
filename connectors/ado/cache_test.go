package ado_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/covsync/covsync/connectors/ado"
	"github.com/covsync/covsync/connectors/ado/adosim"
	"github.com/covsync/covsync/sync/push"
	"github.com/covsync/covsync/sync/report"
)

// cycleTargets builds a new target per call on one shared cache, as the daemon rebuilds its targets every
// cycle on the organization's cache.
func (f *fixture) cycleTargets(t *testing.T, edit func(*ado.Options)) func() *ado.Target {
	cache := ado.NewCache()
	return func() *ado.Target {
		return f.target(t, func(o *ado.Options) {
			o.Cache, o.MatchField = cache, "Custom.JiraKey"
			if edit != nil {
				edit(o)
			}
		})
	}
}

// planning returns the WIQL query texts and the batch work-item reads (their query strings) sent so far.
func (f *fixture) planning() (wiql, batches []string) {
	for _, r := range f.sim.Requests() {
		p := strings.ToLower(r.Path)
		switch {
		case r.Method == http.MethodPost && strings.HasSuffix(p, "/wit/wiql"):
			wiql = append(wiql, string(r.Body))
		case r.Method == http.MethodGet && strings.HasSuffix(p, "/wit/workitems"):
			batches = append(batches, r.Query)
		}
	}
	return wiql, batches
}

func mapped(items []push.Item) map[string]string {
	out := map[string]string{}
	for _, it := range items {
		out[it.Key] = it.Summary[:strings.Index(it.Summary, ":")]
	}
	return out
}

func TestAnUnchangedCycleOnTheCacheSendsNoRequest(t *testing.T) {
	f := newFixture(t, adosim.Options{})
	a := f.sim.AddWorkItem("Shop", map[string]any{"Custom.JiraKey": "SHOP-7"})
	b := f.sim.AddWorkItem("Shop", map[string]any{"Custom.JiraKey": "SHOP-8"})
	next := f.cycleTargets(t, nil)
	p := project(story("SHOP-7", 1, 2, 1, 0), story("SHOP-8", 1, 4, 0, 1))
	first := plan(t, next(), p)
	if wiql, batches := f.planning(); len(wiql) != 1 || len(batches) != 1 {
		t.Fatalf("first cycle: %d WIQL queries, %d batch reads, want 1 and 1", len(wiql), len(batches))
	}
	f.sim.ResetRequests()
	second := plan(t, next(), p)
	if n := len(f.sim.Requests()); n != 0 {
		t.Fatalf("second cycle sent %d requests, want none (resource areas and mapping cached)", n)
	}
	want := map[string]string{"SHOP-7": fmt.Sprint("work item ", a), "SHOP-8": fmt.Sprint("work item ", b)}
	if got := mapped(second); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("second cycle mapped %v, want %v", got, want)
	}
	for i := range first {
		if first[i].Hash != second[i].Hash {
			t.Fatalf("item %s: hash %s from the cache, %s when read: the ledger would push it again", first[i].Key, second[i].Hash, first[i].Hash)
		}
	}
}

func TestANewKeyIsQueriedAlone(t *testing.T) {
	f := newFixture(t, adosim.Options{})
	f.sim.AddWorkItem("Shop", map[string]any{"Custom.JiraKey": "SHOP-7"})
	b := f.sim.AddWorkItem("Shop", map[string]any{"Custom.JiraKey": "SHOP-8"})
	next := f.cycleTargets(t, nil)
	plan(t, next(), project(story("SHOP-7", 1, 2, 1, 0)))
	f.sim.ResetRequests()
	items := plan(t, next(), project(story("SHOP-7", 1, 2, 1, 0), story("SHOP-8", 1, 4, 0, 1)))
	wiql, batches := f.planning()
	if len(wiql) != 1 || !strings.Contains(wiql[0], "SHOP-8") || strings.Contains(wiql[0], "SHOP-7") {
		t.Fatalf("WIQL queries %q, want one naming SHOP-8 only", wiql)
	}
	if len(batches) != 1 || !strings.Contains(batches[0], fmt.Sprintf("ids=%d&", b)) && !strings.HasSuffix(batches[0], fmt.Sprintf("ids=%d", b)) {
		t.Fatalf("batch reads %q, want one of work item %d only", batches, b)
	}
	if got := mapped(items); got["SHOP-8"] != fmt.Sprint("work item ", b) || len(got) != 2 {
		t.Fatalf("mapped %v, want SHOP-8 → %d too", got, b)
	}
}

func TestAnOldMappingIsQueriedAgainAndAMovedKeyRemapped(t *testing.T) {
	f := newFixture(t, adosim.Options{})
	a := f.sim.AddWorkItem("Shop", map[string]any{"Custom.JiraKey": "SHOP-7"})
	now := t1
	next := f.cycleTargets(t, func(o *ado.Options) {
		o.RefreshEvery = time.Hour
		o.Now = func() time.Time { return now }
	})
	p := project(story("SHOP-7", 1, 2, 1, 0))
	plan(t, next(), p)
	// Someone moves the key to another work item.
	f.sim.EditWorkItem(a, map[string]any{"Custom.JiraKey": "SHOP-7-old"})
	c := f.sim.AddWorkItem("Shop", map[string]any{"Custom.JiraKey": "SHOP-7"})
	f.sim.ResetRequests()
	now = now.Add(59 * time.Minute)
	if got := mapped(plan(t, next(), p)); got["SHOP-7"] != fmt.Sprint("work item ", a) {
		t.Fatalf("within the hour: mapped %v, want the cached work item %d", got, a)
	}
	if wiql, _ := f.planning(); len(wiql) != 0 {
		t.Fatalf("within the hour: %d WIQL queries, want none", len(wiql))
	}
	now = now.Add(time.Minute)
	if got := mapped(plan(t, next(), p)); got["SHOP-7"] != fmt.Sprint("work item ", c) {
		t.Fatalf("after the hour: mapped %v, want the moved key on work item %d", got, c)
	}
	if wiql, _ := f.planning(); len(wiql) != 1 {
		t.Fatalf("after the hour: %d WIQL queries, want 1", len(wiql))
	}
}

func TestADeletedWorkItemFailsAloneAndLeavesTheCache(t *testing.T) {
	f := newFixture(t, adosim.Options{})
	a := f.sim.AddWorkItem("Shop", map[string]any{"Custom.JiraKey": "SHOP-7"})
	b := f.sim.AddWorkItem("Shop", map[string]any{"Custom.JiraKey": "SHOP-8"})
	next := f.cycleTargets(t, nil)
	plan(t, next(), project(story("SHOP-7", 1, 2, 1, 0), story("SHOP-8", 1, 4, 0, 1)))
	f.sim.DeleteWorkItem(a)
	// The stories change, so the cycle pushes both items from the cached mapping.
	p := project(story("SHOP-7", 2, 2, 2, 0), story("SHOP-8", 2, 4, 1, 1))
	tg := next()
	items := plan(t, tg, p)
	if len(items) != 2 {
		t.Fatalf("items = %+v, want both from the cache", items)
	}
	_, errs := pushAll(t, tg, items)
	if errs["SHOP-8"] != nil {
		t.Fatalf("SHOP-8: %v", errs["SHOP-8"])
	}
	if err := errs["SHOP-7"]; push.KindOf(err) != push.KindPermanent || !strings.Contains(err.Error(), fmt.Sprint(a)) {
		t.Fatalf("SHOP-7: %v, want a permanent error naming work item %d", err, a)
	}
	if _, ok := f.sim.Document(ext.Publisher, ext.ID, ext.Collection, fmt.Sprint(a)); ok {
		t.Fatalf("a document was written for the deleted work item %d", a)
	}
	if d := f.doc(t, b); d["status"] != "failed" {
		t.Fatalf("SHOP-8's document = %v", d)
	}
	f.sim.ResetRequests()
	tg = next()
	items = plan(t, tg, p)
	wiql, _ := f.planning()
	if len(wiql) != 1 || !strings.Contains(wiql[0], "SHOP-7") || strings.Contains(wiql[0], "SHOP-8") {
		t.Fatalf("WIQL queries %q, want one asking for SHOP-7 again", wiql)
	}
	if m := tg.LastMapping(); len(items) != 1 || len(m.Misses) != 1 || m.Misses[0].Story != "SHOP-7" {
		t.Fatalf("items %+v, mapping %+v: want SHOP-7 missed", items, m)
	}
}

func TestAResyncFromTheCacheChecksItsWorkItemsInBatches(t *testing.T) {
	f := newFixture(t, adosim.Options{})
	var stories, changed []report.Story
	ids := map[string]int{}
	for i := range 30 {
		key := fmt.Sprintf("SHOP-%d", i+1)
		ids[key] = f.sim.AddWorkItem("Shop", map[string]any{"Custom.JiraKey": key})
		stories = append(stories, story(key, 1, 2, 1, 0))
		changed = append(changed, story(key, 2, 2, 2, 0))
	}
	next := f.cycleTargets(t, nil)
	plan(t, next(), project(stories...))
	f.sim.DeleteWorkItem(ids["SHOP-30"])
	f.sim.ResetRequests()
	tg := next()
	_, errs := pushAll(t, tg, plan(t, tg, project(changed...)))
	for key, err := range errs {
		if (err != nil) != (key == "SHOP-30") {
			t.Fatalf("%s: %v; want only SHOP-30 (deleted) to fail", key, err)
		}
	}
	_, reads := f.planning()
	// The first 20 pushes check their work item one by one (a read of one id), then one batch read checks
	// the rest: 21 reads for 30 pushes, not 30.
	if len(reads) != 21 || strings.Count(reads[20], "%2C") < 9 {
		t.Fatalf("%d work item reads (last %q), want 20 of one id and one of all", len(reads), reads[len(reads)-1])
	}
}
