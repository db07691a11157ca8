package confluencesim_test

import (
	"bytes"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/covsync/covsync/connectors/confluence/confluencesim"
	"github.com/covsync/covsync/internal/simkit"
)

type fixture struct {
	sim    *confluencesim.Server
	base   string // http://127.0.0.1:PORT
	home   string
	parent string
}

func newFixture(t *testing.T, o confluencesim.Options) *fixture {
	t.Helper()
	o.Email, o.Token, o.Bearer = "bot@acme.example", "tok", "pat"
	sim := confluencesim.New(o)
	home := sim.AddSpace("QA", "Quality")
	parent := sim.AddPage("QA", home, "Reports", "<p>r</p>", "admin")
	return &fixture{sim: sim, base: strings.TrimSuffix(confluencesim.Start(t, sim), "/wiki"), home: home, parent: parent}
}

// call sends one request with basic auth below /wiki/rest/api and decodes the JSON answer into a map.
func (f *fixture) call(t *testing.T, method, path string, body any) (int, map[string]any, http.Header) {
	t.Helper()
	req := simkit.NewJSONRequest(t, method, f.base+"/wiki/rest/api"+path, body)
	req.SetBasicAuth("bot@acme.example", "tok")
	resp, out := simkit.DoJSON(t, req)
	return resp.StatusCode, out, resp.Header
}

func pageIn(title, parent, body string) map[string]any {
	return map[string]any{
		"type": "page", "title": title, "space": map[string]any{"key": "QA"},
		"ancestors": []any{map[string]any{"id": parent}},
		"body":      map[string]any{"storage": map[string]any{"value": body, "representation": "storage"}},
	}
}

func TestContentLifecycle(t *testing.T) {
	f := newFixture(t, confluencesim.Options{})
	st, created, _ := f.call(t, "POST", "/content", pageIn("Coverage", f.parent, `<p>a &amp; b <ac:structured-macro ac:name="status"/></p>`))
	if st != 200 {
		t.Fatalf("create: %d %v", st, created)
	}
	id := created["id"].(string)

	tests := []struct {
		name    string
		method  string
		path    string
		body    any
		status  int
		message string
	}{
		{name: "a second page with the same title in the space is refused", method: "POST", path: "/content",
			body: pageIn("Coverage", f.parent, "<p/>"), status: 400, message: "A page with this title already exists"},
		{name: "invalid markup is refused", method: "POST", path: "/content",
			body: pageIn("Other", f.parent, "<p>unclosed"), status: 400, message: "Error parsing xhtml"},
		{name: "an HTML entity XML does not define is refused", method: "POST", path: "/content",
			body: pageIn("Other", f.parent, "<p>a&nbsp;b</p>"), status: 400, message: "Error parsing xhtml"},
		{name: "an update with a stale version conflicts", method: "PUT", path: "/content/" + id,
			body: map[string]any{"type": "page", "title": "Coverage", "version": map[string]any{"number": 1}}, status: 409, message: "Current version is: 1"},
		{name: "an update with the next version succeeds", method: "PUT", path: "/content/" + id,
			body: map[string]any{"type": "page", "title": "Coverage", "version": map[string]any{"number": 2},
				"body": map[string]any{"storage": map[string]any{"value": "<p>v2</p>", "representation": "storage"}}}, status: 200},
		{name: "a missing property is 404", method: "GET", path: "/content/" + id + "/property/covsync.sync", status: 404},
		{name: "a property is created at version 1", method: "POST", path: "/content/" + id + "/property",
			body: map[string]any{"key": "covsync.sync", "value": map[string]any{"hash": "h", "version": 2}}, status: 200},
		{name: "creating it again conflicts", method: "POST", path: "/content/" + id + "/property/covsync.sync",
			body: map[string]any{"value": 1}, status: 409},
		{name: "a property update with a stale version conflicts", method: "PUT", path: "/content/" + id + "/property/covsync.sync",
			body: map[string]any{"value": 1, "version": map[string]any{"number": 1}}, status: 409, message: "Current version is: 1"},
		{name: "a property update with the next version succeeds", method: "PUT", path: "/content/" + id + "/property/covsync.sync",
			body: map[string]any{"value": map[string]any{"hash": "h2"}, "version": map[string]any{"number": 2}}, status: 200},
		{name: "a property value over 32 KB is refused", method: "PUT", path: "/content/" + id + "/property/big",
			body: map[string]any{"value": strings.Repeat("x", 33<<10), "version": map[string]any{"number": 1}}, status: 413},
		{name: "labels are added", method: "POST", path: "/content/" + id + "/label",
			body: []any{map[string]any{"prefix": "global", "name": "covsync"}, map[string]any{"prefix": "global", "name": "Shop"}}, status: 200},
		{name: "a label with a space is refused", method: "POST", path: "/content/" + id + "/label",
			body: map[string]any{"prefix": "global", "name": "two words"}, status: 400},
		{name: "an update without a title is refused", method: "PUT", path: "/content/" + id,
			body: map[string]any{"type": "page", "version": map[string]any{"number": 3}}, status: 400},
		{name: "an unknown page is 404", method: "GET", path: "/content/1", status: 404},
		{name: "a parent in no space is refused", method: "POST", path: "/content", body: pageIn("Orphan", "1", "<p/>"), status: 400},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st, out, _ := f.call(t, tc.method, tc.path, tc.body)
			if st != tc.status {
				t.Fatalf("status %d, want %d: %v", st, tc.status, out)
			}
			if msg, _ := out["message"].(string); !strings.Contains(msg, tc.message) {
				t.Errorf("message %q lacks %q", msg, tc.message)
			}
		})
	}

	pg, _ := f.sim.Page(id)
	if pg.Version != 2 || pg.Body != "<p>v2</p>" || strings.Join(pg.Labels, ",") != "covsync,shop" || pg.Properties["covsync.sync"].Version != 2 {
		t.Errorf("page after the calls: %+v", pg)
	}
	if pg.Ancestors[len(pg.Ancestors)-1] != f.parent {
		t.Errorf("ancestors %v, want the parent last", pg.Ancestors)
	}
}

func TestSearchAndExpand(t *testing.T) {
	f := newFixture(t, confluencesim.Options{})
	_, created, _ := f.call(t, "POST", "/content", map[string]any{
		"type": "page", "title": "Cov", "space": map[string]any{"key": "QA"}, "ancestors": []any{map[string]any{"id": f.parent}},
		"body": map[string]any{"storage": map[string]any{"value": "<p/>", "representation": "storage"}},
		"metadata": map[string]any{
			"labels":     []any{map[string]any{"prefix": "global", "name": "covsync"}},
			"properties": map[string]any{"covsync.sync": map[string]any{"key": "covsync.sync", "value": map[string]any{"hash": "h"}}},
		},
	})
	id := created["id"].(string)
	_, res, _ := f.call(t, "GET", "/content?spaceKey=QA&title=Cov&type=page&expand=version,metadata.labels,ancestors", nil)
	results := res["results"].([]any)
	if len(results) != 1 {
		t.Fatalf("results: %v", res)
	}
	got := results[0].(map[string]any)
	if got["id"] != id || got["version"].(map[string]any)["number"].(float64) != 1 {
		t.Errorf("found %v", got)
	}
	if labels := got["metadata"].(map[string]any)["labels"].(map[string]any)["results"].([]any); len(labels) != 1 {
		t.Errorf("labels %v", labels)
	}
	if anc := got["ancestors"].([]any); len(anc) != 2 {
		t.Errorf("ancestors %v, want the home page and the parent", anc)
	}
	// Expansion takes dot paths: metadata.properties.covsync.sync asks for a property named "covsync".
	_, one, _ := f.call(t, "GET", "/content/"+id+"?expand=metadata.properties.covsync.sync", nil)
	if _, has := one["metadata"]; has {
		t.Errorf("expanding a dotted property key found something: %v", one["metadata"])
	}
	if st, prop, _ := f.call(t, "GET", "/content/"+id+"/property/covsync.sync", nil); st != 200 || prop["value"].(map[string]any)["hash"] != "h" {
		t.Errorf("property read by key: %d %v", st, prop)
	}
	if _, none, _ := f.call(t, "GET", "/content?spaceKey=QA&title=Nope", nil); len(none["results"].([]any)) != 0 {
		t.Errorf("search for a missing title found %v", none)
	}
}

func TestAuth(t *testing.T) {
	f := newFixture(t, confluencesim.Options{})
	tests := []struct {
		name   string
		path   string
		auth   func(*http.Request)
		status int
	}{
		{"basic auth with the API token on the Cloud path", "/wiki/rest/api/space/QA", func(r *http.Request) { r.SetBasicAuth("bot@acme.example", "tok") }, 200},
		{"a bearer PAT on the Data Center path", "/rest/api/space/QA", func(r *http.Request) { r.Header.Set("Authorization", "Bearer pat") }, 200},
		{"a wrong token", "/wiki/rest/api/space/QA", func(r *http.Request) { r.SetBasicAuth("bot@acme.example", "nope") }, 401},
		{"no credentials", "/wiki/rest/api/space/QA", func(*http.Request) {}, 401},
		{"a path outside the API", "/wiki/spaces/QA", func(r *http.Request) { r.SetBasicAuth("bot@acme.example", "tok") }, 404},
		{"an unknown space", "/wiki/rest/api/space/NOPE", func(r *http.Request) { r.SetBasicAuth("bot@acme.example", "tok") }, 404},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest("GET", f.base+tc.path, nil)
			tc.auth(req)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.status {
				t.Errorf("status %d, want %d", resp.StatusCode, tc.status)
			}
		})
	}
}

func TestFaults(t *testing.T) {
	t.Run("the token bucket answers 429 with Retry-After", func(t *testing.T) {
		// One token per 100 s after a burst of 2: the third request meets an empty bucket however slowly
		// the machine runs, and Retry-After is the time to the next token, rounded up.
		f := newFixture(t, confluencesim.Options{RequestsPerSecond: 0.01, Burst: 2})
		var statuses []int
		var retry string
		for range 3 {
			st, _, h := f.call(t, "GET", "/space/QA", nil)
			statuses = append(statuses, st)
			retry = h.Get("Retry-After")
		}
		if ra, _ := strconv.Atoi(retry); statuses[0] != 200 || statuses[1] != 200 || statuses[2] != 429 || ra < 90 || ra > 100 {
			t.Errorf("statuses %v, Retry-After %q; want 200 200 429 and 90-100 s", statuses, retry)
		}
	})
	t.Run("injected 5xx answers the next requests only", func(t *testing.T) {
		f := newFixture(t, confluencesim.Options{})
		f.sim.FailNext(2, 0)
		var statuses []int
		for range 3 {
			st, _, _ := f.call(t, "GET", "/space/QA", nil)
			statuses = append(statuses, st)
		}
		if statuses[0] != 503 || statuses[1] != 503 || statuses[2] != 200 {
			t.Errorf("statuses %v", statuses)
		}
	})
	t.Run("latency delays answers", func(t *testing.T) {
		f := newFixture(t, confluencesim.Options{})
		f.sim.SetLatency(50 * time.Millisecond)
		start := time.Now()
		f.call(t, "GET", "/space/QA", nil)
		if time.Since(start) < 50*time.Millisecond {
			t.Error("no latency")
		}
	})
	t.Run("a body over the limit is refused", func(t *testing.T) {
		f := newFixture(t, confluencesim.Options{MaxBodyBytes: 1000})
		st, _, _ := f.call(t, "POST", "/content", pageIn("Big", f.parent, "<p>"+strings.Repeat("x", 2000)+"</p>"))
		if st != 413 {
			t.Errorf("status %d, want 413", st)
		}
	})
	t.Run("a title counts an emoji as two characters, as Java does", func(t *testing.T) {
		f := newFixture(t, confluencesim.Options{})
		if st, _, _ := f.call(t, "POST", "/content", pageIn(strings.Repeat("🚀", 128), f.parent, "<p>x</p>")); st != 400 {
			t.Errorf("128 emoji (256 UTF-16 units): status %d, want 400", st)
		}
		if st, _, _ := f.call(t, "POST", "/content", pageIn(strings.Repeat("🚀", 127)+"a", f.parent, "<p>x</p>")); st != 200 {
			t.Errorf("127 emoji and a letter (255 units): status %d, want 200", st)
		}
	})
	t.Run("an edit between read and write makes the write stale", func(t *testing.T) {
		f := newFixture(t, confluencesim.Options{})
		f.sim.EditBeforeNextWrite(f.parent, confluencesim.Edit{By: "jane", Body: "<p>jane</p>"})
		st, out, _ := f.call(t, "PUT", "/content/"+f.parent, map[string]any{"type": "page", "title": "Reports", "version": map[string]any{"number": 2}})
		pg, _ := f.sim.Page(f.parent)
		if st != 409 || pg.Version != 2 || pg.By != "jane" || pg.Body != "<p>jane</p>" {
			t.Errorf("status %d (%v), page %+v", st, out, pg)
		}
	})
	t.Run("every request is recorded with what was sent", func(t *testing.T) {
		f := newFixture(t, confluencesim.Options{})
		f.call(t, "POST", "/content", pageIn("Rec", f.parent, "<p/>"))
		rs := f.sim.Requests()
		if len(rs) != 1 || rs[0].Path != "/content" || rs[0].Status != 200 || rs[0].User != "covsync-bot" || !bytes.Contains(rs[0].Body, []byte(`"Rec"`)) {
			t.Errorf("recorded %+v", rs)
		}
		if len(f.sim.Writes()) != 1 {
			t.Error("the POST is not a write")
		}
	})
}

func TestParseStorage(t *testing.T) {
	tests := []struct {
		name, body string
		ok         bool
	}{
		{"XHTML with the ac: and ri: namespaces", `<p>x</p><ac:link><ri:page ri:content-title="T"/></ac:link>`, true},
		{"XML's own entities and numeric references", `<p>&amp;&lt;&gt;&quot;&apos;&#160;&#x2026;</p>`, true},
		{"&nbsp; is not an XML entity", `<p>&nbsp;</p>`, false},
		{"an unclosed element", `<p>`, false},
		{"mismatched elements", `<p><b></p></b>`, false},
		{"a control character", "<p>\x01</p>", false},
		{"an HTML void element without a slash", `<br>`, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := confluencesim.ParseStorage(tc.body)
			if (err == nil) != tc.ok {
				t.Errorf("err = %v, want ok %v", err, tc.ok)
			}
			if err != nil && !strings.HasPrefix(err.Error(), "Error parsing xhtml") {
				t.Errorf("error %q does not read like Confluence's", err)
			}
		})
	}
}
