package ado_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/covsync/covsync/connectors/ado"
	"github.com/covsync/covsync/connectors/ado/adosim"
	"github.com/covsync/covsync/connectors/fieldtext"
	"github.com/covsync/covsync/sync/push"
)

// apiVersionOf returns the api-version a recorded request asked for (query or Accept header).
func apiVersionOf(r adosim.Request) string {
	for _, part := range strings.Split(r.Header.Get("Accept"), ";") {
		if k, v, ok := strings.Cut(strings.TrimSpace(part), "="); ok && k == "api-version" {
			return v
		}
	}
	return ""
}

func TestEveryServerVersionTakesAFullSyncAtItsOwnAPIVersion(t *testing.T) {
	for _, tc := range []struct{ server, data, top string }{
		{"2019", "5.0-preview.1", "5.0"},
		{"2020", "6.0-preview.1", "6.0"},
		{"2022", "7.0-preview.1", "7.0"},
		{"2022.1", "7.1-preview.1", "7.1"},
		{"", "7.1-preview.1", "7.1"},
	} {
		t.Run("server "+tc.server, func(t *testing.T) {
			f := newFixture(t, adosim.Options{Server: tc.server})
			a, b := f.sim.AddWorkItem("Shop", nil), f.sim.AddWorkItem("Shop", nil)
			tg := f.target(t, func(o *ado.Options) {
				o.Fields = map[string]string{ado.FieldCoveragePercent: "Custom.TestCoverage", ado.FieldTestStatus: "Custom.TestStatus"}
			})
			if err := tg.ProbeProject(context.Background()); err != nil {
				t.Fatalf("probe: %v", err)
			}
			if err := tg.ProbeCollection(context.Background()); err != nil {
				t.Fatalf("probe collection: %v", err)
			}
			items := plan(t, tg, project(story(fmt.Sprint(a), 1, 2, 1, 0), story(fmt.Sprint(b), 3, 4, 0, 2)))
			if _, errs := pushAll(t, tg, items); errs[fmt.Sprint(a)] != nil || errs[fmt.Sprint(b)] != nil {
				t.Fatalf("push: %v", errs)
			}
			if _, ok := f.sim.Document(ext.Publisher, ext.ID, ext.Collection, fmt.Sprint(a)); !ok {
				t.Fatal("no document written")
			}
			sawData := false
			for _, r := range f.sim.Requests() {
				v := apiVersionOf(r)
				if r.Status == http.StatusBadRequest || (v != "" && v[:3] > tc.top) {
					t.Errorf("%s %s at api-version %q answered %d", r.Method, r.Path, v, r.Status)
				}
				if r.IsDocumentWrite() {
					sawData = true
					if v != tc.data {
						t.Errorf("document write at api-version %q, want %q", v, tc.data)
					}
				}
			}
			if !sawData {
				t.Error("no document write recorded")
			}
		})
	}
}

func TestWorkItemFieldsThatDoNotFitAreConfigurationErrorsFoundByCheckAndByACycle(t *testing.T) {
	for _, tc := range []struct {
		name   string
		setup  func(*adosim.Sim)
		fields map[string]string
		want   []string
	}{
		{"an unknown field", nil, map[string]string{ado.FieldCoveragePercent: "Custom.TestCoverag"}, []string{"fields.coverage_percent", "Custom.TestCoverag", "TF51535"}},
		{"a field of the wrong type", nil, map[string]string{ado.FieldCoveragePercent: "Custom.CoverageSummary"}, []string{"fields.coverage_percent", "string field"}},
		{"a picklist without a story status", func(s *adosim.Sim) {
			s.AddField("Custom.Verdict", "Verdict", adosim.TypeString, "passed", "failed")
		}, map[string]string{ado.FieldTestStatus: "Custom.Verdict"}, []string{"fields.test_status", `"skipped"`, "picklist"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, adosim.Options{})
			if tc.setup != nil {
				tc.setup(f.sim)
			}
			id := f.sim.AddWorkItem("Shop", nil)
			check := func(what string, err error) {
				t.Helper()
				if err == nil || push.KindOf(err) != push.KindConfig {
					t.Fatalf("%s: %v (kind %v), want a configuration error", what, err, push.KindOf(err))
				}
				for _, w := range tc.want {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("%s: %q lacks %s", what, err, w)
					}
				}
			}
			tg := f.target(t, func(o *ado.Options) { o.Fields = tc.fields })
			check("check", tg.ProbeProject(context.Background()))
			tg = f.target(t, func(o *ado.Options) { o.Fields = tc.fields })
			_, err := tg.Plan(context.Background(), project(story(fmt.Sprint(id), 1, 2, 1, 0)))
			check("cycle", err)
			if d, w := f.writes(); d+w != 0 {
				t.Errorf("%d documents and %d work items written", d, w)
			}
		})
	}
}

func TestAStringFieldGetsAtMost255Characters(t *testing.T) {
	f := newFixture(t, adosim.Options{})
	f.sim.AddField("Custom.RunLink", "Run link", adosim.TypeString)
	id := f.sim.AddWorkItem("Shop", nil)
	st := story(fmt.Sprint(id), 1, 2, 1, 0)
	long := *st.LastRun
	long.URL = "https://ci.example/" + strings.Repeat("a", 300)
	st.LastRun = &long
	tg := f.target(t, func(o *ado.Options) { o.Fields = map[string]string{ado.FieldLastRunURL: "Custom.RunLink"} })
	items := plan(t, tg, project(st))
	if _, errs := pushAll(t, tg, items); errs[fmt.Sprint(id)] != nil {
		t.Fatalf("push: %v", errs[fmt.Sprint(id)])
	}
	_, fields, _ := f.sim.WorkItem(id)
	if got, _ := fields["Custom.RunLink"].(string); fieldtext.UTF16Len(got) != 255 || !strings.HasPrefix(long.URL, strings.TrimSuffix(got, "…")) {
		t.Errorf("Custom.RunLink = %d characters, want the value cut to 255", fieldtext.UTF16Len(got))
	}
}

func TestAnExtensionTheAccountMayNotUseIsNotAnExpiredToken(t *testing.T) {
	f := newFixture(t, adosim.Options{})
	id := f.sim.AddWorkItem("Shop", nil)
	tg := f.target(t, nil)
	items := plan(t, tg, project(story(fmt.Sprint(id), 1, 2, 1, 0)))
	f.sim.DenyExtension(ext.Publisher, ext.ID)
	_, err := tg.Push(context.Background(), items[0])
	if push.KindOf(err) != push.KindFatal || !strings.Contains(err.Error(), "may not use the data of extension acme.story-coverage") ||
		strings.Contains(err.Error(), "expired") {
		t.Fatalf("push: %v (kind %v), want a fatal error naming the extension, not an expired token", err, push.KindOf(err))
	}
	if err := f.target(t, nil).ProbeCollection(context.Background()); err == nil || !strings.Contains(err.Error(), "ExtensionInvalidAuthorization") {
		t.Fatalf("probe: %v", err)
	}
}
