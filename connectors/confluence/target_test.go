package confluence_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/covsync/covsync/config"
	"github.com/covsync/covsync/connectors/confluence"
	"github.com/covsync/covsync/connectors/confluence/confluencesim"
	"github.com/covsync/covsync/connectors/httpx"
	"github.com/covsync/covsync/sync/push"
	"github.com/covsync/covsync/sync/report"
)

const (
	email = "qa-bot@acme.example"
	token = "tok-s3cr3t-d0-not-log"
	space = "QA"
)

// env is a simulator on a loopback port with a space and the parent page covsync publishes under.
type env struct {
	sim    *confluencesim.Server
	srv    *httptest.Server
	parent string
	logs   *bytes.Buffer
}

func newEnv(t testing.TB, o confluencesim.Options) *env {
	t.Helper()
	if o.Email == "" {
		o.Email, o.Token = email, token
	}
	sim := confluencesim.New(o)
	home := sim.AddSpace(space, "Quality")
	parent := sim.AddPage(space, home, "Test reports", "<p>Reports live below.</p>", "admin")
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	return &env{sim: sim, srv: srv, parent: parent, logs: &bytes.Buffer{}}
}

func (e *env) target(t testing.TB, mutate ...func(*confluence.Options)) *confluence.Target {
	t.Helper()
	log := logrus.New()
	log.SetOutput(e.logs)
	log.SetLevel(logrus.DebugLevel)
	o := confluence.Options{
		Site: "acme-wiki", URL: e.srv.URL + "/wiki", HTTP: &http.Client{Timeout: 10 * time.Second},
		Auth:      confluence.Auth{Type: "basic", Email: email, Token: config.NewSecret(token)},
		ProjectID: "shop", Space: space, ParentPageID: e.parent, PageTemplate: pageTemplate(t), Log: log,
	}
	for _, m := range mutate {
		m(&o)
	}
	tg, err := confluence.New(o)
	if err != nil {
		t.Fatal(err)
	}
	return tg
}

// published is an env where covsync has published shopProject once, with the requests forgotten.
func published(t *testing.T, mutate ...func(*confluence.Options)) (*env, *confluence.Target) {
	t.Helper()
	e := newEnv(t, confluencesim.Options{})
	tg := e.target(t, mutate...)
	mustSync(t, tg, shopProject())
	e.sim.ResetRequests()
	return e, tg
}

// onManualEdit sets on_manual_edit: skip when skipEdits, else leaves the default (overwrite).
func onManualEdit(skipEdits bool) func(*confluence.Options) {
	return func(o *confluence.Options) {
		if skipEdits {
			o.OnManualEdit = confluence.OnManualEditSkip
		}
	}
}

// syncOnce plans p and pushes every item, as the engine does for items whose hash changed.
func syncOnce(t *testing.T, tg *confluence.Target, p *report.Project) ([]push.Result, []error) {
	t.Helper()
	items, err := tg.Plan(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	var res []push.Result
	var errs []error
	for _, it := range items {
		r, err := tg.Push(context.Background(), it)
		res = append(res, r)
		errs = append(errs, err)
	}
	return res, errs
}

func mustSync(t *testing.T, tg *confluence.Target, p *report.Project) push.Result {
	t.Helper()
	res, errs := syncOnce(t, tg, p)
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	return res[0]
}

func (e *env) page(t *testing.T, title string) confluencesim.Page {
	t.Helper()
	ps := e.sim.PagesTitled(space, title)
	if len(ps) != 1 {
		t.Fatalf("%d pages titled %q, want 1", len(ps), title)
	}
	return ps[0]
}

func mark(t *testing.T, p confluencesim.Page) (hash string, version, propVersion int) {
	t.Helper()
	pr, ok := p.Properties[confluence.PropertyKey]
	if !ok {
		t.Fatalf("page %q has no %s property", p.Title, confluence.PropertyKey)
	}
	var v struct {
		Hash    string `json:"hash"`
		Version int    `json:"version"`
	}
	if err := json.Unmarshal(pr.Value, &v); err != nil {
		t.Fatal(err)
	}
	return v.Hash, v.Version, pr.Version
}

func describe(rs []confluencesim.Request) string {
	var b strings.Builder
	for _, r := range rs {
		fmt.Fprintf(&b, "%s %s → %d\n", r.Method, r.Path, r.Status)
	}
	return b.String()
}

const title = "Test coverage: Shop & Co <web>"

func TestFirstSyncCreatesOnePageUnderTheParentWithLabelsAndProperty(t *testing.T) {
	e := newEnv(t, confluencesim.Options{})
	tg := e.target(t)
	res := mustSync(t, tg, shopProject())
	if !strings.Contains(res.Note, "created page") {
		t.Errorf("note = %q", res.Note)
	}
	kids := e.sim.Children(e.parent)
	if len(kids) != 1 || kids[0].Title != title {
		t.Fatalf("children of the parent = %+v, want one page titled %q", kids, title)
	}
	pg := kids[0]
	if strings.Join(pg.Labels, ",") != "covsync,shop" {
		t.Errorf("labels = %v, want covsync, shop", pg.Labels)
	}
	sum := sha256.Sum256([]byte(pg.Body))
	hash, ver, _ := mark(t, pg)
	if hash != hex.EncodeToString(sum[:]) || ver != pg.Version || ver != 1 {
		t.Errorf("mark = {%s %d}, want the body's hash and version 1", hash, ver)
	}
	if pg.By != "covsync-bot" || !strings.Contains(pg.Body, "SHOP-1") {
		t.Errorf("page by %q with body %q", pg.By, pg.Body)
	}
	if w := e.sim.Writes(); len(w) != 1 || w[0].Method != http.MethodPost || w[0].Path != "/content" {
		t.Errorf("writes:\n%s want one POST /content", describe(w))
	}
}

func TestAnUnchangedSyncSendsNoWrite(t *testing.T) {
	e, tg := published(t)

	// The engine would not even call Push (same hash as its ledger); Push must still write nothing when the
	// ledger is lost and it is called anyway.
	res := mustSync(t, tg, shopProject())
	if !res.NoChange {
		t.Errorf("result = %+v, want NoChange", res)
	}
	reqs := e.sim.Requests()
	if w := e.sim.Writes(); len(w) != 0 {
		t.Errorf("an unchanged sync wrote:\n%s", describe(w))
	}
	if len(reqs) != 2 {
		t.Errorf("requests:\n%s want the lookup only (search + property)", describe(reqs))
	}
}

func TestChangedDataIsOneUpdateWithTheNextVersion(t *testing.T) {
	e, tg := published(t)

	p := shopProject()
	*p.Stories[0].CoveragePercent = 81.0
	mustSync(t, tg, p)
	var pageWrites []confluencesim.Request
	for _, w := range e.sim.Writes() {
		if !strings.Contains(w.Path, "/property/") {
			pageWrites = append(pageWrites, w)
		}
	}
	if len(pageWrites) != 1 || pageWrites[0].Method != http.MethodPut {
		t.Fatalf("page writes:\n%s want one PUT", describe(pageWrites))
	}
	var sent struct {
		Version struct{ Number int } `json:"version"`
	}
	_ = json.Unmarshal(pageWrites[0].Body, &sent)
	pg := e.page(t, title)
	if sent.Version.Number != 2 || pg.Version != 2 || !strings.Contains(pg.Body, "81.0%") {
		t.Errorf("sent version %d, page at version %d", sent.Version.Number, pg.Version)
	}
	if _, ver, propVer := mark(t, pg); ver != 2 || propVer != 2 {
		t.Errorf("mark version %d (property version %d), want 2 (2)", ver, propVer)
	}
	if len(e.sim.PagesTitled(space, title)) != 1 {
		t.Error("an update made a second page")
	}
}

func TestAManualEdit(t *testing.T) {
	tests := []struct {
		name       string
		skip       bool
		wantBody   string
		wantNote   string
		wantWrites bool
	}{
		{name: "with skip leaves the person's text and reports it", skip: true, wantBody: "<p>Jane's notes</p>", wantNote: "left as is (on_manual_edit: skip)"},
		{name: "with overwrite replaces it and says so", wantBody: "81.0%", wantNote: "overwritten (on_manual_edit: overwrite)", wantWrites: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e, tg := published(t, onManualEdit(tc.skip))
			e.sim.EditPage(e.page(t, title).ID, confluencesim.Edit{By: "jane.doe", Body: "<p>Jane's notes</p>"})

			p := shopProject()
			*p.Stories[0].CoveragePercent = 81.0
			res := mustSync(t, tg, p)
			if res.Skipped != tc.skip {
				t.Errorf("Skipped = %v, want %v", res.Skipped, tc.skip)
			}
			if !strings.Contains(res.Note, "edited by jane.doe at version 2") || !strings.Contains(res.Note, tc.wantNote) {
				t.Errorf("note = %q", res.Note)
			}
			if !strings.Contains(e.logs.String(), "edited by a person") {
				t.Errorf("the manual edit was not logged:\n%s", e.logs)
			}
			pg := e.page(t, title)
			if !strings.Contains(pg.Body, tc.wantBody) {
				t.Errorf("body = %q, want it to hold %q", pg.Body, tc.wantBody)
			}
			if got := len(e.sim.Writes()) > 0; got != tc.wantWrites {
				t.Errorf("writes:\n%s", describe(e.sim.Writes()))
			}
		})
	}
}

func TestAForeignPageWithTheSameTitleIsLeftUntouched(t *testing.T) {
	e := newEnv(t, confluencesim.Options{})
	id := e.sim.AddPage(space, e.parent, title, "<p>Bob's page</p>", "bob")
	_, errs := syncOnce(t, e.target(t), shopProject())
	err := errs[0]
	if err == nil || push.KindOf(err) != push.KindPermanent {
		t.Fatalf("err = %v, want a permanent error", err)
	}
	for _, s := range []string{title, "id " + id, "not created by covsync", "projects[].confluence.title"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not mention %q", err, s)
		}
	}
	pg, _ := e.sim.Page(id)
	if pg.Body != "<p>Bob's page</p>" || pg.Version != 1 || len(pg.Properties) != 0 || len(pg.Labels) != 0 {
		t.Errorf("the foreign page was touched: %+v", pg)
	}
	if w := e.sim.Writes(); len(w) != 0 {
		t.Errorf("writes:\n%s", describe(w))
	}
}

func TestATitleTakenByAPageCovsyncCannotSeeIsAClearErrorNeverASecondPage(t *testing.T) {
	e := newEnv(t, confluencesim.Options{})
	e.sim.AddRestrictedPage(space, e.parent, title, "<p>secret</p>", "carol")
	_, errs := syncOnce(t, e.target(t), shopProject())
	if errs[0] == nil || push.KindOf(errs[0]) != push.KindPermanent || !strings.Contains(errs[0].Error(), "already exists") {
		t.Fatalf("err = %v, want a permanent duplicate-title error", errs[0])
	}
	if n := len(e.sim.PagesTitled(space, title)); n != 1 {
		t.Errorf("%d pages with the title, want 1", n)
	}
}

func TestAConflictingEditBetweenReadAndWrite(t *testing.T) {
	tests := []struct {
		name     string
		skip     bool
		wantBody string
	}{
		{name: "ends with covsync's content under overwrite, without a duplicate", wantBody: "81.0%"},
		{name: "ends with the person's content under skip", skip: true, wantBody: "<p>Jane raced you</p>"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e, tg := published(t, onManualEdit(tc.skip))
			id := e.page(t, title).ID
			e.sim.EditBeforeNextWrite(id, confluencesim.Edit{By: "jane.doe", Body: "<p>Jane raced you</p>"})

			p := shopProject()
			*p.Stories[0].CoveragePercent = 81.0
			res := mustSync(t, tg, p)
			var conflicts int
			for _, r := range e.sim.Requests() {
				if r.Status == http.StatusConflict {
					conflicts++
				}
			}
			if conflicts != 1 {
				t.Errorf("409 answers = %d, want 1:\n%s", conflicts, describe(e.sim.Requests()))
			}
			pg := e.page(t, title)
			if !strings.Contains(pg.Body, tc.wantBody) || res.Skipped != tc.skip {
				t.Errorf("body %q, result %+v", pg.Body, res)
			}
			if !tc.skip {
				if _, ver, _ := mark(t, pg); pg.Version != 3 || ver != 3 {
					t.Errorf("page version %d, mark %d, want 3 and 3", pg.Version, ver)
				}
			}
		})
	}
}

func TestALostPropertyUpdateIsMendedWithoutRewritingThePage(t *testing.T) {
	e, tg := published(t)
	id := e.page(t, title).ID
	p := shopProject()
	*p.Stories[0].CoveragePercent = 81.0

	e.sim.ConflictNextPropertyWrites(id, 100)
	_, errs := syncOnce(t, tg, p)
	if errs[0] == nil || push.KindOf(errs[0]) != push.KindRetryable {
		t.Fatalf("err = %v, want a retryable error after the property kept conflicting", errs[0])
	}
	e.sim.ConflictNextPropertyWrites(id, 0)
	e.sim.ResetRequests()

	res := mustSync(t, tg, p)
	if !res.NoChange || res.Skipped || !strings.Contains(res.Note, "mended") {
		t.Errorf("result = %+v, want NoChange with the mark mended (not a manual edit)", res)
	}
	if w := e.sim.Writes(); len(w) != 1 || !strings.Contains(w[0].Path, "/property/") {
		t.Errorf("writes:\n%s want the property only", describe(w))
	}
	if _, ver, _ := mark(t, e.page(t, title)); ver != 2 {
		t.Errorf("mark version %d, want 2", ver)
	}
}

func TestReleasePagesAreOnePerRelease(t *testing.T) {
	e := newEnv(t, confluencesim.Options{})
	tg := e.target(t, func(o *confluence.Options) { o.ReleasePages = true })
	mustSync(t, tg, shopProject())
	var titles []string
	for _, k := range e.sim.Children(e.parent) {
		titles = append(titles, k.Title)
	}
	want := []string{title, title + " 2.4.0", title + " 2.3.1"}
	if strings.Join(titles, "|") != strings.Join(want, "|") {
		t.Errorf("pages = %q, want %q", titles, want)
	}
}

func TestWithoutAParentThePageIsCreatedAtTheSpaceRoot(t *testing.T) {
	e := newEnv(t, confluencesim.Options{})
	tg := e.target(t, func(o *confluence.Options) { o.ParentPageID = "" })
	if err := tg.Check(context.Background()); err != nil {
		t.Fatal(err)
	}
	mustSync(t, tg, shopProject())
	if pg := e.page(t, title); len(pg.Ancestors) != 0 {
		t.Errorf("ancestors %v, want none", pg.Ancestors)
	}
}

func TestDataCenterPathAndBearerToken(t *testing.T) {
	e := newEnv(t, confluencesim.Options{Bearer: token})
	tg := e.target(t, func(o *confluence.Options) {
		o.URL = e.srv.URL // a Data Center context path of "/": the API is at /rest/api
		o.Auth = confluence.Auth{Type: "bearer", Token: config.NewSecret(token)}
	})
	mustSync(t, tg, shopProject())
	e.page(t, title)
}

func TestFailuresAreClassifiedForTheEngine(t *testing.T) {
	tests := []struct {
		name  string
		setup func(e *env, o *confluence.Options)
		want  push.Kind
	}{
		{name: "a wrong token stops the target", want: push.KindFatal,
			setup: func(_ *env, o *confluence.Options) { o.Auth.Token = config.NewSecret("wrong") }},
		{name: "a server error that outlived the client is retried next cycle", want: push.KindRetryable,
			setup: func(e *env, _ *confluence.Options) { e.sim.FailNext(1, http.StatusBadGateway) }},
		{name: "a rate limit that outlived the client is retried next cycle", want: push.KindRetryable,
			setup: func(e *env, _ *confluence.Options) {
				for range 3 { // drain the bucket
					req, _ := http.NewRequest(http.MethodGet, e.srv.URL+"/wiki/rest/api/space/QA", nil)
					req.SetBasicAuth(email, token)
					if resp, err := http.DefaultClient.Do(req); err == nil {
						resp.Body.Close()
					}
				}
			}},
		{name: "an unreachable site stops the target", want: push.KindFatal,
			setup: func(_ *env, o *confluence.Options) { o.URL = "http://127.0.0.1:1/wiki" }},
		{name: "a missing parent page fails the item", want: push.KindPermanent,
			setup: func(_ *env, o *confluence.Options) { o.ParentPageID = "999" }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, confluencesim.Options{RequestsPerSecond: 0.01, Burst: 3})
			tg := e.target(t, func(o *confluence.Options) { tc.setup(e, o) })
			_, errs := syncOnce(t, tg, shopProject())
			if errs[0] == nil || push.KindOf(errs[0]) != tc.want {
				t.Fatalf("err = %v (kind %v), want kind %v", errs[0], push.KindOf(errs[0]), tc.want)
			}
			t.Log(errs[0])
			if !strings.Contains(errs[0].Error(), title) {
				t.Errorf("error %q does not name the page", errs[0])
			}
		})
	}
}

func TestTheTokenNeverReachesLogsOrErrors(t *testing.T) {
	e := newEnv(t, confluencesim.Options{})
	tg := e.target(t)
	var seen []string
	mustSync(t, tg, shopProject())
	id := e.page(t, title).ID
	e.sim.EditPage(id, confluencesim.Edit{By: "jane.doe", Body: "<p>x</p>"})
	p := shopProject()
	*p.Stories[0].CoveragePercent = 1
	mustSync(t, tg, p)
	e.sim.FailNext(1, http.StatusInternalServerError)
	_, errs := syncOnce(t, tg, shopProject())
	bad := e.target(t, func(o *confluence.Options) { o.Auth.Token = config.NewSecret(token + "x") })
	_, errs2 := syncOnce(t, bad, shopProject())
	for _, err := range append(errs, errs2...) {
		if err != nil {
			seen = append(seen, err.Error(), fmt.Sprintf("%+v", err))
		}
	}
	seen = append(seen, e.logs.String(), fmt.Sprintf("%+v %#v", confluence.Auth{Token: config.NewSecret(token)}, confluence.Auth{Token: config.NewSecret(token)}))
	if len(seen) < 4 {
		t.Fatalf("expected errors and logs to inspect, got %q", seen)
	}
	for _, s := range seen {
		if strings.Contains(s, token) {
			t.Errorf("token found in %q", s)
		}
	}
}

func TestNewRefusesAnIncompleteMapping(t *testing.T) {
	_, err := confluence.New(confluence.Options{Site: "acme-wiki", ProjectID: "shop", OnManualEdit: "ask", PageTemplate: []byte("{{")})
	if err == nil {
		t.Fatal("no error")
	}
	for _, s := range []string{"no HTTP client", "url is empty", "space is empty", `on_manual_edit "ask"`, "template"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not mention %q", err, s)
		}
	}
}

func TestNameAndKind(t *testing.T) {
	e := newEnv(t, confluencesim.Options{})
	tg := e.target(t)
	if tg.Name() != "confluence:acme-wiki/QA/shop" || tg.Kind() != "confluence" {
		t.Errorf("Name %q Kind %q", tg.Name(), tg.Kind())
	}
}

func TestThroughHttpxTransientFailuresAreRetriedAndTheSyncSucceeds(t *testing.T) {
	e := newEnv(t, confluencesim.Options{})
	hc, err := httpx.New(httpx.Options{Name: "confluence:acme-wiki", RequestsPerSecond: 1000, MaxRetries: 3,
		BackoffBase: time.Millisecond, BackoffMax: 5 * time.Millisecond, Secrets: []string{token}})
	if err != nil {
		t.Fatal(err)
	}
	tg := e.target(t, func(o *confluence.Options) { o.HTTP = hc })
	e.sim.FailNext(2, http.StatusServiceUnavailable) // the lookup fails twice, then answers
	mustSync(t, tg, shopProject())
	e.page(t, title)

	// The create is a POST: httpx replays it only because covsync marks it safe to.
	e2 := newEnv(t, confluencesim.Options{})
	tg2 := e2.target(t, func(o *confluence.Options) { o.HTTP = hc })
	e2.sim.FailNextWrites(1, http.StatusBadGateway)
	mustSync(t, tg2, shopProject())
	var creates []int
	for _, r := range e2.sim.Requests() {
		if r.Method == http.MethodPost && r.Path == "/content" {
			creates = append(creates, r.Status)
		}
	}
	if len(creates) != 2 || creates[0] != http.StatusBadGateway || creates[1] != http.StatusOK {
		t.Errorf("creates answered %v, want 502 then 200", creates)
	}
	if n := len(e2.sim.PagesTitled(space, title)); n != 1 {
		t.Errorf("%d pages, want 1", n)
	}
}

func TestCheckReadsTheSpaceAndTheParent(t *testing.T) {
	e := newEnv(t, confluencesim.Options{})
	if err := e.target(t).Check(context.Background()); err != nil {
		t.Fatal(err)
	}
	other := e.sim.AddSpace("OTHER", "Other")
	err := e.target(t, func(o *confluence.Options) { o.ParentPageID = other }).Check(context.Background())
	if err == nil || !strings.Contains(err.Error(), "is in space OTHER, not QA") {
		t.Errorf("err = %v", err)
	}
	if w := e.sim.Writes(); len(w) != 0 {
		t.Errorf("check wrote:\n%s", describe(w))
	}
}

func TestAPageOwnedByAnotherProjectIsNeverUpdated(t *testing.T) {
	// Two projects whose titles render alike ("Test coverage: Shop" for two projects named Shop).
	e, _ := published(t)
	id := e.page(t, title).ID
	before, _ := e.sim.Page(id)
	e.sim.ResetRequests()

	other := e.target(t, func(o *confluence.Options) { o.ProjectID = "shop-eu" })
	p := shopProject()
	*p.Stories[0].CoveragePercent = 81.0
	_, errs := syncOnce(t, other, p)
	err := errs[0]
	if err == nil || push.KindOf(err) != push.KindPermanent {
		t.Fatalf("err = %v, want a permanent error", err)
	}
	for _, s := range []string{title, "id " + id, `project "shop"`, `project "shop-eu"`} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not mention %s", err, s)
		}
	}
	if w := e.sim.Writes(); len(w) != 0 {
		t.Errorf("another project's page was written:\n%s", describe(w))
	}
	if after, _ := e.sim.Page(id); after.Version != before.Version || after.Body != before.Body {
		t.Errorf("page changed from version %d to %d", before.Version, after.Version)
	}
}

func TestAMarkWithoutAProjectIsReadAsThisProjectsAndGetsOneOnTheNextWrite(t *testing.T) {
	e, _ := published(t)
	pg := e.page(t, title)
	hash, ver, propVer := mark(t, pg)
	if owner := markProject(t, pg); owner != "shop" {
		t.Fatalf("a new page's mark names project %q, want shop", owner)
	}
	// Rewrite the mark as covsync wrote it before it recorded the project.
	old, _ := json.Marshal(map[string]any{"key": confluence.PropertyKey, "value": map[string]any{"hash": hash, "version": ver},
		"version": map[string]any{"number": propVer + 1}})
	req, _ := http.NewRequest(http.MethodPut, e.srv.URL+"/wiki/rest/api/content/"+pg.ID+"/property/"+confluence.PropertyKey, bytes.NewReader(old))
	req.SetBasicAuth(email, token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("rewriting the mark: %v %v", resp, err)
	}
	resp.Body.Close()
	if owner := markProject(t, e.page(t, title)); owner != "" {
		t.Fatalf("the old-style mark still names project %q", owner)
	}

	p := shopProject()
	*p.Stories[0].CoveragePercent = 81.0
	mustSync(t, e.target(t), p)
	pg = e.page(t, title)
	if !strings.Contains(pg.Body, "81.0%") {
		t.Errorf("the page under an old mark was not updated: %q", pg.Body)
	}
	if owner := markProject(t, pg); owner != "shop" {
		t.Errorf("after the write the mark names project %q, want shop", owner)
	}
}

func markProject(t *testing.T, p confluencesim.Page) string {
	t.Helper()
	var v struct {
		Project string `json:"project"`
	}
	if err := json.Unmarshal(p.Properties[confluence.PropertyKey].Value, &v); err != nil {
		t.Fatal(err)
	}
	return v.Project
}

func TestTitlesThatCannotTellPagesApartAreAConfigError(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*confluence.Options)
		want   string
	}{
		{name: "two release pages rendering one title", want: "both render the title",
			mutate: func(o *confluence.Options) { o.ReleasePages, o.ReleaseTitle = true, "Coverage per release" }},
		{name: "a title naming a key the project lacks", want: "title template",
			mutate: func(o *confluence.Options) { o.Title = "{{.Project.Nope}}" }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, confluencesim.Options{})
			_, err := e.target(t, tc.mutate).Plan(context.Background(), shopProject())
			if err == nil || push.KindOf(err) != push.KindConfig || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v (%v), want a configuration error saying %q", err, push.KindOf(err), tc.want)
			}
			if len(e.sim.Requests()) != 0 {
				t.Errorf("planning called Confluence:\n%s", describe(e.sim.Requests()))
			}
		})
	}
}

func TestABodyConfluenceCannotConvertFailsThatPageAloneOnce(t *testing.T) {
	e := newEnv(t, confluencesim.Options{})
	e.sim.RefuseConversion(title + " 2.4.0")
	tg := e.target(t, func(o *confluence.Options) { o.ReleasePages = true })
	items, err := tg.Plan(context.Background(), shopProject())
	if err != nil || len(items) != 3 {
		t.Fatalf("plan: %d items, %v", len(items), err)
	}
	failed := 0
	for _, it := range items {
		_, err := tg.Push(context.Background(), it)
		if err == nil {
			continue
		}
		failed++
		if push.KindOf(err) != push.KindPermanent || !strings.Contains(err.Error(), confluencesim.ConversionRefusal) {
			t.Errorf("%s: %v (kind %v), want this page's failure with Confluence's message", it.Key, err, push.KindOf(err))
		}
	}
	if failed != 1 {
		t.Fatalf("%d pages failed, want 1 of 3", failed)
	}
	if len(e.sim.PagesTitled(space, title)) != 1 || len(e.sim.PagesTitled(space, title+" 2.3.1")) != 1 {
		t.Error("the other pages were not written")
	}
	writes := 0
	for _, r := range e.sim.Requests() {
		if r.Method == http.MethodPost && r.Path == "/content" && r.Status == http.StatusBadRequest {
			writes++
		}
	}
	if writes != 1 {
		t.Errorf("the refused page was sent %d times, want once:\n%s", writes, describe(e.sim.Requests()))
	}
}
