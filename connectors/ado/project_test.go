package ado_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/covsync/covsync/connectors/ado"
	"github.com/covsync/covsync/connectors/ado/adosim"
	"github.com/covsync/covsync/sync/push"
)

// shopID is the simulator's id of "Shop", the fixture's first project.
const shopID = "00000000-0000-4000-8000-000000000001"

// TestAProjectNamedByItsIdStillRefusesAnotherProjectsWorkItems: configured by id, the target resolves the
// project's name and keeps the tenant check: a work item of another project is never written.
func TestAProjectNamedByItsIdStillRefusesAnotherProjectsWorkItems(t *testing.T) {
	f := newFixture(t, adosim.Options{})
	ok := f.sim.AddWorkItem("Shop", nil)
	foreign := f.sim.AddWorkItem("Other", nil)
	tg := f.target(t, func(o *ado.Options) { o.Project = shopID })
	items := plan(t, tg, project(story(fmt.Sprint(ok), 1, 2, 1, 0), story(fmt.Sprint(foreign), 1, 2, 1, 0)))
	_, errs := pushAll(t, tg, items)
	if errs[fmt.Sprint(ok)] != nil {
		t.Fatalf("the project's own work item: %v", errs[fmt.Sprint(ok)])
	}
	if err := errs[fmt.Sprint(foreign)]; err == nil || push.KindOf(err) != push.KindPermanent {
		t.Fatalf("work item %d of project Other: err = %v, want a permanent refusal", foreign, err)
	}
	if _, found := f.doc2(fmt.Sprint(foreign)); found {
		t.Fatalf("a document was written on work item %d of project Other", foreign)
	}
}

// TestOneADOProjectNamedTwiceIsRefused: two covsync projects writing one Azure DevOps project, one by name
// and one by id (or by two spellings of the name), would overwrite each other: the second is refused.
func TestOneADOProjectNamedTwiceIsRefused(t *testing.T) {
	for _, second := range []string{shopID, "SHOP", strings.ToUpper(shopID)} {
		t.Run(second, func(t *testing.T) {
			f := newFixture(t, adosim.Options{})
			id := f.sim.AddWorkItem("Shop", nil)
			cache := ado.NewCache()
			a := f.target(t, func(o *ado.Options) { o.Owner, o.Cache = "shop", cache })
			b := f.target(t, func(o *ado.Options) { o.Owner, o.Cache, o.Project = "shop-eu", cache, second })
			plan(t, a, project(story(fmt.Sprint(id), 1, 2, 1, 0)))
			_, err := b.Plan(context.Background(), project(story(fmt.Sprint(id), 1, 2, 1, 0)))
			if err == nil || push.KindOf(err) != push.KindFatal || !strings.Contains(err.Error(), `also mapped by project "shop"`) {
				t.Fatalf("second mapping as %q: err = %v (kind %v), want a fatal error naming project shop", second, err, push.KindOf(err))
			}
			// The same owner again (the next cycle's target) is fine, and so is another project.
			plan(t, f.target(t, func(o *ado.Options) { o.Owner, o.Cache = "shop", cache }), project(story(fmt.Sprint(id), 1, 2, 1, 0)))
			plan(t, f.target(t, func(o *ado.Options) { o.Owner, o.Cache, o.Project = "other", cache, "Other" }), project())
		})
	}
}

func (f *fixture) doc2(id string) (map[string]any, bool) {
	return f.sim.Document(ext.Publisher, ext.ID, ext.Collection, id)
}
