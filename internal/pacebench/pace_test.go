package pacebench

import (
	"cmp"
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/covsync/covsync/config"
	"github.com/covsync/covsync/connectors/httpx"
	"github.com/covsync/covsync/connectors/jira"
	"github.com/covsync/covsync/connectors/jira/jirasim"
	"github.com/covsync/covsync/internal/budget"
	"github.com/covsync/covsync/internal/pgtest"
	"github.com/covsync/covsync/sync/engine"
	"github.com/covsync/covsync/sync/engine/enginetest"
	"github.com/covsync/covsync/sync/ledger"
	"github.com/covsync/covsync/sync/ledger/ledgertest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

var (
	stories        = flag.Int("pace.stories", 5000, "stories of the full-resync benchmark")
	replicaStories = flag.Int("pace.replica-stories", 2000, "stories per project of the replicas benchmark")
)

const (
	email, token = "bench@example.com", "bench-token"
	siteName     = "acme"
)

// scenario is one measured run: replicas (each its own HTTP client, budget object and engine, as separate
// processes would have, on one database) writing projects of n stories each to one simulated site.
type scenario struct {
	rate     float64       // the site's limit and covsync's requests_per_second
	latency  time.Duration // the simulator's answer time
	replicas int           // one project per replica
	n        int           // stories per project
	mode     string        // after (default), before (4 workers, per-process rate), nobudget (default workers, per-process rate)
}

const (
	modeAfter    = ""
	modeBefore   = "before"
	modeNoBudget = "nobudget"
)

var modeText = map[string]string{
	modeAfter:    "after (default config, shared budget)",
	modeBefore:   "before (4 workers, per-process rate)",
	modeNoBudget: "adaptive in-flight limit, per-process rate (no shared budget)",
}

type result struct {
	took                time.Duration
	writes, requests    int // acknowledged writes; every request the site answered
	tooMany             int // 429s the site answered
	pushed              int
	maxLimit, lastLimit int // adaptive in-flight limit, highest seen and last (replica 0)
	holders             int // replicas that leased from the shared budget
}

// floor is the time the site's limit alone imposes: every request it answered without a 429, at its rate.
func (r result) floor(rate float64) time.Duration {
	return time.Duration(float64(r.requests-r.tooMany) / rate * float64(time.Second))
}

func (r result) tooManyPercent() float64 {
	return 100 * float64(r.tooMany) / float64(max(r.requests, 1))
}

func quiet() *logrus.Logger {
	l := logrus.New()
	l.SetOutput(io.Discard)
	return l
}

// run runs one scenario on a fresh database and simulator.
func run(tb testing.TB, sc scenario) result {
	tb.Helper()
	pool := ledgertest.Pool(tb)
	sim := jirasim.New(jirasim.Options{Email: email, Token: token, RequestsPerSecond: sc.rate})
	srv := sim.Start()
	defer srv.Close()
	sim.SetLatency(sc.latency)
	sim.AddCovsyncFields()
	keys := make([]string, sc.replicas)
	for i := range keys {
		keys[i] = fmt.Sprintf("P%c", 'A'+i)
		sim.AddProject(keys[i], "Project "+keys[i])
		sim.AddIssues(keys[i], sc.n)
	}
	workers := config.DefaultWorkersPerTarget
	if sc.mode == modeBefore {
		workers = 4
	}
	cfg := config.Jira{Conn: config.Conn{Name: siteName, RequestsPerSecond: sc.rate,
		Auth: config.Auth{Type: "basic", Email: email, Token: config.NewSecret(token)}},
		URL: srv.URL, Fields: config.JiraFields{CoveragePercent: "Test Coverage", CoverageSummary: "Test Coverage Summary",
			TestStatus: "Test Status", LastRunURL: "Last Test Run"}}

	type replica struct {
		site    *jira.Site
		target  engine.Target
		eng     *engine.Engine
		project string
	}
	reps := make([]replica, sc.replicas)
	clients := make([]*httpx.Counters, sc.replicas)
	for i := range reps {
		ho := httpx.ForConn("jira", cfg.Conn)
		ho.MaxInFlight = workers
		if sc.mode == modeAfter {
			b, err := budget.New(pool, budget.Options{Site: "jira:" + siteName, RequestsPerSecond: sc.rate, Holder: fmt.Sprint("replica-", i),
				OnError: func(err error) { tb.Error(err) }})
			if err != nil {
				tb.Fatal(err)
			}
			ho.Budget = b
		}
		clients[i] = &httpx.Counters{}
		ho.Counters = clients[i]
		hc, err := httpx.New(ho)
		if err != nil {
			tb.Fatal(err)
		}
		site, err := jira.NewSite(cfg, jira.Options{Log: quiet(), HTTP: hc})
		if err != nil {
			tb.Fatal(err)
		}
		reps[i] = replica{site: site, target: site.IssueTarget(keys[i]), eng: engine.New(ledger.New(pool, config.OwnSchema), quiet(), nil), project: keys[i]}
	}
	// The limit as the first replica's client sees it, sampled while it runs.
	done := make(chan struct{})
	var res result
	var sampler sync.WaitGroup
	sampler.Add(1)
	go func() {
		defer sampler.Done()
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				if l := int(clients[0].InFlightLimit.Load()); l > res.maxLimit {
					res.maxLimit = l
				}
			}
		}
	}()

	start := time.Now()
	var wg sync.WaitGroup
	sums := make([]engine.Summary, sc.replicas)
	for i, r := range reps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := enginetest.Project(sc.n)
			for j := range p.Stories {
				p.Stories[j].Key = strings.Replace(p.Stories[j].Key, "SHOP-", r.project+"-", 1)
			}
			opts := engine.Options{Trigger: ledger.TriggerResync, Force: true, Workers: workers}
			s, err := r.eng.Run(context.Background(), r.target, p, opts)
			if err != nil {
				tb.Errorf("replica %d: %v", i, err)
			}
			sums[i] = s
		}()
	}
	wg.Wait()
	res.took = time.Since(start)
	close(done)
	sampler.Wait()
	res.lastLimit = int(clients[0].InFlightLimit.Load())
	for _, s := range sums {
		res.pushed += s.Pushed
		if s.Failed > 0 {
			tb.Errorf("%s: %d items failed: %v", s.Target, s.Failed, s.Errors[:min(3, len(s.Errors))])
		}
	}
	if err := pool.QueryRow(context.Background(), `SELECT count(*) FROM covsync.rate_leases WHERE site = $1`, "jira:"+siteName).Scan(&res.holders); err != nil {
		tb.Fatal(err)
	}
	for _, rq := range sim.Requests() {
		res.requests++
		switch {
		case rq.Status == 429:
			res.tooMany++
		case rq.Method == "PUT" && rq.Status < 300:
			res.writes++
		}
	}
	return res
}

func report(b *testing.B, sc scenario, r result) {
	floor := r.floor(sc.rate)
	b.ReportMetric(r.took.Seconds(), "s/resync")
	b.ReportMetric(floor.Seconds(), "s-floor")
	b.ReportMetric(r.took.Seconds()/floor.Seconds(), "x-floor")
	b.ReportMetric(float64(r.writes), "writes")
	b.ReportMetric(r.tooManyPercent(), "%429")
	b.ReportMetric(float64(r.maxLimit), "max-inflight-limit")
	b.Logf("%d replica(s) × %d stories, latency %v, %g req/s, %s: %d writes, %d requests, %d 429s (%.2f %%), %.2f s vs floor %.2f s = %.3f ×; in-flight limit max %d, last %d",
		sc.replicas, sc.n, sc.latency, sc.rate, modeText[sc.mode],
		r.writes, r.requests, r.tooMany, r.tooManyPercent(), r.took.Seconds(), floor.Seconds(), r.took.Seconds()/floor.Seconds(), r.maxLimit, r.lastLimit)
}

// BenchmarkFullResync is a full resync of -pace.stories stories (5,000) at 100 requests/s with the
// simulator answering in 25, 100 and 300 ms, with the default configuration.
//
//	go test -run '^$' -bench FullResync -benchtime 1x -timeout 30m ./internal/pacebench/
func BenchmarkFullResync(b *testing.B) {
	for _, lat := range []time.Duration{25 * time.Millisecond, 100 * time.Millisecond, 300 * time.Millisecond} {
		b.Run(fmt.Sprintf("latency=%v", lat), func(b *testing.B) {
			sc := scenario{rate: 100, latency: lat, replicas: 1, n: *stories}
			for range b.N {
				report(b, sc, run(b, sc))
			}
		})
	}
}

// BenchmarkReplicas is three replicas, each running a full resync of its own project
// (-pace.replica-stories stories each, 2,000) on one site at 100 requests/s answering in 100 ms: before
// (4 workers, requests_per_second per process), with the adaptive in-flight limit but no shared budget, and
// after (default configuration, the shared budget).
//
//	go test -run '^$' -bench Replicas -benchtime 1x -timeout 30m ./internal/pacebench/
func BenchmarkReplicas(b *testing.B) {
	for _, mode := range []string{modeBefore, modeNoBudget, modeAfter} {
		b.Run(cmp.Or(mode, "after"), func(b *testing.B) {
			sc := scenario{rate: 100, latency: 100 * time.Millisecond, replicas: 3, n: *replicaStories, mode: mode}
			for range b.N {
				report(b, sc, run(b, sc))
			}
		})
	}
}

// TestThreeReplicasShareTheSite runs the replicas scenario small: every item is written once, every
// replica leased from the one budget, and the in-flight limit stayed within workers.per_target.
func TestThreeReplicasShareTheSite(t *testing.T) {
	r := run(t, scenario{rate: 200, latency: 5 * time.Millisecond, replicas: 3, n: 40})
	if r.pushed != 120 || r.writes != 120 {
		t.Fatalf("pushed %d, site acknowledged %d writes; want 120 and 120", r.pushed, r.writes)
	}
	if r.holders != 3 {
		t.Fatalf("%d replicas leased from the shared budget, want 3", r.holders)
	}
	if r.maxLimit > config.DefaultWorkersPerTarget || r.lastLimit < 1 {
		t.Fatalf("in-flight limit max %d last %d, want within 1..%d", r.maxLimit, r.lastLimit, config.DefaultWorkersPerTarget)
	}
}
