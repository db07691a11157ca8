package ado_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/covsync/covsync/config"
	"github.com/covsync/covsync/connectors/ado"
	"github.com/covsync/covsync/connectors/ado/adosim"
	"github.com/covsync/covsync/connectors/fieldtext"
	"github.com/covsync/covsync/connectors/httpx"
	"github.com/covsync/covsync/sync/push"
	"github.com/covsync/covsync/sync/report"
)

func TestOneDocumentPerMappedWorkItemWithTheReportsNumbers(t *testing.T) {
	f := newFixture(t, adosim.Options{})
	a := f.sim.AddWorkItem("Shop", nil)
	b := f.sim.AddWorkItem("Shop", nil)
	// A key the extension's UI wrote before covsync: it must survive.
	f.sim.PutDocument(ext.Publisher, ext.ID, ext.Collection, map[string]any{"id": fmt.Sprint(b), "pinnedBy": "j.doe"})
	p := project(
		story(fmt.Sprintf("AB#%d", a), 157, 200, 11, 1),
		story(fmt.Sprint(b), 0, 0, 3, 0),
		story("SHOP-1", 5, 10, 1, 0), // a Jira key: not an Azure Boards story, reported, not failed
	)
	p.Stories[0].Flaky = 2
	tg := f.target(t, nil)
	items := plan(t, tg, p)
	if len(items) != 2 {
		t.Fatalf("planned %d items, want 2 (one per mapped story)", len(items))
	}
	m := tg.LastMapping()
	if m.Mapped != 2 || len(m.Misses) != 1 || m.Misses[0].Story != "SHOP-1" || !strings.Contains(m.Rule, "AB#123") {
		t.Fatalf("mapping = %+v, want 2 mapped and SHOP-1 missed under the id rule", m)
	}
	if !strings.Contains(f.log.String(), "SHOP-1") {
		t.Fatalf("the miss is not in the log:\n%s", f.log)
	}
	res, errs := pushAll(t, tg, items)
	for k, err := range errs {
		if err != nil || res[k].NoChange {
			t.Fatalf("push %s = %+v, %v", k, res[k], err)
		}
	}
	if n := f.sim.Documents(ext.Publisher, ext.ID, ext.Collection); n != 2 {
		t.Fatalf("%d documents, want 2", n)
	}

	got := f.doc(t, a)
	want := map[string]any{
		"id": fmt.Sprint(a), "__etag": 1.0, "source": "covsync", "project": "shop", "updatedAt": "2026-11-22T18:00:00Z",
		"coveragePercent": 78.5, "coveredMethods": 157.0, "totalMethods": 200.0,
		"tests":   map[string]any{"passed": 11.0, "failed": 1.0, "skipped": 0.0},
		"status":  "failed",
		"lastRun": map[string]any{"id": "run-482", "name": "build 482", "url": "https://ci.example/482", "startedAt": "2026-11-22T18:00:00Z"},
		"release": "2.4.0", "flakyTests": 2.0,
	}
	if g, w := jsonString(t, got), jsonString(t, want); g != w {
		t.Fatalf("document %d =\n%s\nwant\n%s", a, g, w)
	}
	other := f.doc(t, b)
	if other["pinnedBy"] != "j.doe" || other["coveragePercent"] != nil || other["status"] != "passed" || other["__etag"] != 2.0 {
		t.Fatalf("document %d = %v, want the foreign key kept, null coverage, status passed, etag 2", b, other)
	}
	for _, r := range f.sim.Requests() {
		if r.IsDocumentWrite() && (!strings.Contains(r.Header.Get("Accept"), "api-version=7.1-preview.1") || r.Header.Get("X-TFS-FedAuthRedirect") != "Suppress") {
			t.Fatalf("document write without the preview api-version or the redirect suppression: %v", r.Header)
		}
	}
}

func TestASecondUnchangedSyncWritesNothing(t *testing.T) {
	f := newFixture(t, adosim.Options{})
	a := f.sim.AddWorkItem("Shop", nil)
	b := f.sim.AddWorkItem("Shop", nil)
	p := project(story(fmt.Sprint(a), 1, 2, 1, 0), story(fmt.Sprint(b), 3, 4, 0, 2))
	tg := f.target(t, func(o *ado.Options) { o.Fields = map[string]string{ado.FieldCoveragePercent: "Custom.TestCoverage"} })
	first := plan(t, tg, p)
	pushAll(t, tg, first)
	docs, wis := f.writes()
	if docs != 2 || wis != 2 {
		t.Fatalf("first sync wrote %d documents and %d work items, want 2 and 2", docs, wis)
	}

	f.sim.ResetRequests()
	// The same data read again, a day later: DataAsOf moved (another story got a run), these stories did not.
	again := project(story(fmt.Sprint(a), 1, 2, 1, 0), story(fmt.Sprint(b), 3, 4, 0, 2))
	again.DataAsOf = t1.AddDate(0, 0, 1)
	second := plan(t, tg, again)
	for i := range first {
		if first[i].Hash != second[i].Hash {
			t.Fatalf("item %s hash changed between two plans of the same story data", first[i].Key)
		}
	}
	res, errs := pushAll(t, tg, second)
	for k := range res {
		if errs[k] != nil || !res[k].NoChange {
			t.Fatalf("second push of %s = %+v, %v; want NoChange", k, res[k], errs[k])
		}
	}
	if docs, wis := f.writes(); docs != 0 || wis != 0 {
		t.Fatalf("unchanged sync wrote %d documents and %d work items, want none", docs, wis)
	}
}

func TestAConcurrentWriterKeepsItsKeysAndCovsyncItsValues(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts adosim.Options
		lost int // the status of the write that lost the race
	}{
		{"hosted service: the stale write gets 409", adosim.Options{}, http.StatusConflict},
		{"Server 2022: the stale write gets 400 InvalidDocumentVersionException", adosim.Options{Server2022: true}, http.StatusBadRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, tc.opts)
			id := f.sim.AddWorkItem("Shop", nil)
			f.sim.PutDocument(ext.Publisher, ext.ID, ext.Collection, map[string]any{"id": fmt.Sprint(id), "status": "stale"})
			f.sim.WriteAfterNextRead(ext.Publisher, ext.ID, ext.Collection, fmt.Sprint(id), map[string]any{"reviewedBy": "a.person", "status": "theirs"})
			tg := f.target(t, nil)
			_, errs := pushAll(t, tg, plan(t, tg, project(story(fmt.Sprint(id), 9, 10, 2, 0))))
			if err := errs[fmt.Sprint(id)]; err != nil {
				t.Fatal(err)
			}
			got := f.doc(t, id)
			if got["reviewedBy"] != "a.person" || got["status"] != "passed" || got["coveragePercent"] != 90.0 || got["__etag"] != 3.0 {
				t.Fatalf("document = %v, want the other writer's key and covsync's values at etag 3", got)
			}
			writes := f.statuses(http.MethodPatch, "/documents")
			if len(writes) != 2 || writes[0] != tc.lost || writes[1] != http.StatusOK {
				t.Fatalf("document writes answered %v, want [%d 200]", writes, tc.lost)
			}
		})
	}
}

func TestCovsyncCreatesADocumentWithEtagMinusOneOnly(t *testing.T) {
	f := newFixture(t, adosim.Options{})
	fresh := f.sim.AddWorkItem("Shop", nil)
	old := f.sim.AddWorkItem("Shop", nil)
	f.sim.PutDocument(ext.Publisher, ext.ID, ext.Collection, map[string]any{"id": fmt.Sprint(old)})
	tg := f.target(t, nil)
	pushAll(t, tg, plan(t, tg, project(story(fmt.Sprint(fresh), 1, 2, 0, 0), story(fmt.Sprint(old), 1, 2, 0, 0))))
	for _, r := range f.sim.Requests() {
		if !r.IsDocumentWrite() {
			continue
		}
		var body struct {
			ID   string  `json:"id"`
			Etag float64 `json:"__etag"`
		}
		_ = json.Unmarshal(r.Body, &body)
		create := body.ID == fmt.Sprint(fresh)
		if create != (r.Method == http.MethodPost) || create != (body.Etag == -1) {
			t.Fatalf("%s of document %s with __etag %v: only a document covsync creates is POSTed with -1", r.Method, body.ID, body.Etag)
		}
	}
}

func TestAWorkItemThatDoesNotExistFailsAlone(t *testing.T) {
	f := newFixture(t, adosim.Options{})
	ok := f.sim.AddWorkItem("Shop", nil)
	foreign := f.sim.AddWorkItem("Other", nil) // exists, but in another project: never written to
	tg := f.target(t, nil)
	items := plan(t, tg, project(story(fmt.Sprint(ok), 1, 2, 1, 0), story("AB#99999", 1, 2, 1, 0), story(fmt.Sprint(foreign), 1, 2, 1, 0)))
	res, errs := pushAll(t, tg, items)
	if errs[fmt.Sprint(ok)] != nil || res[fmt.Sprint(ok)].NoChange {
		t.Fatalf("the existing work item: %+v, %v", res[fmt.Sprint(ok)], errs[fmt.Sprint(ok)])
	}
	for _, key := range []string{"AB#99999", fmt.Sprint(foreign)} {
		err := errs[key]
		if err == nil || push.KindOf(err) != push.KindPermanent || !strings.Contains(err.Error(), strings.TrimPrefix(key, "AB#")) {
			t.Fatalf("push %s: err = %v (kind %v), want a permanent error naming the work item", key, err, push.KindOf(err))
		}
	}
	if n := f.sim.Documents(ext.Publisher, ext.ID, ext.Collection); n != 1 {
		t.Fatalf("%d documents, want only the existing work item's", n)
	}
}

func TestTheSummaryFieldIsCutTo255UTF16UnitsWhateverTheRunName(t *testing.T) {
	f := newFixture(t, adosim.Options{})
	id := f.sim.AddWorkItem("Shop", nil)
	tg := f.target(t, func(o *ado.Options) {
		o.Fields = map[string]string{ado.FieldCoverageSummary: "Custom.CoverageSummary"}
	})
	st := story(fmt.Sprint(id), 157, 200, 11, 1)
	st.LastRun.Name = "release 🎉" + strings.Repeat("🚀", 200) // astral characters: two UTF-16 units each
	items := plan(t, tg, project(st))
	if _, errs := pushAll(t, tg, items); errs[fmt.Sprint(id)] != nil {
		t.Fatal(errs[fmt.Sprint(id)])
	}
	_, fields, _ := f.sim.WorkItem(id)
	s, _ := fields["Custom.CoverageSummary"].(string)
	// Azure DevOps counts a string field's 255 characters as .NET does: UTF-16 code units.
	if n := fieldtext.UTF16Len(s); n > 255 || n < 254 || !strings.HasSuffix(s, "…") {
		t.Fatalf("summary field has %d UTF-16 units: %q", n, s)
	}
}

func TestWorkItemFieldsArePatchedWithARevTest(t *testing.T) {
	f := newFixture(t, adosim.Options{})
	id := f.sim.AddWorkItem("Shop", map[string]any{"Custom.TestStatus": "passed"})
	tg := f.target(t, func(o *ado.Options) {
		o.Fields = map[string]string{
			ado.FieldCoveragePercent: "Custom.TestCoverage", ado.FieldTestStatus: "Custom.TestStatus",
			ado.FieldCoverageSummary: "Custom.CoverageSummary", ado.FieldLastRunURL: "Custom.LastRun",
		}
	})
	items := plan(t, tg, project(story(fmt.Sprint(id), 157, 200, 11, 1)))
	// Someone edits the work item after covsync read it: the first patch's rev test must fail (412), and
	// covsync must read again and patch on the new rev, keeping the person's edit.
	f.sim.EditWorkItem(id, map[string]any{"System.Title": "Edited meanwhile"})
	if _, errs := pushAll(t, tg, items); errs[fmt.Sprint(id)] != nil {
		t.Fatal(errs[fmt.Sprint(id)])
	}
	rev, fields, _ := f.sim.WorkItem(id)
	if fields["Custom.TestCoverage"] != 78.5 || fields["Custom.TestStatus"] != "failed" || fields["System.Title"] != "Edited meanwhile" ||
		fields["Custom.LastRun"] != "https://ci.example/482" || rev != 3 {
		t.Fatalf("work item rev %d fields %v", rev, fields)
	}
	if s, _ := fields["Custom.CoverageSummary"].(string); !strings.HasPrefix(s, "78.5% covered (157/200 methods) · 12 tests: 11 passed, 1 failed") {
		t.Fatalf("summary field = %q", s)
	}
	patches := 0
	for _, r := range f.sim.Requests() {
		if r.Method != http.MethodPatch || !strings.Contains(strings.ToLower(r.Path), "/wit/workitems/") {
			continue
		}
		patches++
		if strings.Contains(strings.ToLower(r.Query), "bypassrules") {
			t.Fatalf("bypassRules sent: %s", r.Query)
		}
		var ops []map[string]any
		_ = json.Unmarshal(r.Body, &ops)
		if len(ops) < 2 || ops[0]["op"] != "test" || ops[0]["path"] != "/rev" {
			t.Fatalf("patch %s does not start with a test of /rev", r.Body)
		}
	}
	if got := f.statuses(http.MethodPatch, "/wit/workitems/"); patches != 2 || got[0] != http.StatusPreconditionFailed || got[1] != http.StatusOK {
		t.Fatalf("work item patches answered %v, want [412 200]", got)
	}
}

func TestAStormOf429sEndsWithEveryItemPushed(t *testing.T) {
	for _, tc := range []struct {
		name   string
		client func(t *testing.T) *http.Client
	}{
		// The connector makes one call per request; httpx retries 429s and 5xx, writes included.
		{"httpx retries, as wired", func(t *testing.T) *http.Client {
			c, err := httpx.New(httpx.Options{Name: "ado:test", RequestsPerSecond: 200, BackoffBase: 10 * time.Millisecond, MaxRetries: 6})
			if err != nil {
				t.Fatal(err)
			}
			return c
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, adosim.Options{RatePerSecond: 20, RateBurst: 6})
			var stories []report.Story
			for i := 0; i < 8; i++ {
				stories = append(stories, story(fmt.Sprint(f.sim.AddWorkItem("Shop", nil)), i, 10, 1, 0))
			}
			f.sim.FailNext(503, 500, 502) // and a few 5xx on top
			hc := tc.client(t)
			tg := f.target(t, func(o *ado.Options) {
				o.HTTP = hc
				// Fields too: concurrent work-item patches go through the Go client, which must stay race-free.
				o.Fields = map[string]string{ado.FieldCoveragePercent: "Custom.TestCoverage"}
			})
			items := plan(t, tg, project(stories...))
			var wg sync.WaitGroup
			errs := make([]error, len(items))
			for w := 0; w < 4; w++ {
				wg.Add(1)
				go func(w int) {
					defer wg.Done()
					for i := w; i < len(items); i += 4 {
						_, errs[i] = tg.Push(context.Background(), items[i])
					}
				}(w)
			}
			wg.Wait()
			for i, err := range errs {
				if err != nil {
					t.Fatalf("item %s: %v", items[i].Key, err)
				}
			}
			if n := f.sim.Documents(ext.Publisher, ext.ID, ext.Collection); n != len(items) {
				t.Fatalf("%d documents, want %d", n, len(items))
			}
			limited := 0
			for _, r := range f.sim.Requests() {
				if r.Status == http.StatusTooManyRequests {
					limited++
				}
			}
			if limited == 0 {
				t.Fatal("the simulator never answered 429: the test did not storm")
			}
		})
	}
}

func TestAnExpiredPATGivesAClearAuthErrorAndNeverShowsThePAT(t *testing.T) {
	for _, tc := range []struct {
		name   string
		expire func(*adosim.Sim)
		want   string
	}{
		{"401 when the redirect is suppressed", func(s *adosim.Sim) { s.ExpirePAT() }, "authentication failed (HTTP 401)"},
		{"a 203 HTML sign-in page is never parsed as data", func(s *adosim.Sim) { s.ExpirePAT(); s.AlwaysSignInPage() }, "sign-in page (HTTP 203)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, adosim.Options{})
			id := f.sim.AddWorkItem("Shop", nil)
			tg := f.target(t, nil)
			items := plan(t, tg, project(story(fmt.Sprint(id), 1, 2, 1, 0)))
			tc.expire(f.sim)
			_, err := tg.Push(context.Background(), items[0])
			if push.KindOf(err) != push.KindFatal || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "vso.extension.data_write") {
				t.Fatalf("push with an expired PAT: err = %v (kind %v), want a fatal %q naming the scopes", err, push.KindOf(err), tc.want)
			}
			fresh := f.target(t, nil) // a new target must discover the areas: Plan fails the same way
			_, perr := fresh.Plan(context.Background(), project(story(fmt.Sprint(id), 1, 2, 1, 0)))
			if push.KindOf(perr) != push.KindFatal || !strings.Contains(perr.Error(), tc.want) {
				t.Fatalf("plan with an expired PAT: err = %v", perr)
			}
			for _, s := range []string{err.Error(), perr.Error(), f.log.String(), fmt.Sprintf("%v %+v %#v", tg, fresh, tg)} {
				if strings.Contains(s, testPAT) {
					t.Fatalf("the PAT leaked: %s", s)
				}
			}
		})
	}
}

func TestMatchFieldFindsWorkItemsByWIQL(t *testing.T) {
	f := newFixture(t, adosim.Options{})
	a := f.sim.AddWorkItem("Shop", map[string]any{"Custom.JiraKey": "SHOP-7"})
	f.sim.AddWorkItem("Other", map[string]any{"Custom.JiraKey": "SHOP-8"}) // another project: never matched
	tg := f.target(t, func(o *ado.Options) { o.MatchField = "Custom.JiraKey" })
	items := plan(t, tg, project(story("SHOP-7", 1, 2, 1, 0), story("SHOP-8", 1, 2, 1, 0), story("SHOP-O'Brien", 1, 2, 0, 0)))
	if len(items) != 1 || items[0].Key != "SHOP-7" || !strings.Contains(items[0].Summary, fmt.Sprint(a)) {
		t.Fatalf("items = %+v, want SHOP-7 → work item %d", items, a)
	}
	m := tg.LastMapping()
	if len(m.Misses) != 2 || !strings.Contains(m.Rule, "Custom.JiraKey") {
		t.Fatalf("mapping = %+v, want SHOP-8 and SHOP-O'Brien missed", m)
	}
	if _, errs := pushAll(t, tg, items); errs["SHOP-7"] != nil {
		t.Fatal(errs["SHOP-7"])
	}
	if d := f.doc(t, a); d["status"] != "passed" {
		t.Fatalf("document = %v", d)
	}
	if n := len(f.statuses(http.MethodPost, "/wit/wiql")); n != 1 {
		t.Fatalf("%d WIQL queries, want 1 per cycle", n)
	}
}

func TestTheDefaultClientRetriesAFailedWIQLQuery(t *testing.T) {
	f := newFixture(t, adosim.Options{})
	a := f.sim.AddWorkItem("Shop", map[string]any{"Custom.JiraKey": "SHOP-7"})
	// No HTTP: ado.New builds an httpx client, which does the retrying (the connector does not).
	tg := f.target(t, func(o *ado.Options) { o.HTTP, o.MatchField = nil, "Custom.JiraKey" })
	b := f.sim.AddWorkItem("Shop", map[string]any{"Custom.JiraKey": "SHOP-8"})
	plan(t, tg, project(story("SHOP-7", 1, 2, 1, 0))) // connects and caches SHOP-7
	// The next plan's first request is the WIQL query of the key not cached yet.
	f.sim.FailNext(503)
	items := plan(t, tg, project(story("SHOP-7", 1, 2, 1, 0), story("SHOP-8", 1, 2, 1, 0)))
	if len(items) != 2 || !strings.Contains(items[0].Summary, fmt.Sprint(a)) || !strings.Contains(items[1].Summary, fmt.Sprint(b)) {
		t.Fatalf("items = %+v, want SHOP-7 → work item %d, SHOP-8 → %d", items, a, b)
	}
	// The WIQL query is a POST; it is retried because it is marked safe to replay.
	if got := f.statuses(http.MethodPost, "/wit/wiql"); len(got) != 3 || got[1] != http.StatusServiceUnavailable || got[2] != http.StatusOK {
		t.Fatalf("WIQL queries answered %v, want [200 503 200]", got)
	}
}

func TestAMatchFieldTheOrganizationLacksIsAConfigError(t *testing.T) {
	f := newFixture(t, adosim.Options{})
	f.sim.AddWorkItem("Shop", map[string]any{"Custom.JiraKey": "SHOP-7"})
	tg := f.target(t, func(o *ado.Options) { o.MatchField = "Custom.JiraKee" })
	_, err := tg.Plan(context.Background(), project(story("SHOP-7", 1, 2, 1, 0)))
	if push.KindOf(err) != push.KindConfig || !strings.Contains(err.Error(), "match_field Custom.JiraKee") {
		t.Fatalf("err = %v (kind %v), want a configuration error naming match_field", err, push.KindOf(err))
	}
	if docs, _ := f.writes(); docs != 0 {
		t.Fatal("a misconfigured target wrote")
	}
}

func TestProbesReadTheProjectAndTheCollection(t *testing.T) {
	f := newFixture(t, adosim.Options{})
	tg := f.target(t, nil)
	ctx := context.Background()
	if err := tg.ProbeProject(ctx); err != nil {
		t.Fatalf("project probe: %v", err)
	}
	if err := tg.ProbeCollection(ctx); err != nil {
		t.Fatalf("collection probe before any document: %v", err)
	}
	if docs, _ := f.writes(); docs != 0 {
		t.Fatal("a probe wrote")
	}
	wrongProject := f.target(t, func(o *ado.Options) { o.Project = "Nope" })
	if err := wrongProject.ProbeProject(ctx); err == nil || !strings.Contains(err.Error(), "Nope") {
		t.Fatalf("probe of a missing project: %v", err)
	}
	notInstalled := f.target(t, func(o *ado.Options) { o.Extension.ID = "not-installed" })
	if err := notInstalled.ProbeCollection(ctx); err == nil || !strings.Contains(err.Error(), "not-installed") {
		t.Fatalf("probe of an extension that is not installed: %v", err)
	}
}

func TestNewRefusesBadOptionsNamingTheKey(t *testing.T) {
	good := ado.Options{Name: "acme-ado", OrganizationURL: "https://dev.azure.com/acme", PAT: config.NewSecret("x"), Project: "Shop", Extension: ext}
	for _, tc := range []struct {
		name string
		edit func(*ado.Options)
		want string
	}{
		{"plain http to a remote host", func(o *ado.Options) { o.OrganizationURL = "http://dev.azure.com/acme" }, "organization_url"},
		{"no token", func(o *ado.Options) { o.PAT = config.Secret{} }, "token"},
		{"no collection", func(o *ado.Options) { o.Extension.Collection = "" }, "collection"},
		{"an unknown field key", func(o *ado.Options) { o.Fields = map[string]string{"colour": "Custom.Colour"} }, "fields.colour"},
		{"a field that is not a reference name", func(o *ado.Options) { o.Fields = map[string]string{ado.FieldTestStatus: "Test Status"} }, "fields.test_status"},
		{"a match field that is not a reference name", func(o *ado.Options) { o.MatchField = "Jira Key]" }, "match_field"},
		{"a field reference name cannot start with an underscore", func(o *ado.Options) { o.Fields = map[string]string{ado.FieldTestStatus: "_Custom.TestStatus"} }, "fields.test_status"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := good
			tc.edit(&o)
			_, err := ado.New(o)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one naming %q", err, tc.want)
			}
		})
	}
	if _, err := ado.New(good); err != nil {
		t.Fatalf("good options refused: %v", err)
	}
}

func jsonString(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// mentions reports whether err says want; "timeout" also matches any error that is a timeout.
func mentions(err error, want string) bool {
	if want == "timeout" {
		var ne net.Error
		return errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
	}
	return strings.Contains(err.Error(), want)
}

func TestTransientFailuresThatOutliveTheRetriesAreRetryable(t *testing.T) {
	for _, tc := range []struct {
		name  string
		fault func(*adosim.Sim, *armedTimeout)
		want  string
	}{
		{"the service keeps answering 503", func(s *adosim.Sim, _ *armedTimeout) { s.FailNext(503, 503, 503, 503, 503, 503) }, "HTTP 503"},
		{"the service keeps answering 429, each waited for", func(s *adosim.Sim, _ *armedTimeout) { s.FailNext(429, 429) }, "HTTP 429"},
		// How a timeout reads depends on where the deadline struck (awaiting headers, reading the body, in a
		// wait before the call); all are the timeout. httpx retries a timed-out GET once, which times out too.
		{"the service is slower than the request's timeout", func(s *adosim.Sim, a *armedTimeout) {
			s.SetLatency(2 * time.Second)
			a.arm(200 * time.Millisecond)
		}, "timeout"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, adosim.Options{})
			id := f.sim.AddWorkItem("Shop", nil)
			// Plan (OPTIONS, ResourceAreas, GetWorkItems) must succeed however loaded the machine is, so the
			// client is generous; the short timeout is armed only for the Push under test.
			// An httpx client (as wired) with one retry, so each fault outlives the retries.
			at := &armedTimeout{next: http.DefaultTransport}
			hc, err := httpx.New(httpx.Options{Name: "ado:test", RequestsPerSecond: 1000, MaxRetries: 1, BackoffBase: time.Millisecond,
				BackoffMax: 5 * time.Millisecond, Transport: at})
			if err != nil {
				t.Fatal(err)
			}
			tg := f.target(t, func(o *ado.Options) { o.HTTP = hc })
			items := plan(t, tg, project(story(fmt.Sprint(id), 1, 2, 1, 0)))
			tc.fault(f.sim, at)
			_, err = tg.Push(context.Background(), items[0])
			if err == nil || push.KindOf(err) != push.KindRetryable || !strings.Contains(err.Error(), fmt.Sprintf("document %d", id)) || !mentions(err, tc.want) {
				t.Fatalf("err = %v (kind %v), want a retryable error naming the document and %q", err, push.KindOf(err), tc.want)
			}
			if n := f.sim.Documents(ext.Publisher, ext.ID, ext.Collection); n != 0 {
				t.Fatalf("%d documents written", n)
			}
		})
	}
}

// armedTimeout is a transport that, once armed, gives every request a deadline: a timeout fault applied
// to the calls under test only.
type armedTimeout struct {
	next http.RoundTripper
	d    atomic.Int64
}

func (a *armedTimeout) arm(d time.Duration) { a.d.Store(int64(d)) }

func (a *armedTimeout) RoundTrip(r *http.Request) (*http.Response, error) {
	d := time.Duration(a.d.Load())
	if d <= 0 {
		return a.next.RoundTrip(r)
	}
	ctx, cancel := context.WithTimeout(r.Context(), d)
	resp, err := a.next.RoundTrip(r.WithContext(ctx))
	if err != nil {
		cancel()
		return nil, err
	}
	resp.Body = cancelOnClose{ReadCloser: resp.Body, cancel: cancel}
	return resp, nil
}

type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (b cancelOnClose) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}

// A run URL from data that is not http(s) (a source schema provided as views is not checked by covsync's
// ingest) reaches neither the document nor the work item's field: one rule, report.IsWebURL, for every
// target.
func TestARunURLThatIsNotHTTPReachesNoDocumentAndNoField(t *testing.T) {
	for _, bad := range []string{"javascript:alert(1)//", "data:text/html,<script>x</script>", "/relative/482", "https://ci.example/4 82"} {
		f := newFixture(t, adosim.Options{})
		id := f.sim.AddWorkItem("Shop", map[string]any{})
		tg := f.target(t, func(o *ado.Options) { o.Fields = map[string]string{ado.FieldLastRunURL: "Custom.LastRun"} })
		s := story(fmt.Sprint(id), 1, 2, 1, 0)
		r := *s.LastRun
		r.URL = bad
		s.LastRun = &r
		if _, errs := pushAll(t, tg, plan(t, tg, project(s))); errs[fmt.Sprint(id)] != nil {
			t.Fatal(errs[fmt.Sprint(id)])
		}
		doc := f.doc(t, id)
		last, _ := doc["lastRun"].(map[string]any)
		if _, hasURL := last["url"]; last == nil || hasURL || last["name"] != "build 482" {
			t.Errorf("%q: document lastRun %v, want the run without its URL", bad, doc["lastRun"])
		}
		_, fields, _ := f.sim.WorkItem(id)
		if v, ok := fields["Custom.LastRun"]; ok && v != nil {
			t.Errorf("%q: work item field Custom.LastRun = %v, want it unset", bad, v)
		}
	}
}
