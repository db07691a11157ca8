package app

import (
	"context"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/sirupsen/logrus"

	"github.com/covsync/covsync/config"
	"github.com/covsync/covsync/connectors/httpx"
	"github.com/covsync/covsync/connectors/jira/jirasim"
	"github.com/covsync/covsync/templates"
)

func jiraTestDeps(t *testing.T, token string) (deps, *jirasim.Sim) {
	t.Helper()
	sim := jirasim.New(jirasim.Options{Email: "bot@acme.example", Token: "right-token"})
	srv := sim.Start()
	t.Cleanup(srv.Close)
	sim.AddField("Test Coverage", jirasim.KindNumber)
	sim.AddProject("SHOP", "Shop")
	off := false
	cfg := &config.Config{
		Jira: []config.Jira{{Conn: config.Conn{Name: "acme", RequestsPerSecond: 100,
			Auth: config.Auth{Type: "basic", Email: "bot@acme.example", TokenEnv: "JIRA_TOKEN", Token: config.NewSecret(token)}},
			URL: srv.URL, Fields: config.JiraFields{CoveragePercent: "Test Coverage"}}},
		Projects: []config.Project{
			{ID: "shop", Jira: &config.ProjectJira{Target: "acme", ProjectKey: "SHOP", LinkedRuns: true}},
			{ID: "core", Jira: &config.ProjectJira{Target: "acme", ProjectKey: "CORE", Fields: &off}},
			{ID: "web"},
		},
	}
	log := logrus.New()
	log.SetOutput(io.Discard)
	d := deps{cfg: cfg, log: log, templates: templates.Set{}, userAgent: "covsync/test"}
	d.clients = newClients()
	return d, sim
}

func TestJiraTargetsFollowTheProjectMapping(t *testing.T) {
	d, _ := jiraTestDeps(t, "right-token")
	tests := []struct {
		project int
		want    string
	}{
		{0, "jira:acme/SHOP linked-runs:acme/SHOP"},
		{1, ""}, // fields off, no linked runs
		{2, ""}, // no jira mapping
	}
	for _, tt := range tests {
		ts, err := jiraTargets(context.Background(), d, d.cfg.Projects[tt.project])
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, x := range ts {
			names = append(names, x.Name())
		}
		if got := strings.Join(names, " "); got != tt.want {
			t.Errorf("project %s: targets %q, want %q", d.cfg.Projects[tt.project].ID, got, tt.want)
		}
	}
	bad := config.Project{ID: "x", Jira: &config.ProjectJira{Target: "nope", ProjectKey: "X"}}
	if _, err := jiraTargets(context.Background(), d, bad); err == nil || !strings.Contains(err.Error(), `"nope"`) {
		t.Errorf("unknown site: %v", err)
	}
}

func TestJiraProbes(t *testing.T) {
	t.Run("a reachable site with its fields and projects passes, read-only", func(t *testing.T) {
		d, sim := jiraTestDeps(t, "right-token")
		sim.AddProject("CORE", "Core")
		ps := jiraProbes(d)
		if len(ps) != 1 || ps[0].name != "jira:acme" || ps[0].what != "myself, fields, project SHOP, CORE" {
			t.Fatalf("probes %+v", ps)
		}
		if err := ps[0].run(context.Background()); err != nil {
			t.Fatal(err)
		}
		for _, r := range sim.Requests() {
			if r.Method != "GET" {
				t.Errorf("a probe wrote: %s %s", r.Method, r.Path)
			}
		}
	})
	t.Run("a missing project fails naming it", func(t *testing.T) {
		d, _ := jiraTestDeps(t, "right-token")
		err := jiraProbes(d)[0].run(context.Background())
		if err == nil || !strings.Contains(err.Error(), "CORE") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("a wrong token fails naming the credential only", func(t *testing.T) {
		d, _ := jiraTestDeps(t, "wrong-token")
		err := jiraProbes(d)[0].run(context.Background())
		if err == nil || !strings.Contains(err.Error(), "JIRA_TOKEN") || strings.Contains(err.Error(), "wrong-token") {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestEachJiraSiteCountsItsOwn429s(t *testing.T) {
	d, _ := jiraTestDeps(t, "right-token")
	second := d.cfg.Jira[0]
	second.Name = "beta"
	d.cfg.Jira = append(d.cfg.Jira, second)
	var names []string
	d.counters = func(client string) *httpx.Counters {
		names = append(names, client)
		return &httpx.Counters{}
	}
	for _, site := range d.cfg.Jira {
		if _, err := d.jiraSite(site); err != nil {
			t.Fatalf("jira site %s: %v", site.Name, err)
		}
	}
	// One counter name for two sites made /metrics report one site's 429s and drop the other's.
	if want := []string{"jira:acme", "jira:beta"}; !slices.Equal(names, want) {
		t.Errorf("429 counters are named %q; want %q", names, want)
	}
}
