package app

import (
	"context"
	"io"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/sirupsen/logrus"

	"github.com/covsync/covsync/config"
	"github.com/covsync/covsync/connectors/confluence/confluencesim"
	"github.com/covsync/covsync/sync/push"
	"github.com/covsync/covsync/sync/report"
	"github.com/covsync/covsync/templates"
)

func confluenceDeps(t *testing.T, siteURL, parent string) deps {
	t.Helper()
	l := logrus.New()
	l.SetOutput(io.Discard)
	c := &config.Config{
		Jira: []config.Jira{{Conn: config.Conn{Name: "acme"}, URL: "https://acme.atlassian.net"}},
		Confluence: []config.Confluence{{
			Conn: config.Conn{Name: "acme-wiki", Auth: config.Auth{Type: "basic", Email: "bot@acme.example", Token: config.NewSecret("tok")}},
			URL:  siteURL, OnManualEdit: "skip",
		}},
		Projects: []config.Project{
			{ID: "shop", Jira: &config.ProjectJira{Target: "acme", ProjectKey: "SHOP"},
				Confluence: &config.ProjectConfluence{Target: "acme-wiki", Space: "QA", ParentPageID: parent}},
			{ID: "web"},
			{ID: "lost", Confluence: &config.ProjectConfluence{Target: "nope", Space: "QA", ParentPageID: parent}},
		},
	}
	return deps{cfg: c, log: l, templates: templates.Set{}, userAgent: "covsync/test"}
}

func TestConfluenceWiring(t *testing.T) {
	sim := confluencesim.New(confluencesim.Options{Email: "bot@acme.example", Token: "tok"})
	home := sim.AddSpace("QA", "Quality")
	srv := httptest.NewServer(sim)
	defer srv.Close()
	d := confluenceDeps(t, srv.URL+"/wiki", home)
	ctx := context.Background()

	ts, err := confluenceTargets(ctx, d, d.cfg.Projects[0])
	if err != nil || len(ts) != 1 || ts[0].Name() != "confluence:acme-wiki/QA/shop" || ts[0].Kind() != push.TargetConfluence {
		t.Fatalf("targets %v, err %v", ts, err)
	}
	if ts, err := confluenceTargets(ctx, d, d.cfg.Projects[1]); err != nil || len(ts) != 0 {
		t.Errorf("a project without a confluence mapping got targets %v, err %v", ts, err)
	}
	if _, err := confluenceTargets(ctx, d, d.cfg.Projects[2]); err == nil || !strings.Contains(err.Error(), `projects[lost].confluence.target: no confluence entry named "nope"`) {
		t.Errorf("err = %v", err)
	}

	probes := confluenceProbes(d)
	if len(probes) != 2 || probes[0].name != "confluence:acme-wiki/QA/shop" {
		t.Fatalf("probes %+v", probes)
	}
	if err := probes[0].run(ctx); err != nil {
		t.Errorf("probe: %v", err)
	}
	if err := probes[1].run(ctx); err == nil {
		t.Error("the probe of a mapping to a missing site passed")
	}
	if w := sim.Writes(); len(w) != 0 {
		t.Errorf("probes wrote %d requests", len(w))
	}

	// The Jira mapping makes story keys links to the Jira site.
	tg, _ := confluenceTarget(d, d.cfg.Projects[0])
	pages, err := tg.Pages(jiraLinkedProject())
	if err != nil || !strings.Contains(string(pages[0].Body), `href="https://acme.atlassian.net/browse/SHOP-1"`) {
		t.Errorf("page %s, err %v", pages[0].Body, err)
	}
}

func jiraLinkedProject() *report.Project {
	return &report.Project{ID: "shop", Name: "Shop", Stories: []report.Story{{Key: "SHOP-1", Status: report.StatusNoTests}}}
}

func TestProjectsOnOneConfluenceSiteShareOneClient(t *testing.T) {
	d := confluenceDeps(t, "http://127.0.0.1:9/wiki", "98765")
	d.clients = newClients()
	d.cfg.Projects = append(d.cfg.Projects, config.Project{ID: "web",
		Confluence: &config.ProjectConfluence{Target: "acme-wiki", Space: "WEB"}})
	for _, p := range []config.Project{d.cfg.Projects[0], d.cfg.Projects[3]} {
		if _, err := confluenceTarget(d, p); err != nil {
			t.Fatal(err)
		}
	}
	a, _ := confluenceHTTPClient(d, d.cfg.Confluence[0])
	b, _ := confluenceHTTPClient(d, d.cfg.Confluence[0])
	if n := d.clients.count(push.TargetConfluence); n != 1 || a != b {
		t.Errorf("%d clients for one site, want 1 shared", n)
	}
}
