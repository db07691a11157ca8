package metrics

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/covsync/covsync/connectors/httpx"
)

type slowBudget struct{ n atomic.Int32 }

func (b *slowBudget) Wait(ctx context.Context) error {
	b.n.Add(1)
	select {
	case <-time.After(5 * time.Millisecond):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// TestPacingIsExposed: a site client's 429s by reason, near-limit warnings, in-flight gauge and limit, and
// budget waits reach /metrics.
func TestPacingIsExposed(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch hits.Add(1) {
		case 1:
			w.Header().Set("RateLimit-Reason", "jira-per-issue-on-write")
			w.WriteHeader(429)
		case 2:
			w.Header().Set("X-RateLimit-NearLimit", "true")
		}
	}))
	defer srv.Close()
	m := New()
	c, err := httpx.New(httpx.Options{Name: "jira:acme", RequestsPerSecond: 1000, MaxRetries: -1, MaxInFlight: 16,
		Counters: m.HTTPCounters("jira:acme"), Budget: &slowBudget{}})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/rest/api/2/issue/A-1", "/rest/api/2/issue/A-2"} {
		resp, err := c.Get(srv.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body := rec.Body.String()
	for _, want := range []string{
		`covsync_rate_limited_by_reason_total{reason="jira-per-issue-on-write",target="jira:acme"} 1`,
		`covsync_rate_limited_total{target="jira:acme"} 1`,
		`covsync_rate_limit_near_total{target="jira:acme"} 1`,
		`covsync_http_in_flight{target="jira:acme"} 0`,
		`covsync_budget_waits_total{target="jira:acme"} 2`,
		`covsync_budget_wait_seconds_total{target="jira:acme"}`,
		`covsync_http_in_flight_limit{target="jira:acme"}`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if _, limit, _ := httpx.InFlight(c); limit < 1 || limit > 16 || !strings.Contains(body, `covsync_http_in_flight_limit{target="jira:acme"} `+strconv.Itoa(limit)) {
		t.Errorf("in-flight limit %d not exposed as such", limit)
	}
}
