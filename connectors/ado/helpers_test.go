package ado_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/covsync/covsync/config"
	"github.com/covsync/covsync/connectors/ado"
	"github.com/covsync/covsync/connectors/ado/adosim"
	"github.com/covsync/covsync/internal/syncbuf"
	"github.com/covsync/covsync/sync/push"
	"github.com/covsync/covsync/sync/report"
)

const testPAT = "ado-test-pat-5f2b9c0e7d1a"

var ext = config.ADOExtension{Publisher: "acme", ID: "story-coverage", Collection: "coverage"}

// fixture is a running simulator with a project "Shop", the extension installed, and a target on it.
type fixture struct {
	srv *adosim.Servers
	sim *adosim.Sim
	log *syncbuf.Buffer
}

func newFixture(t testing.TB, o adosim.Options) *fixture {
	t.Helper()
	o.PAT = testPAT
	sim := adosim.New(o)
	sim.AddProject("Shop")
	sim.AddCovsyncFields()
	sim.AddProject("Other")
	sim.InstallExtension(ext.Publisher, ext.ID)
	return &fixture{srv: adosim.Start(t, sim), sim: sim, log: &syncbuf.Buffer{}}
}

// target builds a target on the fixture; edit adjusts the options first.
func (f *fixture) target(t testing.TB, edit func(*ado.Options)) *ado.Target {
	t.Helper()
	l := logrus.New()
	l.SetOutput(f.log)
	l.SetLevel(logrus.DebugLevel)
	o := ado.Options{
		Name: "acme-ado", OrganizationURL: f.srv.OrgURL, PAT: config.NewSecret(testPAT), Project: "Shop",
		Extension: ext, HTTP: &http.Client{Timeout: 10 * time.Second}, Log: l, UserAgent: "covsync/test",
	}
	if edit != nil {
		edit(&o)
	}
	tg, err := ado.New(o)
	if err != nil {
		t.Fatalf("ado.New: %v", err)
	}
	return tg
}

func (f *fixture) doc(t *testing.T, id int) map[string]any {
	t.Helper()
	d, ok := f.sim.Document(ext.Publisher, ext.ID, ext.Collection, fmt.Sprint(id))
	if !ok {
		t.Fatalf("no document %d", id)
	}
	return d
}

func (f *fixture) writes() (docs, workItems int) {
	for _, r := range f.sim.Requests() {
		if r.Status >= 200 && r.Status < 300 {
			if r.IsDocumentWrite() {
				docs++
			}
			if r.IsWorkItemWrite() {
				workItems++
			}
		}
	}
	return docs, workItems
}

func (f *fixture) statuses(method, pathPart string) []int {
	var out []int
	for _, r := range f.sim.Requests() {
		if r.Method == method && strings.Contains(strings.ToLower(r.Path), strings.ToLower(pathPart)) {
			out = append(out, r.Status)
		}
	}
	return out
}

var (
	t0  = time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	t1  = time.Date(2026, 11, 22, 18, 0, 0, 0, time.UTC)
	run = report.RunRef{ID: "run-482", Name: "build 482", URL: "https://ci.example/482", StartedAt: t1, Release: "2.4.0"}
)

// story builds a story with coverage covered/total (total 0: no coverage data) and test counts.
func story(key string, covered, total, passed, failed int) report.Story {
	s := report.Story{Key: key, Tests: report.TestCounts{Passed: passed, Failed: failed}, Status: report.StatusNoTests}
	if total > 0 {
		s.CoveragePercent = report.CoveragePercent(covered, total)
		s.CoveredMethods, s.TotalMethods = &covered, &total
		at := t0
		s.CoverageMeasuredAt = &at
	}
	if passed+failed > 0 {
		r := run
		s.LastRun = &r
		s.Status = report.StatusPassed
		if failed > 0 {
			s.Status = report.StatusFailed
		}
	}
	return s
}

func project(stories ...report.Story) *report.Project {
	return &report.Project{ID: "shop", Name: "Shop", Stories: stories, DataAsOf: t1}
}

// pushAll pushes every item and returns the results and errors by key.
func pushAll(t testing.TB, tg *ado.Target, items []push.Item) (map[string]push.Result, map[string]error) {
	t.Helper()
	res, errs := map[string]push.Result{}, map[string]error{}
	for _, it := range items {
		r, err := tg.Push(context.Background(), it)
		res[it.Key], errs[it.Key] = r, err
	}
	return res, errs
}

func plan(t testing.TB, tg *ado.Target, p *report.Project) []push.Item {
	t.Helper()
	items, err := tg.Plan(context.Background(), p)
	if err != nil {
		t.Fatalf("Plan: %v", err)
	}
	return items
}
