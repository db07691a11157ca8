package jira

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/covsync/covsync/config"
	"github.com/covsync/covsync/connectors/fieldtext"
	"github.com/covsync/covsync/connectors/jira/jirasim"
	"github.com/covsync/covsync/sync/push"
	"github.com/covsync/covsync/sync/report"
)

// sentFields decodes the fields of the last PUT the simulator saw for an issue.
func sentFields(t *testing.T, sim *jirasim.Sim, key string) map[string]any {
	t.Helper()
	var last []byte
	for _, r := range sim.Requests() {
		if r.Method == "PUT" && r.Path == "/rest/api/2/issue/"+key {
			last = r.Body
			if r.Query.Get("notifyUsers") != "false" {
				t.Errorf("PUT %s without notifyUsers=false: %v", key, r.Query)
			}
		}
	}
	if last == nil {
		t.Fatalf("no PUT for %s", key)
	}
	var body struct {
		Fields map[string]any `json:"fields"`
	}
	if err := json.Unmarshal(last, &body); err != nil {
		t.Fatal(err)
	}
	return body.Fields
}

func TestFieldValuesAreTypedByTheFieldSchema(t *testing.T) {
	tests := []struct {
		name  string
		setup func(e *env) // re-point a role at another field kind
		story report.Story
		check func(t *testing.T, e *env, sent map[string]any)
	}{
		{name: "a number field gets a JSON number, a select {\"value\":…}, a url the link, a text field the summary",
			story: story("SHOP-1"),
			check: func(t *testing.T, e *env, sent map[string]any) {
				if sent[e.percent] != 78.5 {
					t.Errorf("percent = %#v", sent[e.percent])
				}
				if v, _ := sent[e.status].(map[string]any); v["value"] != "failed" {
					t.Errorf("status = %#v", sent[e.status])
				}
				if sent[e.link] != "https://ci.example/builds/482" {
					t.Errorf("link = %#v", sent[e.link])
				}
				want := "78.5% covered (157/200 methods) · 12 tests: 11 passed, 1 failed · build 482 · 2026-11-20"
				if sent[e.summary] != want {
					t.Errorf("summary = %q, want %q", sent[e.summary], want)
				}
			}},
		{name: "a story without coverage data clears the coverage field with null",
			story: report.Story{Key: "SHOP-1", Status: report.StatusNoTests},
			check: func(t *testing.T, e *env, sent map[string]any) {
				if v, ok := sent[e.percent]; !ok || v != nil {
					t.Errorf("percent = %#v (present %v), want null", v, ok)
				}
				if v, ok := sent[e.link]; !ok || v != nil {
					t.Errorf("link = %#v, want null", v)
				}
				if sent[e.summary] != "no coverage data · no linked tests" {
					t.Errorf("summary = %q", sent[e.summary])
				}
			}},
		{name: "a text status field gets the plain string",
			setup: func(e *env) { e.cfg.Fields.TestStatus = e.sim.AddField("Status Text", jirasim.KindTextField) },
			story: story("SHOP-1"),
			check: func(t *testing.T, e *env, sent map[string]any) {
				for id, v := range sent {
					if strings.HasPrefix(id, "customfield_") && v == "failed" {
						return
					}
				}
				t.Errorf("no plain \"failed\" in %v", sent)
			}},
		{name: "a run URL that is not http(s) never reaches a text field: it is cleared",
			setup: func(e *env) { e.cfg.Fields.LastRunURL = e.sim.AddField("Run Link Text", jirasim.KindTextField) },
			story: func() report.Story { s := story("SHOP-1"); s.LastRun.URL = "javascript:alert(1)//"; return s }(),
			check: func(t *testing.T, e *env, sent map[string]any) {
				for id, v := range sent {
					if s, _ := v.(string); strings.Contains(s, "javascript:") {
						t.Errorf("%s = %q", id, s)
					}
				}
			}},
		{name: "a text area summary gets the whole rendering",
			setup: func(e *env) { e.cfg.Fields.CoverageSummary = e.sim.AddField("Summary Long", jirasim.KindTextArea) },
			story: func() report.Story { s := story("SHOP-1"); s.LastRun.Name = strings.Repeat("n", 400); return s }(),
			check: func(t *testing.T, e *env, sent map[string]any) {
				found := false
				for _, v := range sent {
					if s, ok := v.(string); ok && strings.Contains(s, strings.Repeat("n", 400)) {
						found = true
					}
				}
				if !found {
					t.Errorf("text area did not get the full rendering: %v", sent)
				}
			}},
		{name: "a 255-character text field gets a rendering cut on a rune boundary with …",
			story: func() report.Story { s := story("SHOP-1"); s.LastRun.Name = strings.Repeat("ü", 400); return s }(),
			check: func(t *testing.T, e *env, sent map[string]any) {
				s := sent[e.summary].(string)
				if n := len([]rune(s)); n != 255 || !strings.HasSuffix(s, "…") {
					t.Errorf("summary has %d runes, ends %q", n, s[len(s)-6:])
				}
			}},
		{name: "a release name of emoji is cut to 255 UTF-16 units, as Jira counts, and the site accepts it",
			story: func() report.Story {
				s := story("SHOP-1")
				s.LastRun.Name = "release 🎉" + strings.Repeat("🚀", 200)
				return s
			}(),
			check: func(t *testing.T, e *env, sent map[string]any) {
				s := sent[e.summary].(string)
				if n := fieldtext.UTF16Len(s); n > 255 || n < 254 || !strings.HasSuffix(s, "…") {
					t.Errorf("summary has %d UTF-16 units, ends %q", n, s[len(s)-6:])
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, 3)
			if tt.setup != nil {
				tt.setup(e)
			}
			target := e.site(t).IssueTarget("SHOP")
			items := plan(t, target, project(tt.story))
			if len(items) != 1 {
				t.Fatalf("planned %d items", len(items))
			}
			if _, err := target.Push(context.Background(), items[0]); err != nil {
				t.Fatal(err)
			}
			tt.check(t, e, sentFields(t, e.sim, "SHOP-1"))
		})
	}
}

func TestFieldResolutionErrorsNameTheFieldAndAreConfigErrors(t *testing.T) {
	tests := []struct {
		name  string
		setup func(e *env)
		want  []string
	}{
		{name: "a name that matches no field", setup: func(e *env) { e.cfg.Fields.TestStatus = "Tset Status" },
			want: []string{"fields.test_status", `no field named "Tset Status"`}},
		{name: "a name that matches two fields", setup: func(e *env) {
			e.sim.AddField("Test Coverage", jirasim.KindNumber)
		}, want: []string{"fields.coverage_percent", `"Test Coverage" matches 2 fields`, "configure the id"}},
		{name: "a field of a type covsync cannot write", setup: func(e *env) {
			e.cfg.Fields.CoveragePercent = e.sim.AddField("Coverage Date", jirasim.KindDate)
		}, want: []string{"fields.coverage_percent", "unsupported field type", "date"}},
		{name: "a multi-select is unsupported too", setup: func(e *env) {
			e.cfg.Fields.TestStatus = e.sim.AddField("Statuses", jirasim.KindMultiSelect)
		}, want: []string{"fields.test_status", "unsupported field type", "array of option"}},
		{name: "a summary configured to a number field", setup: func(e *env) { e.cfg.Fields.CoverageSummary = "Test Coverage" },
			want: []string{"fields.coverage_summary", "is a number field"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, 1)
			tt.setup(e)
			_, err := e.site(t).IssueTarget("SHOP").Plan(context.Background(), project(story("SHOP-1")))
			if err == nil {
				t.Fatal("want an error")
			}
			if push.KindOf(err) != push.KindConfig {
				t.Errorf("error %q is %v, want a configuration error (exit 2, not an outage)", err, push.KindOf(err))
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

func TestFieldsAreResolvedByIDToo(t *testing.T) {
	e := newEnv(t, 1)
	e.cfg.Fields.CoveragePercent = e.percent
	target := e.site(t).IssueTarget("SHOP")
	items := plan(t, target, project(story("SHOP-1")))
	if _, err := target.Push(context.Background(), items[0]); err != nil {
		t.Fatal(err)
	}
	if got := e.sim.IssueFields("SHOP-1")[e.percent]; got != 78.5 {
		t.Errorf("percent = %v", got)
	}
	if n := e.sim.Count("GET", "/rest/api/2/field"); n != 1 {
		t.Errorf("GET /field %d times in one plan, want 1", n)
	}
}

func TestPlanIsDeterministicAndKeepsToTheProject(t *testing.T) {
	e := newEnv(t, 3)
	target := e.site(t).IssueTarget("SHOP")
	p := project(story("SHOP-1"), story("SHOP-2"), story("CORE-9"), story("AB#12"), story("shop-3"))
	a, b := plan(t, target, p), plan(t, target, p)
	if len(a) != 2 || a[0].Key != "SHOP-1" || a[1].Key != "SHOP-2" {
		t.Fatalf("planned %v", a)
	}
	for i := range a {
		if a[i].Hash != b[i].Hash {
			t.Errorf("%s: hash differs between two plans of the same report", a[i].Key)
		}
	}
	p.Stories[0].Status = report.StatusPassed
	c := plan(t, target, p)
	if c[0].Hash == a[0].Hash || c[1].Hash != a[1].Hash {
		t.Error("changing one story must change its hash and only its hash")
	}
}

func TestOneMissingIssueAmongFiftyFailsAlone(t *testing.T) {
	e := newEnv(t, 50)
	e.sim.RemoveIssue("SHOP-17")
	target := e.site(t).IssueTarget("SHOP")
	items := plan(t, target, project(storiesN(50)...))
	out := pushAll(t, target.Push, items, 4)
	for key, o := range out {
		if key == "SHOP-17" {
			if o.err == nil || push.KindOf(o.err) != push.KindPermanent || !strings.Contains(o.err.Error(), "Issue does not exist") {
				t.Errorf("SHOP-17: err = %v (kind %v), want a permanent 404 with Jira's message", o.err, push.KindOf(o.err))
			}
			continue
		}
		if o.err != nil {
			t.Errorf("%s: %v", key, o.err)
		}
	}
	if len(out) != 50 || e.sim.Count("PUT", "/rest/api/2/issue/") != 50 {
		t.Errorf("%d outcomes, %d PUTs; want 50 and 50", len(out), e.sim.Count("PUT", "/rest/api/2/issue/"))
	}
}

func TestAFieldOffTheEditScreenFailsTheStoryWithJirasMessage(t *testing.T) {
	e := newEnv(t, 2)
	e.sim.HideField("SHOP-2", e.summary)
	target := e.site(t).IssueTarget("SHOP")
	out := pushAll(t, target.Push, plan(t, target, project(story("SHOP-1"), story("SHOP-2"))), 1)
	err := out["SHOP-2"].err
	if err == nil || push.KindOf(err) != push.KindPermanent {
		t.Fatalf("SHOP-2: %v", err)
	}
	for _, w := range []string{"SHOP-2", e.summary, `coverage_summary "Test Coverage Summary"`, "not on the appropriate screen"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q lacks %q", err, w)
		}
	}
	if out["SHOP-1"].err != nil {
		t.Errorf("SHOP-1: %v", out["SHOP-1"].err)
	}
}

// Jira answers a field off the screen as it answers an account without Edit Issues, so a push whose every
// field "cannot be set" asks which. A cycle whose every push fails so asks once: before, it asked on every
// push, a second request per item.
func TestFieldsOffTheScreenAskForThePermissionOnce(t *testing.T) {
	e := newEnv(t, 3)
	target := e.site(t).IssueTarget("SHOP")
	items := plan(t, target, project(story("SHOP-1"), story("SHOP-2"), story("SHOP-3")))
	for _, it := range items {
		for id := range it.Payload.(issuePayload).Fields {
			e.sim.HideField(it.Key, id)
		}
	}
	out := pushAll(t, target.Push, items, 1)
	for key, o := range out {
		if o.err == nil || !strings.Contains(o.err.Error(), "cannot be set") {
			t.Errorf("%s: %v, want Jira's field refusal", key, o.err)
		}
	}
	if n := e.sim.Count("GET", "/rest/api/2/mypermissions"); n != 1 {
		t.Errorf("mypermissions asked %d times for %d pushes, want once", n, len(items))
	}
	// The next cycle asks again: a permission may have changed between cycles.
	items = plan(t, target, project(story("SHOP-1")))
	e.sim.Deny(jirasim.PermEditIssues)
	if _, err := target.Push(context.Background(), items[0]); err == nil || push.KindOf(err) != push.KindFatal {
		t.Errorf("after the permission was taken away, next cycle: %v, want the fatal Edit Issues error", err)
	}
}

func TestCredentialAndPermissionFailuresStopTheTarget(t *testing.T) {
	t.Run("a refused token is fatal and names the credential, not its value", func(t *testing.T) {
		e := newEnv(t, 1)
		e.cfg.Auth.Token = config.NewSecret("wrong-" + testToken)
		_, err := e.site(t).IssueTarget("SHOP").Plan(context.Background(), project(story("SHOP-1")))
		if err == nil || push.KindOf(err) != push.KindFatal {
			t.Fatalf("err = %v", err)
		}
		for _, w := range []string{"401", testEmail, "auth.token_env JIRA_TOKEN"} {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("error %q lacks %q", err, w)
			}
		}
		if strings.Contains(err.Error(), testToken) {
			t.Errorf("error reveals the token: %q", err)
		}
	})
	t.Run("a user without Edit Issues is fatal and names the permission", func(t *testing.T) {
		e := newEnv(t, 1)
		target := e.site(t).IssueTarget("SHOP")
		items := plan(t, target, project(story("SHOP-1")))
		e.sim.Deny(jirasim.PermEditIssues)
		_, err := target.Push(context.Background(), items[0])
		if err == nil || push.KindOf(err) != push.KindFatal || !strings.Contains(err.Error(), "Edit Issues") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("an unreachable site is fatal", func(t *testing.T) {
		e := newEnv(t, 1)
		e.srv.Close()
		_, err := e.site(t).IssueTarget("SHOP").Plan(context.Background(), project(story("SHOP-1")))
		if err == nil || push.KindOf(err) != push.KindFatal || !strings.Contains(err.Error(), "unreachable") {
			t.Fatalf("err = %v (kind %v)", err, push.KindOf(err))
		}
	})
}

func TestServerErrorsThatOutliveRetriesAreRetryable(t *testing.T) {
	e := newEnv(t, 1)
	target := e.site(t).IssueTarget("SHOP")
	items := plan(t, target, project(story("SHOP-1")))
	e.sim.FailNext(100, 503)
	_, err := target.Push(context.Background(), items[0])
	if err == nil || push.KindOf(err) != push.KindRetryable || !strings.Contains(err.Error(), "503") {
		t.Fatalf("err = %v", err)
	}
	e.sim.FailNext(2, 502)
	if _, err := target.Push(context.Background(), items[0]); err != nil {
		t.Fatalf("two 502s then success: %v", err)
	}
}

func TestA429StormEndsWithEverythingPushedAndNoWastedWrites(t *testing.T) {
	e := newEnv(t, 30)
	e.cfg.RequestsPerSecond = 100 // covsync believes it may go fast; the site allows 10/s with no burst
	target := e.site(t).IssueTarget("SHOP")
	items := plan(t, target, project(storiesN(30)...))
	e.sim.SetRate(10, 1)
	e.sim.ResetRequests()
	out := pushAll(t, target.Push, items, 4)
	for k, o := range out {
		if o.err != nil {
			t.Errorf("%s: %v", k, o.err)
		}
	}
	puts := e.sim.Count("PUT", "/rest/api/2/issue/")
	tooMany := e.sim.CountStatus(429)
	if ok := puts - tooMany; ok != 30 {
		t.Errorf("%d PUTs, %d answered 429: %d accepted, want exactly 30", puts, tooMany, ok)
	}
	if tooMany == 0 {
		t.Error("the storm did not happen: no 429 at all")
	}
	// The limiter halves on each 429 burst and the Retry-After pause holds every worker, so 429s stay a
	// fraction of the work instead of one per attempt.
	if tooMany > 20 {
		t.Errorf("%d 429s for 30 items: the client kept hammering", tooMany)
	}
	t.Logf("30 items: %d PUTs, %d 429s", puts, tooMany)
}

func TestTheTokenNeverReachesLogsOrErrors(t *testing.T) {
	e := newEnv(t, 3)
	e.sim.RemoveIssue("SHOP-3")
	e.sim.FailNext(1, 503)
	target := e.site(t).IssueTarget("SHOP")
	items := plan(t, target, project(storiesN(3)...))
	out := pushAll(t, target.Push, items, 2)
	var errs []string
	for _, o := range out {
		if o.err != nil {
			errs = append(errs, o.err.Error())
		}
	}
	bad := e.cfg
	bad.Auth.Token = config.NewSecret(testToken + "x")
	bs, _ := NewSite(bad, Options{})
	if _, err := bs.IssueTarget("SHOP").Plan(context.Background(), project()); err != nil {
		errs = append(errs, err.Error())
	}
	logs := e.logText()
	if !strings.Contains(logs, "level=debug") || len(errs) < 2 {
		t.Fatalf("the test did not exercise debug logs and errors: %d errors, logs:\n%s", len(errs), logs)
	}
	for _, s := range append(errs, logs) {
		if strings.Contains(s, testToken) || strings.Contains(s, "Zq9") {
			t.Fatalf("token leaked: %s", s)
		}
	}
}

func TestConnectionsAreReusedAcrossPushes(t *testing.T) {
	e := newEnv(t, 0)
	var conns atomic.Int32
	srv := httptest.NewUnstartedServer(e.sim)
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	e.cfg.URL = srv.URL
	target := e.site(t).PropertyTarget("SHOP")
	// Each push reads twice and writes once; Jira answers the write with a small JSON body that go-jira
	// leaves unread when nothing is decoded. Unread, it would pin its connection and force a new one.
	for i := 1; i <= 10; i++ {
		pushProperty(t, target, releaseProject(i))
	}
	if n := conns.Load(); n > 2 {
		t.Errorf("%d connections for 10 sequential property pushes, want 1 reused", n)
	}
}

func TestAnHTMLErrorPageIsCutToAKilobyteInTheError(t *testing.T) {
	e := newEnv(t, 1)
	page := "<html><head><title>Sign in</title></head><body>\n" + strings.Repeat("<div class=\"sso\">Please sign in to continue.</div>\n", 400) + "</body></html>"
	e.sim.FailNextWith(1, http.StatusBadRequest, "text/html; charset=utf-8", page)
	_, err := e.site(t).IssueTarget("SHOP").Plan(context.Background(), project(story("SHOP-1")))
	if err == nil || !strings.Contains(err.Error(), "Sign in") {
		t.Fatalf("err = %v, want the start of the page", err)
	}
	if n := len(err.Error()); n > 1300 || !strings.Contains(err.Error(), "more bytes)") {
		t.Errorf("the error is %d bytes (the page is %d), want about 1 KB saying it was cut:\n%s", n, len(page), err)
	}
}

func TestASelectOptionValidInOneProjectIsAConfigurationErrorInAnother(t *testing.T) {
	e := newEnv(t, 1)
	e.sim.AddProject("OPS", "Operations")
	e.sim.AddIssues("OPS", 1)
	e.sim.SetProjectOptions("OPS", e.status, "passed", "skipped", "no tests") // no "failed" in OPS's context
	site := e.site(t)
	if items := plan(t, site.IssueTarget("SHOP"), project(story("SHOP-1"))); len(items) != 1 {
		t.Fatalf("SHOP planned %d items", len(items))
	}
	_, err := site.IssueTarget("OPS").Plan(context.Background(), project(story("OPS-1")))
	if err == nil || push.KindOf(err) != push.KindConfig {
		t.Fatalf("OPS plan: %v (kind %v), want a configuration error", err, push.KindOf(err))
	}
	for _, w := range []string{"fields.test_status", `"failed"`, "project OPS"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q lacks %s", err, w)
		}
	}
	if e.sim.Count("PUT", "/rest/api/2/issue/OPS-1") != 0 {
		t.Error("an edit was sent with an option the project refuses")
	}
}

// Naming the fields in an error's text must not change what the engine does with it: a configuration
// error stays one (exit 2, the target stops), whatever other kind it had stays too.
func TestNamingFieldsKeepsTheErrorsKind(t *testing.T) {
	names := map[string]string{"customfield_10031": `coverage_summary "Test Coverage Summary"`}
	for _, k := range []push.Kind{push.KindConfig, push.KindUnreachable, push.KindFatal, push.KindPermanent, push.KindRetryable} {
		err := nameFields(push.WithKind(k, errors.New("customfield_10031: cannot be set")), names)
		if got := push.KindOf(err); got != k {
			t.Errorf("kind %v became %v", k, got)
		}
		if !strings.Contains(err.Error(), "Test Coverage Summary") {
			t.Errorf("kind %v: the field is not named: %v", k, err)
		}
	}
}

// TestADeletedFirstIssueDoesNotFailTheOptionCheck: the select-option check reads the edit metadata of one
// issue of the project; when the first planned issue was deleted (editmeta answers 404) it reads the next
// one's, instead of failing the whole plan every cycle. The deleted issue fails alone at its push.
func TestADeletedFirstIssueDoesNotFailTheOptionCheck(t *testing.T) {
	e := newEnv(t, 5)
	e.sim.RemoveIssue("SHOP-1")
	target := e.site(t).IssueTarget("SHOP")
	items := plan(t, target, project(storiesN(5)...))
	if len(items) != 5 || items[0].Key != "SHOP-1" {
		t.Fatalf("planned %d items, first %s; want 5, SHOP-1 first", len(items), items[0].Key)
	}
	if e.sim.Count("GET", "/rest/api/2/issue/SHOP-1/editmeta") != 1 || e.sim.Count("GET", "/rest/api/2/issue/SHOP-2/editmeta") != 1 {
		t.Errorf("editmeta read %d times for SHOP-1 and %d for SHOP-2, want once each",
			e.sim.Count("GET", "/rest/api/2/issue/SHOP-1/editmeta"), e.sim.Count("GET", "/rest/api/2/issue/SHOP-2/editmeta"))
	}
	out := pushAll(t, target.Push, items, 2)
	for key, o := range out {
		if key == "SHOP-1" {
			if o.err == nil || push.KindOf(o.err) != push.KindPermanent {
				t.Errorf("SHOP-1: err = %v (kind %v), want a permanent 404", o.err, push.KindOf(o.err))
			}
			continue
		}
		if o.err != nil {
			t.Errorf("%s: %v", key, o.err)
		}
	}
	if len(out) != 5 {
		t.Errorf("%d outcomes, want 5", len(out))
	}
}

// TestTheOptionCheckReadsPastADeletedIssue: with the first issue gone, the check still holds the plan to the
// options of the project's field context, read from the next issue.
func TestTheOptionCheckReadsPastADeletedIssue(t *testing.T) {
	e := newEnv(t, 1)
	e.sim.AddProject("OPS", "Operations")
	e.sim.AddIssues("OPS", 2)
	e.sim.RemoveIssue("OPS-1")
	e.sim.SetProjectOptions("OPS", e.status, "passed", "skipped", "no tests") // no "failed" in OPS's context
	_, err := e.site(t).IssueTarget("OPS").Plan(context.Background(), project(story("OPS-1"), story("OPS-2")))
	if err == nil || push.KindOf(err) != push.KindConfig || !strings.Contains(err.Error(), `"failed"`) {
		t.Fatalf("OPS plan: %v (kind %v), want the configuration error read from OPS-2's editmeta", err, push.KindOf(err))
	}
}
