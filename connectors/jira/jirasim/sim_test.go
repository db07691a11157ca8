package jirasim

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	jira "github.com/andygrunwald/go-jira"
)

const (
	email = "qa-bot@acme.example"
	token = "api-token-123"
	pat   = "pat-456"
)

type fixture struct {
	sim                                     *Sim
	client                                  *jira.Client
	url                                     string
	percent, summary, status, link, release string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	s := New(Options{Email: email, Token: token, PAT: pat})
	srv := s.Start()
	t.Cleanup(srv.Close)
	f := &fixture{sim: s, url: srv.URL}
	f.percent = s.AddField("Test Coverage", KindNumber)
	f.summary = s.AddField("Test Coverage Summary", KindTextField)
	f.status = s.AddField("Test Status", KindSelect, "passed", "failed", "skipped", "no tests")
	f.link = s.AddField("Last Test Run", KindURL)
	s.AddProject("SHOP", "Shop")
	f.release = s.AddVersion("SHOP", "2.4.0")
	s.AddIssues("SHOP", 3)
	f.client = basicClient(t, srv.URL, token)
	return f
}

func basicClient(t *testing.T, url, tok string) *jira.Client {
	t.Helper()
	tp := jira.BasicAuthTransport{Username: email, Password: tok}
	c, err := jira.NewClient(tp.Client(), url)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// do sends a hand-built request through go-jira, as covsync does for calls go-jira lacks.
func do(t *testing.T, c *jira.Client, method, path string, body, out any) (*jira.Response, error) {
	t.Helper()
	req, err := c.NewRequestWithContext(context.Background(), method, path, body)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Do(req, out)
	if err != nil && resp != nil {
		return resp, jira.NewJiraError(resp, err)
	}
	return resp, err
}

func TestAuthentication(t *testing.T) {
	f := newFixture(t)
	t.Run("basic auth with email and API token is accepted", func(t *testing.T) {
		u, _, err := f.client.User.GetSelfWithContext(context.Background())
		if err != nil || u.EmailAddress != email {
			t.Fatalf("GetSelf = %+v, %v", u, err)
		}
	})
	t.Run("a bearer PAT is accepted", func(t *testing.T) {
		tp := jira.PATAuthTransport{Token: pat}
		c, _ := jira.NewClient(tp.Client(), f.url)
		if _, _, err := c.User.GetSelfWithContext(context.Background()); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("a wrong token gets 401 with no detail", func(t *testing.T) {
		c := basicClient(t, f.url, "wrong")
		_, resp, err := c.User.GetSelfWithContext(context.Background())
		if err == nil || resp == nil || resp.StatusCode != 401 {
			t.Fatalf("want 401, got %v %v", resp, err)
		}
	})
	t.Run("no credential gets 401", func(t *testing.T) {
		resp, err := http.Get(f.url + "/rest/api/2/myself")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 401 {
			t.Fatalf("status %d", resp.StatusCode)
		}
	})
}

func TestSetCredentialsRotatesTheAcceptedToken(t *testing.T) {
	f := newFixture(t)
	const rotated = "api-token-rotated-789"
	status := func(tok string) int {
		_, resp, err := basicClient(t, f.url, tok).User.GetSelfWithContext(context.Background())
		if resp == nil {
			t.Fatalf("no response: %v", err)
		}
		return resp.StatusCode
	}
	if got := status(token); got != http.StatusOK {
		t.Fatalf("before the rotation, the first token gets %d, want 200", got)
	}
	if got := status(rotated); got != http.StatusUnauthorized {
		t.Fatalf("before the rotation, the new token gets %d, want 401", got)
	}

	f.sim.SetCredentials(email, rotated)
	if got := status(token); got != http.StatusUnauthorized {
		t.Errorf("after the rotation, the old token gets %d, want 401", got)
	}
	if got := status(rotated); got != http.StatusOK {
		t.Errorf("after the rotation, the new token gets %d, want 200", got)
	}
	// The bearer PAT is another credential: rotating the API token leaves it alone.
	tp := jira.PATAuthTransport{Token: pat}
	c, _ := jira.NewClient(tp.Client(), f.url)
	if _, _, err := c.User.GetSelfWithContext(context.Background()); err != nil {
		t.Errorf("the PAT after the token's rotation: %v", err)
	}
}

func TestSetCredentialsIsSafeWhileRequestsAreServed(t *testing.T) {
	f := newFixture(t)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 50 {
			f.sim.SetCredentials(email, "token-"+strconv.Itoa(i))
		}
	}()
	// Under -race, a credential read outside the simulator's lock fails this test.
	for range 50 {
		_, resp, _ := f.client.User.GetSelfWithContext(context.Background())
		if resp == nil || (resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusUnauthorized) {
			t.Fatalf("response %v during rotations, want 200 or 401", resp)
		}
	}
	<-done
	f.sim.SetCredentials(email, token)
	if _, _, err := f.client.User.GetSelfWithContext(context.Background()); err != nil {
		t.Fatalf("after rotating back: %v", err)
	}
}

func TestFieldsCarryTheirSchema(t *testing.T) {
	f := newFixture(t)
	fields, _, err := f.client.Field.GetListWithContext(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"Test Coverage": "number", "Test Coverage Summary": "string", "Test Status": "option", "Last Test Run": "string", "Summary": "string"}
	got := map[string]string{}
	for _, fl := range fields {
		got[fl.Name] = fl.Schema.Type
	}
	for name, typ := range want {
		if got[name] != typ {
			t.Errorf("field %q schema type = %q, want %q", name, got[name], typ)
		}
	}
}

func TestProjectAndVersions(t *testing.T) {
	f := newFixture(t)
	p, _, err := f.client.Project.GetWithContext(context.Background(), "SHOP")
	if err != nil || p.Key != "SHOP" || len(p.Versions) != 1 {
		t.Fatalf("project = %+v, %v", p, err)
	}
	var vs []jira.Version
	if _, err := do(t, f.client, "GET", "rest/api/2/project/SHOP/versions", nil, &vs); err != nil {
		t.Fatal(err)
	}
	if len(vs) != 1 || vs[0].Name != "2.4.0" || vs[0].ID != f.release {
		t.Fatalf("versions = %+v", vs)
	}
	_, resp, err := f.client.Project.GetWithContext(context.Background(), "NOPE")
	if err == nil || resp.StatusCode != 404 {
		t.Fatalf("unknown project: %v", err)
	}
}

func TestEditIssue(t *testing.T) {
	tests := []struct {
		name      string
		issue     string
		fields    func(f *fixture) map[string]any
		wantCode  int
		wantField string // the errors map key expected
		wantMsg   string
	}{
		{name: "typed values are stored and answered 204", issue: "SHOP-1", wantCode: 204,
			fields: func(f *fixture) map[string]any {
				return map[string]any{f.percent: 78.5, f.summary: "78.5% covered", f.status: map[string]any{"value": "failed"}, f.link: "https://ci.example/482"}
			}},
		{name: "null clears a field", issue: "SHOP-1", wantCode: 204,
			fields: func(f *fixture) map[string]any { return map[string]any{f.percent: nil} }},
		{name: "an unknown field is a 400 naming it", issue: "SHOP-1", wantCode: 400, wantField: "customfield_99999",
			wantMsg: "not on the appropriate screen",
			fields:  func(f *fixture) map[string]any { return map[string]any{"customfield_99999": 1} }},
		{name: "a number field refuses a string", issue: "SHOP-1", wantCode: 400, wantMsg: "must be a number",
			fields: func(f *fixture) map[string]any { return map[string]any{f.percent: "78.5"} }},
		{name: "a text field refuses 256 characters", issue: "SHOP-1", wantCode: 400, wantMsg: "255 characters",
			fields: func(f *fixture) map[string]any { return map[string]any{f.summary: strings.Repeat("é", 256)} }},
		{name: "a text field takes 255 multi-byte characters", issue: "SHOP-1", wantCode: 204,
			fields: func(f *fixture) map[string]any { return map[string]any{f.summary: strings.Repeat("é", 255)} }},
		{name: "a text field counts an emoji as two characters, as Java does", issue: "SHOP-1", wantCode: 400, wantMsg: "255 characters",
			fields: func(f *fixture) map[string]any { return map[string]any{f.summary: strings.Repeat("🚀", 128)} }},
		{name: "a text field takes 127 emoji and one letter: 255 UTF-16 units", issue: "SHOP-1", wantCode: 204,
			fields: func(f *fixture) map[string]any { return map[string]any{f.summary: strings.Repeat("🚀", 127) + "a"} }},
		{name: "a select field refuses a plain string", issue: "SHOP-1", wantCode: 400, wantMsg: "Specify a valid",
			fields: func(f *fixture) map[string]any { return map[string]any{f.status: "failed"} }},
		{name: "a select field refuses an unknown option", issue: "SHOP-1", wantCode: 400, wantMsg: "Option value 'flaky' is not valid",
			fields: func(f *fixture) map[string]any { return map[string]any{f.status: map[string]any{"value": "flaky"}} }},
		{name: "a url field refuses a relative link", issue: "SHOP-1", wantCode: 400, wantMsg: "Not a valid URL",
			fields: func(f *fixture) map[string]any { return map[string]any{f.link: "/runs/1"} }},
		{name: "an unknown issue is 404", issue: "SHOP-404", wantCode: 404, wantMsg: "Issue does not exist",
			fields: func(f *fixture) map[string]any { return map[string]any{f.percent: 1} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			resp, err := f.client.Issue.UpdateIssueWithContext(context.Background(), tt.issue, map[string]any{"fields": tt.fields(f)})
			if resp == nil || resp.StatusCode != tt.wantCode {
				t.Fatalf("status = %v, err %v; want %d", resp, err, tt.wantCode)
			}
			if tt.wantCode == 204 {
				return
			}
			jerr := jira.NewJiraError(resp, err)
			var je *jira.Error
			if !errors.As(jerr, &je) {
				t.Fatalf("error %v is not Jira's error shape", jerr)
			}
			all := strings.Join(je.ErrorMessages, "|")
			for k, v := range je.Errors {
				all += "|" + k + ": " + v
			}
			if !strings.Contains(all, tt.wantMsg) || (tt.wantField != "" && je.Errors[tt.wantField] == "") {
				t.Errorf("error %q lacks %q / field %q", all, tt.wantMsg, tt.wantField)
			}
		})
	}
}

func TestEditIssueStoresValuesAndHonoursNotifyUsers(t *testing.T) {
	f := newFixture(t)
	body := map[string]any{"fields": map[string]any{f.percent: 78.5, f.status: map[string]any{"value": "passed"}}}
	if _, err := do(t, f.client, "PUT", "rest/api/2/issue/SHOP-2?notifyUsers=false", body, nil); err != nil {
		t.Fatal(err)
	}
	got := f.sim.IssueFields("SHOP-2")
	if got[f.percent] != 78.5 || got[f.status].(map[string]any)["value"] != "passed" {
		t.Errorf("fields = %v", got)
	}
	if n := f.sim.Notifications("SHOP-2"); n != 0 {
		t.Errorf("notifyUsers=false still notified %d times", n)
	}
	reqs := f.sim.Requests()
	last := reqs[len(reqs)-1]
	if last.Method != "PUT" || last.Path != "/rest/api/2/issue/SHOP-2" || last.Query.Get("notifyUsers") != "false" || !strings.Contains(string(last.Body), "78.5") {
		t.Errorf("recorded %+v", last)
	}
	f.sim.HideField("SHOP-2", f.percent)
	if _, err := do(t, f.client, "PUT", "rest/api/2/issue/SHOP-2", body, nil); err == nil || !strings.Contains(err.Error(), "cannot be set") {
		t.Errorf("off-screen field: err = %v", err)
	}
}

func TestProjectProperty(t *testing.T) {
	f := newFixture(t)
	const path = "rest/api/2/project/SHOP/properties/jira-test-manager.linked-test-runs"
	resp, err := do(t, f.client, "GET", path, nil, nil)
	if err == nil || resp.StatusCode != 404 {
		t.Fatalf("unset property: %v %v", resp, err)
	}
	resp, err = do(t, f.client, "PUT", path, map[string]any{"version": 1}, nil)
	if err != nil || resp.StatusCode != 201 {
		t.Fatalf("create: %v %v", resp, err)
	}
	resp, err = do(t, f.client, "PUT", path, map[string]any{"version": 2}, nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("update: %v %v", resp, err)
	}
	var got struct {
		Key   string          `json:"key"`
		Value json.RawMessage `json:"value"`
	}
	if _, err := do(t, f.client, "GET", path, nil, &got); err != nil || string(got.Value) != `{"version":2}` {
		t.Fatalf("get: %s %v", got.Value, err)
	}

	// 32,768 bytes is accepted; one more is refused and the stored value is kept.
	at := json.RawMessage(`"` + strings.Repeat("x", MaxPropertyBytes-2) + `"`)
	if resp, err := do(t, f.client, "PUT", path, at, nil); err != nil || resp.StatusCode != 200 {
		t.Fatalf("32768 bytes: %v %v", resp, err)
	}
	over := json.RawMessage(`"` + strings.Repeat("x", MaxPropertyBytes-1) + `"`)
	if resp, err := do(t, f.client, "PUT", path, over, nil); err == nil || resp.StatusCode != 400 || !strings.Contains(err.Error(), "too long") {
		t.Fatalf("32769 bytes: %v %v", resp, err)
	}
	if len(f.sim.Property("SHOP", "jira-test-manager.linked-test-runs")) != MaxPropertyBytes {
		t.Error("a refused PUT changed the stored value")
	}
	if resp, err := do(t, f.client, "DELETE", path, nil, nil); err != nil || resp.StatusCode != 204 {
		t.Fatalf("delete: %v %v", resp, err)
	}
	f.sim.Deny(PermAdministerProject)
	if resp, _ := do(t, f.client, "PUT", path, map[string]any{"v": 1}, nil); resp.StatusCode != 403 {
		t.Fatalf("without Administer Projects: %d", resp.StatusCode)
	}
}

func TestFaults(t *testing.T) {
	t.Run("the token bucket answers 429 with Retry-After", func(t *testing.T) {
		f := newFixture(t)
		// One token per 100 s: the second request meets an empty bucket however slowly the machine runs,
		// and Retry-After is the time to the next token (100 s less what has elapsed, rounded up).
		f.sim.SetRate(0.01, 1)
		f.client.User.GetSelfWithContext(context.Background())
		_, resp, err := f.client.User.GetSelfWithContext(context.Background())
		if err == nil || resp.StatusCode != 429 {
			t.Fatalf("second request: %v %v", resp, err)
		}
		if ra, _ := strconv.Atoi(resp.Header.Get("Retry-After")); ra < 90 || ra > 100 {
			t.Fatalf("Retry-After %q, want the seconds to the next token (90-100)", resp.Header.Get("Retry-After"))
		}
		if f.sim.CountStatus(429) != 1 {
			t.Errorf("recorded 429s = %d", f.sim.CountStatus(429))
		}
	})
	t.Run("latency delays every answer", func(t *testing.T) {
		f := newFixture(t)
		f.sim.SetLatency(150 * time.Millisecond)
		start := time.Now()
		if _, _, err := f.client.User.GetSelfWithContext(context.Background()); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d < 150*time.Millisecond {
			t.Errorf("answered after %v, want at least 150ms", d)
		}
	})
	t.Run("a burst of 5xx answers n requests then recovers", func(t *testing.T) {
		f := newFixture(t)
		f.sim.FailNext(2, 503)
		for i, want := range []int{503, 503, 200} {
			_, resp, _ := f.client.User.GetSelfWithContext(context.Background())
			if resp == nil || resp.StatusCode != want {
				t.Fatalf("request %d: %v, want %d", i, resp, want)
			}
		}
	})
	t.Run("a dropped connection is an error for the client", func(t *testing.T) {
		f := newFixture(t)
		f.sim.DropNext(1)
		if _, _, err := f.client.User.GetSelfWithContext(context.Background()); err == nil {
			t.Fatal("want an error")
		}
		if _, _, err := f.client.User.GetSelfWithContext(context.Background()); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("a concurrent writer changes the property between GET and PUT", func(t *testing.T) {
		f := newFixture(t)
		f.sim.SetProperty("SHOP", "p", json.RawMessage(`{"a":1}`))
		f.sim.WriteBetweenGetAndPut(func(_, _ string, cur []byte) []byte { return []byte(`{"a":1,"b":2}`) })
		var got struct{ Value json.RawMessage }
		do(t, f.client, "GET", "rest/api/2/project/SHOP/properties/p", nil, &got)
		if string(got.Value) != `{"a":1}` || string(f.sim.Property("SHOP", "p")) != `{"a":1,"b":2}` {
			t.Fatalf("read %s, stored %s", got.Value, f.sim.Property("SHOP", "p"))
		}
	})
}

func TestNotifyUsersFalseWithoutAdministerProjectsIs403AndNotApplied(t *testing.T) {
	f := newFixture(t)
	f.sim.Deny(PermAdministerProject)
	resp, err := do(t, f.client, "PUT", "rest/api/2/issue/SHOP-1?notifyUsers=false", map[string]any{"fields": map[string]any{f.percent: 50.0}}, nil)
	if resp == nil || resp.StatusCode != 403 {
		t.Fatalf("status %v", resp)
	}
	var je *jira.Error
	if !errors.As(err, &je) || len(je.ErrorMessages) != 1 || je.ErrorMessages[0] != NotifyRefusal || len(je.Errors) != 0 {
		t.Fatalf("body %v", err)
	}
	if _, ok := f.sim.IssueFields("SHOP-1")[f.percent]; ok {
		t.Error("the refused edit was applied")
	}
	if resp, err := do(t, f.client, "PUT", "rest/api/2/issue/SHOP-1", map[string]any{"fields": map[string]any{f.percent: 50.0}}, nil); err != nil || resp.StatusCode != 204 {
		t.Fatalf("with notifications: %v %v", resp, err)
	}
}

func TestWithoutEditIssuesEveryFieldCannotBeSet(t *testing.T) {
	f := newFixture(t)
	f.sim.Deny(PermEditIssues)
	_, err := do(t, f.client, "PUT", "rest/api/2/issue/SHOP-1?notifyUsers=false", map[string]any{"fields": map[string]any{f.percent: 50.0, f.summary: "x"}}, nil)
	var je *jira.Error
	if !errors.As(err, &je) || je.HTTPError == nil || !strings.Contains(je.HTTPError.Error(), "400") {
		t.Fatalf("err %v", err)
	}
	for _, id := range []string{f.percent, f.summary} {
		if je.Errors[id] != "Field '"+id+"' cannot be set. It is not on the appropriate screen, or unknown." {
			t.Errorf("errors[%s] = %q", id, je.Errors[id])
		}
	}
	var meta struct {
		Fields map[string]any `json:"fields"`
	}
	if _, err := do(t, f.client, "GET", "rest/api/2/issue/SHOP-1/editmeta", nil, &meta); err != nil || len(meta.Fields) != 0 {
		t.Errorf("editmeta without Edit Issues: %v %v", meta.Fields, err)
	}
}

func TestSelectOptionsBelongToTheProjectsFieldContext(t *testing.T) {
	f := newFixture(t)
	f.sim.AddProject("OPS", "Operations")
	f.sim.AddIssues("OPS", 1)
	f.sim.SetProjectOptions("OPS", f.status, "passed", "failed")
	set := map[string]any{"fields": map[string]any{f.status: map[string]any{"value": "no tests"}}}
	if resp, err := do(t, f.client, "PUT", "rest/api/2/issue/SHOP-1", set, nil); err != nil || resp.StatusCode != 204 {
		t.Fatalf("SHOP: %v %v", resp, err)
	}
	_, err := do(t, f.client, "PUT", "rest/api/2/issue/OPS-1", set, nil)
	var je *jira.Error
	if !errors.As(err, &je) || je.Errors[f.status] != "Option value 'no tests' is not valid" {
		t.Fatalf("OPS: %v", err)
	}
	var meta struct {
		Fields map[string]struct {
			AllowedValues []struct{ Value string } `json:"allowedValues"`
		} `json:"fields"`
	}
	if _, err := do(t, f.client, "GET", "rest/api/2/issue/OPS-1/editmeta", nil, &meta); err != nil || len(meta.Fields[f.status].AllowedValues) != 2 {
		t.Fatalf("editmeta OPS: %+v %v", meta, err)
	}
}

func TestMyPermissionsAnswersHavePermission(t *testing.T) {
	f := newFixture(t)
	f.sim.Deny(PermAdministerProject)
	var got struct {
		Permissions map[string]struct {
			Key            string `json:"key"`
			HavePermission bool   `json:"havePermission"`
		} `json:"permissions"`
	}
	if _, err := do(t, f.client, "GET", "rest/api/2/mypermissions?projectKey=SHOP&permissions=EDIT_ISSUES,ADMINISTER_PROJECTS", nil, &got); err != nil {
		t.Fatal(err)
	}
	if !got.Permissions["EDIT_ISSUES"].HavePermission || got.Permissions["ADMINISTER_PROJECTS"].HavePermission {
		t.Errorf("permissions %+v", got.Permissions)
	}
	if resp, _ := do(t, f.client, "GET", "rest/api/2/mypermissions?projectKey=SHOP", nil, nil); resp == nil || resp.StatusCode != 400 {
		t.Errorf("without permissions=: %v", resp)
	}
}
