package jira

import (
	"context"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/covsync/covsync/config"
	"github.com/covsync/covsync/connectors/httpx"
	"github.com/covsync/covsync/connectors/jira/jirasim"
	"github.com/covsync/covsync/sync/push"
	"github.com/covsync/covsync/sync/report"
)

// BenchmarkResync500StoriesAt10PerSecond is a full resync of 500 stories plus the property against a site
// that allows 10 requests/s (burst 10), with covsync configured at 10/s and 4 workers, as the engine runs it.
// It reports requests per item, 429s seen, and the writes of a second, unchanged cycle (hash diff, as the
// ledger does). Run: go test -run XXX -bench Resync500 -benchtime 1x ./connectors/jira/
func BenchmarkResync500StoriesAt10PerSecond(b *testing.B) {
	// covsync configured at the site's rate, and configured 2.5× too fast (the limiter must find the rate).
	for _, clientRPS := range []float64{10, 25} {
		b.Run(fmt.Sprintf("covsync=%grps", clientRPS), func(b *testing.B) { benchResync(b, clientRPS) })
	}
}

func benchResync(b *testing.B, clientRPS float64) {
	const stories = 500
	for range b.N {
		b.StopTimer()
		sim := jirasim.New(jirasim.Options{Email: testEmail, Token: testToken, RequestsPerSecond: 10})
		srv := sim.Start()
		sim.AddCovsyncFields()
		sim.AddProject("SHOP", "Shop")
		sim.AddVersion("SHOP", "2.4.0")
		sim.AddIssues("SHOP", stories)
		cfg := config.Jira{Conn: config.Conn{Name: "acme", RequestsPerSecond: clientRPS,
			Auth: config.Auth{Type: "basic", Email: testEmail, Token: config.NewSecret(testToken)}},
			URL: srv.URL, Fields: config.JiraFields{CoveragePercent: "Test Coverage", CoverageSummary: "Test Coverage Summary",
				TestStatus: "Test Status", LastRunURL: "Last Test Run"}}
		log := logrus.New()
		log.SetOutput(io.Discard)
		counters := &httpx.Counters{}
		ho := httpx.ForConn("jira", cfg.Conn)
		ho.Logger, ho.Counters = log, counters
		hc, err := httpx.New(ho)
		if err != nil {
			b.Fatal(err)
		}
		site, err := NewSite(cfg, Options{HTTP: hc, Log: log})
		if err != nil {
			b.Fatal(err)
		}
		p := releaseProject(40)
		p.Stories = storiesN(stories)
		b.StartTimer()

		start := time.Now()
		ledger := map[string][32]byte{}
		cycle := func() (planned, pushed int) {
			for _, t := range []interface {
				Plan(context.Context, *report.Project) ([]push.Item, error)
				Push(context.Context, push.Item) (push.Result, error)
			}{site.IssueTarget("SHOP"), site.PropertyTarget("SHOP")} {
				items, err := t.Plan(context.Background(), p)
				if err != nil {
					b.Fatal(err)
				}
				var changed []push.Item
				for _, it := range items {
					if ledger[it.Key] != it.Hash {
						changed = append(changed, it)
					}
				}
				planned += len(items)
				for k, o := range pushAll(b, t.Push, changed, 4) {
					if o.err != nil {
						b.Fatalf("%s: %v", k, o.err)
					}
				}
				for _, it := range changed {
					ledger[it.Key] = it.Hash
				}
				pushed += len(changed)
			}
			return planned, pushed
		}
		planned, _ := cycle()
		took := time.Since(start)
		requests := len(sim.Requests())
		sim.ResetRequests()
		_, again := cycle()
		writes := 0
		for _, r := range sim.Requests() {
			if r.Method != "GET" {
				writes++
			}
		}
		b.StopTimer()
		srv.Close()
		b.ReportMetric(float64(requests)/float64(planned), "requests/item")
		b.ReportMetric(float64(counters.TooManyRequests.Load()), "429s")
		b.ReportMetric(took.Seconds(), "s/resync")
		b.ReportMetric(float64(writes+again), "writes-unchanged-cycle")
	}
}
