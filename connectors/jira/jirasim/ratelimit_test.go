package jirasim

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func put(t *testing.T, url, path string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest("PUT", url+path, strings.NewReader(`{"fields":{}}`))
	req.SetBasicAuth("bot@example.com", "tok")
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

// TestRateLimitAnswersAsAtlassianDocumentsThem: RateLimit-Reason names the limit, Retry-After may be
// missing, X-RateLimit-NearLimit warns below 20 % of the budget, and one issue written too often is refused
// with jira-per-issue-on-write while other issues go on.
func TestRateLimitAnswersAsAtlassianDocumentsThem(t *testing.T) {
	s := New(Options{Email: "bot@example.com", Token: "tok", RequestsPerSecond: 0.001, Burst: 4, OmitRetryAfter: true, IssueWritesPerSecond: 0.001})
	s.AddProject("SHOP", "Shop")
	s.AddIssues("SHOP", 3)
	srv := httptest.NewServer(s)
	defer srv.Close()

	if r := put(t, srv.URL, "/rest/api/2/issue/SHOP-1"); r.StatusCode != 204 || r.Header.Get("X-RateLimit-NearLimit") != "" {
		t.Fatalf("first write: %d, near-limit %q", r.StatusCode, r.Header.Get("X-RateLimit-NearLimit"))
	}
	r := put(t, srv.URL, "/rest/api/2/issue/SHOP-1")
	if r.StatusCode != 429 || r.Header.Get("RateLimit-Reason") != "jira-per-issue-on-write" || r.Header.Get("Retry-After") != "" {
		t.Fatalf("second write of SHOP-1: %d, reason %q, Retry-After %q; want 429 jira-per-issue-on-write without Retry-After",
			r.StatusCode, r.Header.Get("RateLimit-Reason"), r.Header.Get("Retry-After"))
	}
	if r.Header.Get("X-RateLimit-Reason") != "" {
		t.Errorf("X-RateLimit-Reason is not Atlassian's header name")
	}
	var near bool
	for _, k := range []string{"SHOP-2", "SHOP-3"} {
		r := put(t, srv.URL, "/rest/api/2/issue/"+k)
		if r.StatusCode != 204 {
			t.Fatalf("write of %s: %d, want 204 (the per-issue limit holds one issue only)", k, r.StatusCode)
		}
		near = near || r.Header.Get("X-RateLimit-NearLimit") == "true"
	}
	if !near {
		t.Errorf("no X-RateLimit-NearLimit with less than 20 %% of the budget left")
	}
	for range 3 {
		r = put(t, srv.URL, "/rest/api/2/issue/SHOP-3")
	}
	if r.StatusCode != 429 || r.Header.Get("RateLimit-Reason") != "jira-burst-based" || r.Header.Get("Retry-After") != "" {
		t.Fatalf("past the budget: %d, reason %q, Retry-After %q; want 429 jira-burst-based", r.StatusCode, r.Header.Get("RateLimit-Reason"), r.Header.Get("Retry-After"))
	}
	s2 := New(Options{Email: "bot@example.com", Token: "tok", RequestsPerSecond: 0.001, Burst: 1})
	s2.AddProject("SHOP", "Shop")
	s2.AddIssues("SHOP", 1)
	srv2 := httptest.NewServer(s2)
	defer srv2.Close()
	put(t, srv2.URL, "/rest/api/2/issue/SHOP-1")
	if r := put(t, srv2.URL, "/rest/api/2/issue/SHOP-1"); r.StatusCode != 429 || r.Header.Get("Retry-After") == "" {
		t.Fatalf("without OmitRetryAfter: %d, Retry-After %q", r.StatusCode, r.Header.Get("Retry-After"))
	}
}
