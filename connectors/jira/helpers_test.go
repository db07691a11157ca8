package jira

import (
	"context"
	"fmt"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/covsync/covsync/config"
	"github.com/covsync/covsync/connectors/httpx"
	"github.com/covsync/covsync/connectors/jira/jirasim"
	"github.com/covsync/covsync/internal/syncbuf"
	"github.com/covsync/covsync/sync/push"
	"github.com/covsync/covsync/sync/report"
)

const (
	testEmail = "qa-bot@acme.example"
	testToken = "tok-Zq9-secret-value"
)

// env is a simulator with covsync's four fields, project SHOP (versions 2.4.0 and 2.5.0) and issues
// SHOP-1 … SHOP-n, plus a site configured against it.
type env struct {
	sim                            *jirasim.Sim
	srv                            *httptest.Server
	cfg                            config.Jira
	percent, summary, status, link string
	v240, v250                     string
	logs                           *syncbuf.Buffer
}

func newEnv(t *testing.T, issues int) *env {
	t.Helper()
	s := jirasim.New(jirasim.Options{Email: testEmail, Token: testToken})
	srv := s.Start()
	t.Cleanup(srv.Close)
	e := &env{sim: s, srv: srv, logs: &syncbuf.Buffer{}}
	f := s.AddCovsyncFields()
	e.percent, e.summary, e.status, e.link = f.Percent, f.Summary, f.Status, f.LastRun
	s.AddProject("SHOP", "Shop")
	e.v240 = s.AddVersion("SHOP", "2.4.0")
	e.v250 = s.AddVersion("SHOP", "2.5.0")
	s.AddIssues("SHOP", issues)
	e.cfg = config.Jira{
		Conn: config.Conn{Name: "acme", RequestsPerSecond: 1000,
			Auth: config.Auth{Type: "basic", Email: testEmail, TokenEnv: "JIRA_TOKEN", Token: config.NewSecret(testToken)}},
		URL: srv.URL,
		Fields: config.JiraFields{CoveragePercent: "Test Coverage", CoverageSummary: "Test Coverage Summary",
			TestStatus: "Test Status", LastRunURL: "Last Test Run"},
	}
	return e
}

// site builds the site with fast backoffs and a debug logger writing into e.logs.
func (e *env) site(t *testing.T) *Site {
	t.Helper()
	log := logrus.New()
	log.SetLevel(logrus.DebugLevel)
	log.SetOutput(e.logs)
	ho := httpx.ForConn("jira", e.cfg.Conn)
	ho.UserAgent, ho.Logger = "covsync/test", log
	ho.BackoffBase, ho.BackoffMax, ho.RetryAfterCap = time.Millisecond, 10*time.Millisecond, 2*time.Second
	hc, err := httpx.New(ho)
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewSite(e.cfg, Options{HTTP: hc, Log: log, UserAgent: "covsync/test"})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func (e *env) logText() string {
	return e.logs.String()
}

var dataTime = time.Date(2026, 11, 20, 9, 30, 0, 0, time.UTC)

func ptr[T any](v T) *T { return &v }

// story is a covered story with a failed linked test in build 482.
func story(key string) report.Story {
	return report.Story{Key: key, CoveragePercent: report.CoveragePercent(157, 200), CoveredMethods: ptr(157), TotalMethods: ptr(200),
		Tests: report.TestCounts{Passed: 11, Failed: 1}, Status: report.StatusFailed,
		LastRun: &report.RunRef{ID: "run-482", Name: "build 482", URL: "https://ci.example/builds/482", StartedAt: dataTime}}
}

func project(stories ...report.Story) *report.Project {
	return &report.Project{ID: "shop", Name: "Shop", Stories: stories, DataAsOf: dataTime}
}

func storiesN(n int) []report.Story {
	out := make([]report.Story, n)
	for i := range out {
		out[i] = story(fmt.Sprintf("SHOP-%d", i+1))
	}
	return out
}

// outcome is what pushing one item gave.
type outcome struct {
	res push.Result
	err error
}

// pushAll pushes items with n workers, as the engine does, and returns the outcome per item key.
func pushAll(t testing.TB, pushFn func(context.Context, push.Item) (push.Result, error), items []push.Item, n int) map[string]outcome {
	t.Helper()
	var mu sync.Mutex
	out := map[string]outcome{}
	ch := make(chan push.Item)
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for it := range ch {
				r, err := pushFn(context.Background(), it)
				mu.Lock()
				out[it.Key] = outcome{r, err}
				mu.Unlock()
			}
		}()
	}
	for _, it := range items {
		ch <- it
	}
	close(ch)
	wg.Wait()
	return out
}

func plan(t *testing.T, target interface {
	Plan(context.Context, *report.Project) ([]push.Item, error)
}, p *report.Project) []push.Item {
	t.Helper()
	items, err := target.Plan(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	return items
}
