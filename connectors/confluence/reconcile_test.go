package confluence_test

import (
	"context"
	"strings"
	"testing"

	"github.com/covsync/covsync/connectors/confluence/confluencesim"
	"github.com/covsync/covsync/sync/push"
	"github.com/covsync/covsync/sync/report"
)

func drift(t *testing.T, e *env, tg interface {
	Plan(context.Context, *report.Project) ([]push.Item, error)
	Drift(context.Context, []push.Item) (push.Drift, error)
}) (push.Drift, []push.Item) {
	t.Helper()
	items, err := tg.Plan(context.Background(), shopProject())
	if err != nil {
		t.Fatal(err)
	}
	e.sim.ResetRequests()
	d, err := tg.Drift(context.Background(), items)
	if err != nil {
		t.Fatal(err)
	}
	if w := e.sim.Writes(); len(w) != 0 {
		t.Fatalf("reading back wrote: %s", describe(w))
	}
	return d, items
}

func TestDriftOfAPageComesFromItsVersionAndCovsyncsMark(t *testing.T) {
	e, tg := published(t)
	if d, _ := drift(t, e, tg); len(d) != 0 {
		t.Fatalf("drift of a page as covsync wrote it: %v", d)
	}
	if n := len(e.sim.Requests()); n != 2 {
		t.Fatalf("read back in %d requests, want 2 (the page by title, its covsync.sync property)", n)
	}

	pg := e.sim.PagesTitled(space, title)[0]
	e.sim.EditPage(pg.ID, confluencesim.Edit{By: "j.doe", Body: "<p>mine</p>"})
	d, items := drift(t, e, tg)
	if got := d[items[0].Key]; len(got) != 1 || got[0].Field != "body" || !strings.Contains(got[0].Held, "edited by j.doe at version 2") {
		t.Fatalf("drift after a person's edit: %v", d)
	}

	mustSync(t, tg, shopProject())
	if d, _ := drift(t, e, tg); len(d) != 0 {
		t.Fatalf("drift after healing: %v", d)
	}

	e.sim.DeletePage(pg.ID)
	d, items = drift(t, e, tg)
	if got := d[items[0].Key]; len(got) != 1 || got[0].Held != push.Missing {
		t.Fatalf("drift after the page was deleted: %v", d)
	}
	mustSync(t, tg, shopProject())
	if ps := e.sim.PagesTitled(space, title); len(ps) != 1 {
		t.Fatalf("%d pages after healing a deleted page, want it created again", len(ps))
	}
}

func TestAPersonsEditIsNotDriftUnderOnManualEditSkip(t *testing.T) {
	e, tg := published(t, onManualEdit(true))
	pg := e.sim.PagesTitled(space, title)[0]
	e.sim.EditPage(pg.ID, confluencesim.Edit{By: "j.doe", Body: "<p>mine</p>"})
	if d, _ := drift(t, e, tg); len(d) != 0 {
		t.Fatalf("drift of a page a person edited, on_manual_edit skip: %v; want none (the config keeps the edit)", d)
	}
}
