package adosim_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/microsoft/azure-devops-go-api/azuredevops/v7"
	"github.com/microsoft/azure-devops-go-api/azuredevops/v7/core"
	"github.com/microsoft/azure-devops-go-api/azuredevops/v7/webapi"
	"github.com/microsoft/azure-devops-go-api/azuredevops/v7/workitemtracking"

	"github.com/covsync/covsync/connectors/ado/adosim"
	"github.com/covsync/covsync/internal/simkit"
)

const pat = "sim-pat-0123456789"

func start(t *testing.T, o adosim.Options) *adosim.Servers {
	t.Helper()
	o.PAT = pat
	sim := adosim.New(o)
	sim.AddProject("Shop")
	sim.AddCovsyncFields()
	sim.InstallExtension("acme", "story-coverage")
	return adosim.Start(t, sim)
}

// witClient builds the work-item client the way the connector does: resource areas from the connection,
// then NewClientWithOptions on the area's URL with our own http.Client.
func witClient(t *testing.T, srv *adosim.Servers) (workitemtracking.Client, map[string]string) {
	t.Helper()
	ctx := context.Background()
	// Upper case on purpose: NewPatConnection lowercases the base URL and the service must not care.
	conn := azuredevops.NewPatConnection(strings.Replace(srv.OrgURL, "/acme", "/ACME", 1), pat)
	areas, err := azuredevops.NewClientWithOptions(conn, conn.BaseUrl, azuredevops.WithHTTPClient(http.DefaultClient)).GetResourceAreas(ctx)
	if err != nil {
		t.Fatalf("GetResourceAreas: %v", err)
	}
	byID := map[string]string{}
	for _, a := range *areas {
		byID[a.Id.String()] = *a.LocationUrl
	}
	base := conn.BaseUrl
	if u, ok := byID[workitemtracking.ResourceAreaId.String()]; ok {
		base = u
	}
	return &workitemtracking.ClientImpl{Client: *azuredevops.NewClientWithOptions(conn, base, azuredevops.WithHTTPClient(http.DefaultClient))}, byID
}

func TestResourceAreasPutExtensionManagementOnItsOwnHost(t *testing.T) {
	srv := start(t, adosim.Options{})
	_, areas := witClient(t, srv)
	got := areas["6c2b0933-3600-42ae-bf8b-93d4f7e83594"]
	if got != srv.ExtMgmtURL+"/" || got == srv.OrgURL+"/" {
		t.Fatalf("ExtensionManagement area at %q, want %q (not the org URL %q)", got, srv.ExtMgmtURL+"/", srv.OrgURL)
	}
	reqs := srv.Sim.Requests()
	if len(reqs) < 2 || reqs[0].Method != http.MethodOptions || !strings.EqualFold(reqs[1].Path, "/acme/_apis/ResourceAreas") {
		t.Fatalf("first calls = %v, want OPTIONS _apis then GET _apis/ResourceAreas", reqs)
	}
	if a := reqs[1].Header.Get("Accept"); !strings.Contains(a, "api-version=5.1-preview.1") {
		t.Fatalf("Accept = %q, want the api-version in it", a)
	}
}

func TestServer2022ListsNoResourceAreas(t *testing.T) {
	srv := start(t, adosim.Options{Server2022: true})
	_, areas := witClient(t, srv)
	if len(areas) != 0 {
		t.Fatalf("areas = %v, want none (every area on the collection URL)", areas)
	}
}

func TestWorkItemsGetPatchWithRevTestAndWiql(t *testing.T) {
	srv := start(t, adosim.Options{})
	id := srv.Sim.AddWorkItem("Shop", map[string]any{"System.Title": "Checkout", "Custom.JiraKey": "SHOP-7"})
	other := srv.Sim.AddWorkItem("Shop", map[string]any{"System.Title": "Cart", "Custom.JiraKey": "SHOP-8"})
	wit, _ := witClient(t, srv)
	ctx := context.Background()
	project := "Shop"

	wi, err := wit.GetWorkItem(ctx, workitemtracking.GetWorkItemArgs{Id: &id, Project: &project, Fields: &[]string{"Custom.JiraKey"}})
	if err != nil {
		t.Fatal(err)
	}
	if *wi.Rev != 1 || (*wi.Fields)["Custom.JiraKey"] != "SHOP-7" || len(*wi.Fields) != 1 {
		t.Fatalf("work item = rev %d fields %v", *wi.Rev, *wi.Fields)
	}

	patch := func(rev int, v float64) error {
		_, err := wit.UpdateWorkItem(ctx, workitemtracking.UpdateWorkItemArgs{Id: &id, Project: &project, Document: &[]webapi.JsonPatchOperation{
			{Op: &webapi.OperationValues.Test, Path: ptr("/rev"), Value: rev},
			{Op: &webapi.OperationValues.Add, Path: ptr("/fields/Custom.TestCoverage"), Value: v},
		}})
		return err
	}
	if err := patch(1, 78.5); err != nil {
		t.Fatalf("patch at the current rev: %v", err)
	}
	err = patch(1, 80)
	var we azuredevops.WrappedError
	if !errors.As(err, &we) || *we.StatusCode != http.StatusPreconditionFailed {
		t.Fatalf("patch at a stale rev: err = %#v, want a 412 WrappedError", err)
	}
	rev, fields, _ := srv.Sim.WorkItem(id)
	if rev != 2 || fields["Custom.TestCoverage"] != 78.5 {
		t.Fatalf("stored rev %d coverage %v, want rev 2 and the first patch's 78.5", rev, fields["Custom.TestCoverage"])
	}

	res, err := wit.QueryByWiql(ctx, workitemtracking.QueryByWiqlArgs{Project: &project, Wiql: &workitemtracking.Wiql{
		Query: ptr("SELECT [System.Id] FROM WorkItems WHERE [System.TeamProject] = @project AND [Custom.JiraKey] IN ('shop-8', 'SHOP-99')"),
	}})
	if err != nil {
		t.Fatal(err)
	}
	if len(*res.WorkItems) != 1 || *(*res.WorkItems)[0].Id != other {
		t.Fatalf("WIQL found %v, want only %d", *res.WorkItems, other)
	}

	missing := 9999
	batch, err := wit.GetWorkItems(ctx, workitemtracking.GetWorkItemsArgs{Project: &project, Ids: &[]int{id, missing},
		ErrorPolicy: &workitemtracking.WorkItemErrorPolicyValues.Omit})
	if err != nil {
		t.Fatal(err)
	}
	if len(*batch) != 2 || (*batch)[0].Id == nil || (*batch)[1].Id != nil {
		t.Fatalf("batch with a missing id under errorPolicy=omit = %v, want the item then a null", *batch)
	}
	_, err = wit.GetWorkItem(ctx, workitemtracking.GetWorkItemArgs{Id: &missing, Project: &project})
	if !errors.As(err, &we) || *we.StatusCode != http.StatusNotFound {
		t.Fatalf("missing work item: err = %v, want a 404", err)
	}
}

func TestProjectReadThroughTheCoreClient(t *testing.T) {
	srv := start(t, adosim.Options{})
	conn := azuredevops.NewPatConnection(srv.OrgURL, pat)
	c := &core.ClientImpl{Client: *azuredevops.NewClientWithOptions(conn, conn.BaseUrl, azuredevops.WithHTTPClient(http.DefaultClient))}
	p, err := c.GetProject(context.Background(), core.GetProjectArgs{ProjectId: ptr("shop")})
	if err != nil || *p.Name != "Shop" {
		t.Fatalf("GetProject = %v, %v", p, err)
	}
	_, err = c.GetProject(context.Background(), core.GetProjectArgs{ProjectId: ptr("Nope")})
	if err == nil {
		t.Fatal("GetProject of a missing project succeeded")
	}
}

func TestWrongPATGets401WithSuppressAndASignInPageWithout(t *testing.T) {
	srv := start(t, adosim.Options{})
	conn := azuredevops.NewPatConnection(srv.OrgURL, "wrong")
	_, err := azuredevops.NewClientWithOptions(conn, conn.BaseUrl, azuredevops.WithHTTPClient(http.DefaultClient)).GetResourceAreas(context.Background())
	var pwe *azuredevops.WrappedError
	if !errors.As(err, &pwe) || *pwe.StatusCode != http.StatusUnauthorized {
		t.Fatalf("Go client with a wrong PAT: err = %#v, want *WrappedError 401 (empty body)", err)
	}
	last := srv.Sim.Requests()[len(srv.Sim.Requests())-1]
	if last.Status != http.StatusUnauthorized {
		t.Fatalf("recorded status %d", last.Status)
	}

	srv.Sim.ExpirePAT()
	req, _ := http.NewRequest(http.MethodGet, srv.OrgURL+"/_apis/projects/Shop?api-version=7.1", nil)
	req.SetBasicAuth("", pat)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusNonAuthoritativeInfo || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") || !bytes.Contains(b, []byte("Sign")) {
		t.Fatalf("expired PAT without X-TFS-FedAuthRedirect = %d %q, want a 203 HTML sign-in page", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
}

func docURL(srv *adosim.Servers, id string) string {
	u := srv.ExtMgmtURL + "/_apis/ExtensionManagement/InstalledExtensions/acme/story-coverage/Data/Scopes/Default/Current/Collections/coverage/Documents"
	if id != "" {
		u += "/" + id
	}
	return u
}

func call(t *testing.T, method, url string, body any) (int, map[string]any) {
	t.Helper()
	req := simkit.NewJSONRequest(t, method, url, body)
	req.SetBasicAuth("", pat)
	req.Header.Set("Accept", "application/json;api-version=7.0-preview.1") // what Services and every Server since 2022 serve
	req.Header.Set("X-TFS-FedAuthRedirect", "Suppress")
	resp, out := simkit.DoJSON(t, req)
	return resp.StatusCode, out
}

func TestDocumentsCarryAnEtagThatAWriteMustMatch(t *testing.T) {
	for _, tc := range []struct {
		name     string
		opts     adosim.Options
		conflict int
	}{
		{"hosted service answers a stale etag with 409", adosim.Options{}, http.StatusConflict},
		{"Server 2022 answers a stale etag with 400 InvalidDocumentVersionException", adosim.Options{Server2022: true}, http.StatusBadRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := start(t, tc.opts)
			if code, _ := call(t, http.MethodGet, docURL(srv, "101"), nil); code != http.StatusNotFound {
				t.Fatalf("GET before any write = %d, want 404", code)
			}
			code, d := call(t, http.MethodPost, docURL(srv, ""), map[string]any{"id": "101", "__etag": -1, "a": 1})
			if code != http.StatusCreated || d["__etag"] != 1.0 {
				t.Fatalf("create = %d %v", code, d)
			}
			if code, d = call(t, http.MethodPost, docURL(srv, ""), map[string]any{"id": "101", "a": 2}); code != http.StatusBadRequest || d["typeKey"] != "DocumentExistsException" {
				t.Fatalf("second create = %d %v, want 400 DocumentExistsException", code, d)
			}
			if code, d = call(t, http.MethodPatch, docURL(srv, ""), map[string]any{"id": "101", "__etag": 1, "a": 3}); code != http.StatusOK || d["__etag"] != 2.0 {
				t.Fatalf("update with the current etag = %d %v", code, d)
			}
			code, d = call(t, http.MethodPatch, docURL(srv, ""), map[string]any{"id": "101", "__etag": 1, "a": 4})
			if code != tc.conflict || d["typeKey"] != "InvalidDocumentVersionException" {
				t.Fatalf("update with a stale etag = %d %v, want %d InvalidDocumentVersionException", code, d, tc.conflict)
			}
			if code, d = call(t, http.MethodPut, docURL(srv, ""), map[string]any{"id": "101", "__etag": -1, "a": 5}); code != http.StatusOK || d["__etag"] != 3.0 {
				t.Fatalf("set with __etag -1 = %d %v, want an overwrite", code, d)
			}
			if code, d = call(t, http.MethodPatch, docURL(srv, ""), map[string]any{"id": "101", "__etag": 3, "big": strings.Repeat("x", 2<<20)}); code != http.StatusBadRequest {
				t.Fatalf("oversized document = %d %v, want 400", code, d)
			}
			got, _ := srv.Sim.Document("acme", "story-coverage", "coverage", "101")
			if got["a"] != 5.0 || got["__etag"] != 3.0 {
				t.Fatalf("stored %v", got)
			}
		})
	}
}

func TestConcurrentWriterChangesADocumentBetweenReadAndWrite(t *testing.T) {
	srv := start(t, adosim.Options{})
	srv.Sim.PutDocument("acme", "story-coverage", "coverage", map[string]any{"id": "7", "mine": 1})
	srv.Sim.WriteAfterNextRead("acme", "story-coverage", "coverage", "7", map[string]any{"theirs": "x"})
	_, d := call(t, http.MethodGet, docURL(srv, "7"), nil)
	code, _ := call(t, http.MethodPatch, docURL(srv, ""), map[string]any{"id": "7", "__etag": d["__etag"], "mine": 2})
	if code != http.StatusConflict {
		t.Fatalf("write after a concurrent change = %d, want 409", code)
	}
	got, _ := srv.Sim.Document("acme", "story-coverage", "coverage", "7")
	if got["theirs"] != "x" || got["mine"] != 1.0 || got["__etag"] != 2.0 {
		t.Fatalf("stored %v, want the other writer's change only", got)
	}
}

func TestTokenBucketAnswers429WithRetryAfterAndRateLimitHeaders(t *testing.T) {
	// One token per 100 s after a burst of 2: the third request meets an empty bucket however slowly the
	// machine runs.
	srv := start(t, adosim.Options{RatePerSecond: 0.01, RateBurst: 2})
	var codes []int
	var last http.Header
	for i := 0; i < 3; i++ {
		code, h := getProject(t, srv)
		codes = append(codes, code)
		last = h
	}
	if codes[0] != 200 || codes[1] != 200 || codes[2] != http.StatusTooManyRequests {
		t.Fatalf("statuses %v, want 200 200 429", codes)
	}
	if last.Get("Retry-After") == "" || last.Get("X-RateLimit-Remaining") != "0" || last.Get("X-RateLimit-Limit") != "2" || last.Get("X-RateLimit-Reset") == "" {
		t.Fatalf("429 headers %v", last)
	}
}

// getProject reads the Shop project with the PAT and returns the status and headers of the answer.
func getProject(t *testing.T, srv *adosim.Servers) (int, http.Header) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, srv.OrgURL+"/_apis/projects/Shop?api-version=7.1", nil)
	req.SetBasicAuth("", pat)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode, resp.Header
}

// TestADelayedRequestCarriesRetryAfterOnIts200: with DelayRetryAfter, the 200s the service delays (the
// bucket below a fifth) say how long to wait, and an httpx client pauses for it.
func TestADelayedRequestCarriesRetryAfterOnIts200(t *testing.T) {
	srv := start(t, adosim.Options{RatePerSecond: 0.01, RateBurst: 5, DelayRetryAfter: 3})
	var heads []http.Header
	for i := 0; i < 5; i++ {
		code, h := getProject(t, srv)
		if code != 200 {
			t.Fatalf("request %d: %d, want 200", i+1, code)
		}
		heads = append(heads, h)
	}
	if heads[0].Get("Retry-After") != "" {
		t.Errorf("an undelayed request carries Retry-After %q", heads[0].Get("Retry-After"))
	}
	if last := heads[4]; last.Get("Retry-After") != "3" || last.Get("X-RateLimit-Delay") == "" {
		t.Errorf("the delayed 200 carries Retry-After %q, X-RateLimit-Delay %q; want 3 and a delay", last.Get("Retry-After"), last.Get("X-RateLimit-Delay"))
	}
}

func TestInjectedFailuresAnswerInOrder(t *testing.T) {
	srv := start(t, adosim.Options{})
	srv.Sim.FailNext(503, 500)
	var codes []int
	for i := 0; i < 3; i++ {
		code, _ := call(t, http.MethodGet, srv.OrgURL+"/_apis/projects/Shop", nil)
		codes = append(codes, code)
	}
	if codes[0] != 503 || codes[1] != 500 || codes[2] != 200 {
		t.Fatalf("statuses %v, want 503 500 200", codes)
	}
}

func ptr[T any](v T) *T { return &v }

func TestWiqlKeepsAndInsideAStringLiteral(t *testing.T) {
	srv := start(t, adosim.Options{})
	id := srv.Sim.AddWorkItem("Shop", map[string]any{"Custom.JiraKey": "Rock AND Roll's"})
	srv.Sim.AddWorkItem("Shop", map[string]any{"Custom.JiraKey": "Rock"})
	wit, _ := witClient(t, srv)
	res, err := wit.QueryByWiql(context.Background(), workitemtracking.QueryByWiqlArgs{Project: ptr("Shop"), Wiql: &workitemtracking.Wiql{
		Query: ptr("SELECT [System.Id] FROM WorkItems WHERE [System.TeamProject] = @project AND [Custom.JiraKey] = 'Rock AND Roll''s'"),
	}})
	if err != nil {
		t.Fatal(err)
	}
	if len(*res.WorkItems) != 1 || *(*res.WorkItems)[0].Id != id {
		t.Fatalf("found %v, want only %d", *res.WorkItems, id)
	}
}
