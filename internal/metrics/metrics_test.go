package metrics

import (
	"errors"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/covsync/covsync/sync/engine"
)

func TestMetricsAreExposedPerTarget(t *testing.T) {
	m := New()
	m.ItemDone("jira:acme/SHOP", OutcomePushed, 120*time.Millisecond)
	m.ItemDone("jira:acme/SHOP", OutcomePushed, 80*time.Millisecond)
	m.ItemDone("jira:acme/SHOP", OutcomeUnchanged, 0)
	m.ItemDone("jira:acme/SHOP", OutcomeFailed, time.Second)
	m.RateLimited("jira:acme/SHOP")
	m.CycleDone("jira:acme/SHOP", "jira", 3*time.Second, 1, nil)
	m.CycleDone("ado:acme/Shop", "ado", time.Second, 0, errors.New("database down"))

	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	for _, want := range []string{
		`covsync_items_total{outcome="pushed",target="jira:acme/SHOP"} 2`,
		`covsync_items_total{outcome="unchanged",target="jira:acme/SHOP"} 1`,
		`covsync_items_total{outcome="failed",target="jira:acme/SHOP"} 1`,
		`covsync_push_duration_seconds_count{target="jira:acme/SHOP"} 3`,
		`covsync_rate_limited_total{target="jira:acme/SHOP"} 1`,
		`covsync_cycle_duration_seconds_count{kind="jira",target="jira:acme/SHOP"} 1`,
		`covsync_cycles_total{kind="ado",result="error",target="ado:acme/Shop"} 1`,
		`covsync_items_failing{target="jira:acme/SHOP"} 1`,
		`covsync_last_successful_cycle_timestamp_seconds{target="jira:acme/SHOP"}`,
		`go_goroutines`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	// A cycle that could not run is no success.
	if strings.Contains(string(body), `covsync_last_successful_cycle_timestamp_seconds{target="ado:acme/Shop"}`) {
		t.Error("a failed cycle set the last success time")
	}
}

func TestHTTPCountersSurviveAReloadWithoutLosingInFlight429s(t *testing.T) {
	m := New()
	old := m.HTTPCounters("ado:acme")
	old.TooManyRequests.Add(3)
	m.RateLimited("ado:acme")
	// SIGHUP: new clients ask for their counters; a cycle started before still runs on the old client.
	cur := m.HTTPCounters("ado:acme")
	old.TooManyRequests.Add(1)
	cur.TooManyRequests.Add(2)
	m.HTTPCounters("jira:beta").TooManyRequests.Add(5)

	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	for _, want := range []string{
		`covsync_rate_limited_total{target="ado:acme"} 7`,
		`covsync_rate_limited_total{target="jira:beta"} 5`,
	} {
		if !strings.Contains(rec.Body.String(), want) {
			t.Errorf("/metrics lacks %s:\n%s", want, rec.Body.String())
		}
	}
}

func TestTheEngineObserverFeedsTheMetrics(t *testing.T) {
	m := New()
	o := m.Observer()
	o.ItemDone(engine.ItemEvent{Target: "confluence:wiki/QA/shop", Outcome: engine.OutcomePushed, Duration: time.Second})
	o.ItemDone(engine.ItemEvent{Target: "confluence:wiki/QA/shop", Outcome: engine.OutcomeFailed, ErrorKind: "permanent"})
	o.CycleDone(engine.Summary{Target: "confluence:wiki/QA/shop", Kind: "confluence", Planned: 5, Pushed: 1, Unchanged: 3, Failed: 1, Duration: 2 * time.Second})
	o.CycleDone(engine.Summary{Target: "ado:acme/Shop", Kind: "ado", CycleError: "ledger unreachable"})
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body := rec.Body.String()
	for _, want := range []string{
		`covsync_items_total{outcome="pushed",target="confluence:wiki/QA/shop"} 1`,
		`covsync_items_total{outcome="failed",target="confluence:wiki/QA/shop"} 1`,
		`covsync_items_total{outcome="unchanged",target="confluence:wiki/QA/shop"} 3`,
		`covsync_items_failing{target="confluence:wiki/QA/shop"} 1`,
		`covsync_cycles_total{kind="ado",result="error",target="ado:acme/Shop"} 1`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

func TestReconcileCyclesExposeTheirDrift(t *testing.T) {
	m := New()
	o := m.Observer()
	o.CycleDone(engine.Summary{Target: "jira:acme/SHOP", Kind: "jira", Reconcile: true, Drifted: 3, Pushed: 3})
	o.CycleDone(engine.Summary{Target: "jira:acme/SHOP", Kind: "jira", Reconcile: true, Drifted: 2, Pushed: 2})
	o.CycleDone(engine.Summary{Target: "jira:acme/SHOP", Kind: "jira", Pushed: 9}) // not a reconcile
	o.CycleDone(engine.Summary{Target: "ado:acme/Shop", Kind: "ado", Reconcile: true})
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	for _, want := range []string{
		`covsync_drift_items_total{target="jira:acme/SHOP"} 5`,
		`covsync_drift_items_total{target="ado:acme/Shop"} 0`,
		`covsync_last_reconcile_timestamp_seconds{target="ado:acme/Shop"}`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}
