package ado_test

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/covsync/covsync/connectors/ado"
	"github.com/covsync/covsync/connectors/ado/adosim"
	"github.com/covsync/covsync/sync/push"
	"github.com/covsync/covsync/sync/report"
)

// documentReads counts the GETs of single documents and of the whole collection.
func documentReads(f *fixture) (single, listings int) {
	for _, r := range f.sim.Requests() {
		if r.Method != http.MethodGet {
			continue
		}
		p := strings.ToLower(r.Path)
		switch {
		case strings.HasSuffix(p, "/documents"):
			listings++
		case strings.Contains(p, "/documents/"):
			single++
		}
	}
	return single, listings
}

func TestAResyncOfManyDocumentsListsTheCollectionOnceInsteadOfReadingEach(t *testing.T) {
	const n = 60
	f := newFixture(t, adosim.Options{})
	stories := f.stories(n)
	// Another tool's document for the last story: written through the listing, its key must survive.
	last := stories[n-1].Key
	f.sim.PutDocument(ext.Publisher, ext.ID, ext.Collection, map[string]any{"id": last, "otherTool": "kept"})
	tg := f.target(t, nil)
	p := project(stories...)

	_, errs := pushAll(t, tg, plan(t, tg, p))
	for k, err := range errs {
		if err != nil {
			t.Fatalf("%s: %v", k, err)
		}
	}
	single, listings := documentReads(f)
	if listings != 1 || single != 20 {
		t.Errorf("%d single reads and %d listings; want the first 20 pushes to read and then one listing", single, listings)
	}
	if docs, _ := f.writes(); docs != n {
		t.Errorf("%d document writes, want %d", docs, n)
	}
	var id int
	fmt.Sscan(last, &id)
	if d := f.doc(t, id); d["otherTool"] != "kept" || d["source"] != "covsync" {
		t.Errorf("document %s after a write through the listing: %v", last, d)
	}

	// A few changes later: the plain read-merge-write, no listing.
	f.sim.ResetRequests()
	p.Stories[0].Tests.Failed++
	items := plan(t, tg, p)
	if _, errs := pushAll(t, tg, items[:1]); errs[items[0].Key] != nil {
		t.Fatal(errs[items[0].Key])
	}
	if single, listings := documentReads(f); single != 1 || listings != 0 {
		t.Errorf("one changed story: %d single reads, %d listings; want 1 and 0", single, listings)
	}
}

func TestABareArrayListingCostsOneRequestPerItem(t *testing.T) {
	const n = 40
	f := newFixture(t, adosim.Options{BareListing: true})
	stories := f.stories(n)
	f.sim.PutDocument(ext.Publisher, ext.ID, ext.Collection, map[string]any{"id": "1", "unrelated": true}) // the collection exists
	tg := f.target(t, nil)
	items := plan(t, tg, project(stories...))
	f.sim.ResetRequests()
	for _, it := range items {
		if _, errs := pushAll(t, tg, []push.Item{it}); errs[it.Key] != nil {
			t.Fatalf("%s: %v", it.Key, errs[it.Key])
		}
	}
	single, listings := documentReads(f)
	if listings != 1 || single != 20 {
		t.Errorf("%d single reads and %d listings; want 20 and 1 (the listing read, not a read per document)", single, listings)
	}
	if got := len(f.sim.Requests()); got > n+21 {
		t.Errorf("%d requests for %d items, want at most %d", got, n, n+21)
	}
}

func TestAListingThatCannotBeReadFailsThePushesThatWantedIt(t *testing.T) {
	const n = 23
	f := newFixture(t, adosim.Options{})
	stories := f.stories(n)
	var mu sync.Mutex
	now := time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	tg := f.target(t, func(o *ado.Options) { o.Now = clock })
	items := plan(t, tg, project(stories...))
	for _, it := range items[:listAfterForTest] {
		if _, errs := pushAll(t, tg, []push.Item{it}); errs[it.Key] != nil {
			t.Fatal(errs[it.Key])
		}
	}
	f.sim.FailNext(http.StatusBadRequest)
	f.sim.ResetRequests()
	_, errs := pushAll(t, tg, items[listAfterForTest:listAfterForTest+1])
	if err := errs[items[listAfterForTest].Key]; err == nil || !strings.Contains(err.Error(), "listing the collection") {
		t.Fatalf("push after a failed listing: %v, want the listing's error", err)
	}
	if single, _ := documentReads(f); single != 0 {
		t.Errorf("%d single reads after the failed listing; want none (no silent fallback)", single)
	}
	// The failure is the answer for a while (one listing, not one per push, while the collection cannot be
	// read), not for the rest of the cycle: 10 s later the next push lists the collection again.
	next, last := items[listAfterForTest+1], items[listAfterForTest+2]
	if _, errs := pushAll(t, tg, []push.Item{next}); errs[next.Key] == nil {
		t.Errorf("the push right after a failed listing was written; want the listing's failure, kept")
	}
	if _, lists := documentReads(f); lists != 1 {
		t.Errorf("%d listings for two pushes within 10 s of the failure, want 1", lists)
	}
	mu.Lock()
	now = now.Add(11 * time.Second)
	mu.Unlock()
	if _, errs := pushAll(t, tg, []push.Item{last}); errs[last.Key] != nil {
		t.Errorf("a push 11 s after the failed listing: %v, want written (the collection listed again)", errs[last.Key])
	}
}

// listAfterForTest is the connector's listAfter: the pushes of a cycle that read their document alone.
const listAfterForTest = 20

// stories adds n work items to project Shop and returns a covered, passing story for each.
func (f *fixture) stories(n int) []report.Story {
	out := make([]report.Story, 0, n)
	for j := range n {
		out = append(out, story(fmt.Sprint(f.sim.AddWorkItem("Shop", nil)), j%10, 10, 1, 0))
	}
	return out
}
